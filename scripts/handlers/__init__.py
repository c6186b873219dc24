"""ignite/MONAI engine handlers of the bundle's configs that are neither checkpointing (``scripts.checkpointing``)
nor reports (``scripts.reports``): the terminal progress bar."""

from .progress_bar import ProgressBarHandler

__all__ = ["ProgressBarHandler"]
