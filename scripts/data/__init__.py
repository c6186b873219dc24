"""Data layer of the bundle: datalists from the real data set layouts, label conventions, splits, validation,
synthetic data sets (``scripts.data.synthetic``) and a class-frequency report (``scripts.data.class_frequency``)."""

from .datalist import build_datalist
from .label_conventions import CONVENTIONS, LabelConvention, get_convention
from .split import split_datalist, train_val_datalists

__all__ = [
    "CONVENTIONS",
    "LabelConvention",
    "build_datalist",
    "check_datalist",
    "get_convention",
    "split_datalist",
    "train_val_datalists",
]


def __getattr__(name: str):
    # Imported on first use, so that ``python -m scripts.data.validate`` does not find the module pre-imported.
    if name == "check_datalist":
        from .validate import check_datalist

        return check_datalist
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
