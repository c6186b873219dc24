"""key_metric_name chooses the validation metric that selects models/model.pt: region-wise or lesion-wise Dice."""

import pytest
from bundle_runs import CONFIGS
from monai.bundle import ConfigParser

from scripts.metrics import BraTSDice, BraTSLesionwise


def _key_metric(name=None):
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    if name is not None:
        parser["key_metric_name"] = name
    return parser.get_parsed_content("validate#key_metric")


def test_default_key_metric_is_the_region_wise_dice():
    (name, handler), *rest = _key_metric().items()
    assert not rest and name == "val_mean_dice" and isinstance(handler, BraTSDice)


def test_lesion_wise_dice_can_be_the_key_metric():
    (name, handler), *rest = _key_metric("val_lesion_dice").items()
    assert not rest and name == "val_lesion_dice" and isinstance(handler, BraTSLesionwise)
    assert handler.metric_fn.kind == "dice"


def test_unknown_key_metric_is_an_error_naming_the_choices():
    with pytest.raises(RuntimeError) as e:  # MONAI wraps the component's error
        _key_metric("val_dice_rc")
    cause = e.value.__cause__
    assert isinstance(cause, ValueError)
    assert "'val_dice_rc' is not one of the validation metrics ['val_lesion_dice', 'val_mean_dice']" in str(cause)
