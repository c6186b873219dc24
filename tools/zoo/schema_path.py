"""``python -m tools.zoo.schema_path``: the path of MONAI's metadata schema for ``verify_metadata --filepath``
(a local copy, see :mod:`tools.zoo.meta_schema`, else downloaded into the user cache); offline without a copy, one
line saying where to put one, exit 1."""

from __future__ import annotations

import sys

from . import meta_schema as ms


def main() -> int:
    """Print the schema's path; one error line and exit 1 when there is no copy and no download."""
    try:
        print(ms.meta_schema())
    except Exception as err:  # noqa: BLE001  (any download failure: the user needs the one line, not a traceback)
        print(
            f"error: {err}"
            if isinstance(err, FileNotFoundError)
            else f"error: cannot download {ms.SCHEMA_NAME} "
            f"({type(err).__name__}); set {ms.ENV_VAR} to a copy or put one at {ms.SHARED_COPY}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
