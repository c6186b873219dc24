"""``python -m tools.zoo package --flavour brats --out dist`` | ``python -m tools.zoo check PATH``."""

import fire

from . import check, package

if __name__ == "__main__":
    fire.Fire({"package": package, "check": check})
