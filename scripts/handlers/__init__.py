"""ignite/MONAI engine handlers of the bundle's configs that are neither checkpointing (``scripts.checkpointing``)
nor reports (``scripts.reports``): the terminal progress bar and the loss weight schedule of ``gdl_boundary``."""

from .loss_schedule import LossRebalanceHandler
from .progress_bar import ProgressBarHandler

__all__ = ["LossRebalanceHandler", "ProgressBarHandler"]
