"""Label conventions of the supported data sets: voxel values, class names and evaluation regions.

Each datalist entry carries a ``"convention"`` key naming one of :data:`CONVENTIONS`; the transforms, the data
validation and the class-frequency report all read the label values and regions from here.

Sources of the label values:

- ``brats2021``: BraTS 2017-2022 (also used for BraTS 2020): 1 necrotic / non-enhancing tumour core (NCR/NET),
  2 peritumoral oedema (ED), 4 GD-enhancing tumour (ET). Regions as evaluated by the challenge:
  TC = {1, 4}, WT = {1, 2, 4}, ET = {4} (Menze et al., IEEE TMI 2015; Bakas et al., arXiv:1811.02629).
- ``brats2023``: BraTS 2023 glioma: 1 NCR, 2 ED (SNFH), 3 ET; TC = {1, 3}, WT = {1, 2, 3}, ET = {3}.
- ``brats2024_gli``: BraTS 2024 post-treatment glioma (also the 2024 metastases, whose official evaluation config
  has the same groups): 1 non-enhancing tumour core (NETC), 2 surrounding non-enhancing FLAIR hyperintensity
  (SNFH), 3 enhancing tissue (ET), 4 resection cavity (RC); TC = {1, 3}, WT = {1, 2, 3}, ET = {3}, RC = {4}
  (the groups of ``config_gli.yaml`` of the official ``brats-evaluation`` package; de Verdier et al.,
  arXiv:2405.18368).
- ``brats2024_ped``: BraTS 2024 paediatric tumours: 1 enhancing tumour (ET), 2 non-enhancing tumour (NET),
  3 cystic component (CC), 4 oedema (ED); TC = {1, 2, 3}, WT = {1, 2, 3, 4}, ET = {1} (``config_ped.yaml``).
  The 2024 meningioma (pre-operative), Sub-Saharan Africa and GoAT data use labels 1, 2, 3 as ``brats2023``.
- ``msd_task01``: Medical Segmentation Decathlon Task01_BrainTumour ``dataset.json``: 1 oedema,
  2 non-enhancing tumour, 3 enhancing tumour; TC = {2, 3}, WT = {1, 2, 3}, ET = {3}.
- ``kits19``: KiTS19 (Heller et al., Med. Image Anal. 2021): 1 kidney, 2 tumour; challenge regions
  kidney-and-tumour = {1, 2}, tumour = {2}.
- ``kits23``: KiTS21 / KiTS23: 1 kidney, 2 tumour, 3 cyst; challenge regions kidney-and-masses = {1, 2, 3},
  masses = {2, 3}, tumour = {2}.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelConvention:
    name: str
    classes: dict[int, str]
    """Voxel value -> class name, background included; the only values a label map may contain."""
    regions: dict[str, tuple[int, ...]]
    """Evaluation region name -> label values it unites (in the order the challenge reports them)."""
    description: str

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(sorted(self.classes))


CONVENTIONS: dict[str, LabelConvention] = {
    c.name: c
    for c in (
        LabelConvention(
            "brats2021",
            {0: "background", 1: "NCR/NET", 2: "ED", 4: "ET"},
            {"TC": (1, 4), "WT": (1, 2, 4), "ET": (4,)},
            "BraTS 2017-2022 (2020 and 2021 included)",
        ),
        LabelConvention(
            "brats2023",
            {0: "background", 1: "NCR", 2: "ED", 3: "ET"},
            {"TC": (1, 3), "WT": (1, 2, 3), "ET": (3,)},
            "BraTS 2023 glioma",
        ),
        LabelConvention(
            "brats2024_gli",
            {0: "background", 1: "NETC", 2: "SNFH", 3: "ET", 4: "RC"},
            {"TC": (1, 3), "WT": (1, 2, 3), "ET": (3,), "RC": (4,)},
            "BraTS 2024 post-treatment glioma (and metastases)",
        ),
        LabelConvention(
            "brats2024_ped",
            {0: "background", 1: "ET", 2: "NET", 3: "CC", 4: "ED"},
            {"TC": (1, 2, 3), "WT": (1, 2, 3, 4), "ET": (1,)},
            "BraTS 2024 paediatric tumours",
        ),
        LabelConvention(
            "msd_task01",
            {0: "background", 1: "oedema", 2: "non-enhancing", 3: "enhancing"},
            {"TC": (2, 3), "WT": (1, 2, 3), "ET": (3,)},
            "Medical Segmentation Decathlon Task01_BrainTumour",
        ),
        LabelConvention(
            "kits19",
            {0: "background", 1: "kidney", 2: "tumour"},
            {"kidney_and_tumour": (1, 2), "tumour": (2,)},
            "KiTS19",
        ),
        LabelConvention(
            "kits23",
            {0: "background", 1: "kidney", 2: "tumour", 3: "cyst"},
            {"kidney_and_masses": (1, 2, 3), "masses": (2, 3), "tumour": (2,)},
            "KiTS21 / KiTS23",
        ),
    )
}

CONVENTION_META_KEY = "label_convention"
"""Metadata key of a label MetaTensor recording the convention it had before a transform mapped its values."""
BRATS_CONVENTIONS = ("brats2021", "brats2023", "brats2024_gli", "brats2024_ped", "msd_task01")
KITS_CONVENTIONS = ("kits19", "kits23")


def get_convention(name: object, case: str | None = None) -> LabelConvention:
    """Return the convention called ``name``; ValueError naming the value (and the case) otherwise."""
    if isinstance(name, str) and name in CONVENTIONS:
        return CONVENTIONS[name]
    where = f" (case {case!r})" if case else ""
    raise ValueError(f"unknown label convention {name!r}{where}; expected one of {sorted(CONVENTIONS)}.")
