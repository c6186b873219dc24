"""Model-zoo packaging of this repository: ``python -m tools.zoo package --flavour brats|kits19 --out dist``,
``python -m tools.zoo check <zip or bundle folder>``. See docs/README.md."""

from .checks import check_archive, check_bundle_dir, check_metadata
from .flavours import FLAVOURS, Flavour, get_flavour
from .package import package

__all__ = [
    "FLAVOURS",
    "Flavour",
    "check",
    "check_archive",
    "check_bundle_dir",
    "check_metadata",
    "get_flavour",
    "package",
]


def check(path: str, schema: str | None = None) -> str:
    """Check a bundle archive (``.zip``) or an extracted bundle folder; return a one-line verdict."""
    meta = check_bundle_dir(path, schema) if not str(path).endswith(".zip") else check_archive(path, schema)
    return f"{path}: bundle {meta['name']} version {meta['version']} passed the zoo checks"
