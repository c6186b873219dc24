"""Shared label handling of the transforms: convention lookup and value checks with clear errors."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor, get_track_meta
from monai.utils import convert_to_tensor

from scripts.data.label_conventions import LabelConvention, get_convention


def where(case: object, key: Hashable | None = None) -> str:
    parts = ([f"case {case!r}"] if case is not None else []) + ([f"key {key!r}"] if key is not None else [])
    return f" ({', '.join(parts)})" if parts else ""


def convention_of(
    d: Mapping, convention_key: str | None, default: str | None, allowed: Sequence[str], transform: str
) -> LabelConvention:
    """The convention named by ``d[convention_key]`` (else ``default``), which must be one of ``allowed``."""
    name = d.get(convention_key) if convention_key else None
    name = name if name is not None else default
    case = d.get("case")
    if name is None:
        raise ValueError(
            f"{transform}: no label convention{where(case)}: the data has no {convention_key!r} key and no default "
            f"convention was given."
        )
    convention = get_convention(name, case)
    if convention.name not in allowed:
        raise ValueError(f"{transform}: convention {convention.name!r}{where(case)} is not one of {list(allowed)}.")
    return convention


def as_label_tensor(label: NdarrayOrTensor) -> torch.Tensor:
    """Tensor view of a label map (MetaTensor kept when meta tracking is on)."""
    return convert_to_tensor(label, track_meta=get_track_meta())


def check_values(label: torch.Tensor, convention: LabelConvention, case: object = None, key: object = None) -> None:
    """ValueError naming the values of ``label`` outside ``convention`` (non-integral values included)."""
    allowed = torch.tensor(convention.values, dtype=torch.float64, device=label.device)
    plain = label.as_tensor() if isinstance(label, MetaTensor) else torch.as_tensor(label)
    values = torch.unique(plain.detach())
    outside = values[~torch.isin(values.to(torch.float64), allowed)]
    if outside.numel():
        shown = ", ".join(f"{v:g}" for v in outside[:10].double().tolist()) + (", ..." if outside.numel() > 10 else "")
        raise ValueError(
            f"label values [{shown}]{where(case, key)} outside the {convention.name} convention "
            f"{{{', '.join(map(str, convention.values))}}}."
        )
