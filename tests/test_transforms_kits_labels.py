"""KiTSLabelsd: KiTS19 labels kept, KiTS21/23 cysts mapped as documented, bad values named."""

import pytest
import torch
from monai.data import MetaTensor

from scripts.transforms import KiTSLabelsd


def flat(x):
    return torch.as_tensor(x).flatten().tolist()


def test_kits19_identity_keeps_meta():
    label = MetaTensor(
        torch.tensor([0.0, 1, 2, 1]).reshape(1, 4, 1, 1), affine=torch.diag(torch.tensor([-3.0, 1, 1, 1]))
    )
    out = KiTSLabelsd()({"label": label, "convention": "kits19"})["label"]
    assert flat(out) == [0, 1, 2, 1]
    assert isinstance(out, MetaTensor) and out.affine[0, 0] == -3


@pytest.mark.parametrize("cyst_as, expected", [(1, [0, 1, 2, 1]), (0, [0, 1, 2, 0]), (2, [0, 1, 2, 2])])
def test_kits23_cyst_mapping(cyst_as, expected):
    label = torch.tensor([0, 1, 2, 3], dtype=torch.uint8).reshape(1, 4, 1, 1)
    out = KiTSLabelsd(cyst_as=cyst_as)({"label": label, "convention": "kits23"})["label"]
    assert flat(out) == expected and out.dtype == torch.uint8


def test_kits19_rejects_cyst_label_naming_case():
    label = torch.tensor([0.0, 3, 1]).reshape(1, 3, 1, 1)
    with pytest.raises(ValueError, match=r"\[3\] \(case 'case_00012', key 'label'\) outside the kits19 convention"):
        KiTSLabelsd()({"label": label, "convention": "kits19", "case": "case_00012"})


def test_kits23_rejects_unknown_values():
    with pytest.raises(ValueError, match=r"\[5, 7\].*kits23"):
        KiTSLabelsd()({"label": torch.tensor([0.0, 5, 7]).reshape(1, 3, 1, 1), "convention": "kits23"})


def test_default_convention_and_errors():
    label = torch.tensor([0.0, 2]).reshape(1, 2, 1, 1)
    assert flat(KiTSLabelsd(convention_key=None, convention="kits19")({"label": label})["label"]) == [0, 2]
    with pytest.raises(ValueError, match=r"convention 'brats2021'.*not one of \['kits19', 'kits23'\]"):
        KiTSLabelsd()({"label": label, "convention": "brats2021"})
    with pytest.raises(ValueError, match="cyst_as"):
        KiTSLabelsd(cyst_as=3)
