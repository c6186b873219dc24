"""Data layer of the bundle: datalists from the real data set layouts, label conventions, splits, validation,
synthetic data sets and a class-frequency report."""

from .conventions import CONVENTIONS, LabelConvention, get_convention
from .datalist import build_datalist
from .split import split_datalist, train_val_datalists
from .validate import check_datalist

__all__ = [
    "CONVENTIONS",
    "LabelConvention",
    "build_datalist",
    "check_datalist",
    "get_convention",
    "split_datalist",
    "train_val_datalists",
]
