"""Load checkpoints with ``weights_only=True`` and turn every way a file can be damaged into one clear error."""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any

import torch


def _corrupt(path: str, detail: str) -> ValueError:
    return ValueError(
        f"checkpoint {path} is truncated or corrupt ({detail}); it cannot be loaded. "
        "Restore it from a backup, or delete it (training then starts from scratch)."
    )


def load_checkpoint(path: str | os.PathLike, map_location: Any = None) -> Any:
    """``torch.load(path, weights_only=True)`` that names ``path`` in every error.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is truncated, not a PyTorch checkpoint, fails the CRC-32 check of its zip records
            (bit rot in the tensor data, which ``torch.load`` alone does not detect), or holds objects other than
            tensors and plain containers (refused by ``weights_only=True``: loading them could run arbitrary code).
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if zipfile.is_zipfile(path):  # torch.save's format since 1.6; older pickle-only files are loaded as they are
        try:
            with zipfile.ZipFile(path) as archive:
                bad_record = archive.testzip()
        except PermissionError:
            raise  # names the file; not damage
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise _corrupt(path, f"{type(err).__name__}: {err}") from err
        if bad_record is not None:
            raise _corrupt(path, f"CRC-32 mismatch in record {bad_record!r}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError:
        raise
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err) and zipfile.is_zipfile(path):
            raise ValueError(
                f"checkpoint {path} holds objects other than tensors and plain containers, which "
                "torch.load(weights_only=True) refuses to unpickle (they could run code). Save state_dicts only; "
                f"if you trust the file, convert it to a state_dict yourself. Detail: {str(err).splitlines()[-1]}"
            ) from err
        raise _corrupt(path, f"{type(err).__name__}: {str(err).splitlines()[0]}") from err
    except Exception as err:
        # miniz "failed finding central directory", EOF or a broken stack in the pickle, EINVAL past the end, ...
        raise _corrupt(path, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}") from err


def require_checkpoint(path: str, what: str = "checkpoint") -> str:
    """Return ``path`` after checking it exists and loads (``initialize`` of evaluate/inference: fail fast).

    Raises FileNotFoundError (naming ``path`` and ``what`` it should hold) or the ValueError of
    :func:`load_checkpoint`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {os.path.abspath(path)}")
    load_checkpoint(path, map_location="cpu")
    return path
