"""MONAI's bundle properties: ``ConfigWorkflow(...).check_properties()`` is empty for every workflow."""

import pytest
import torch
from bundle_runs import TINY_NET, TINY_TRAIN, bundle_workflow, initialize_workflow


@pytest.fixture(scope="module")
def bundle_root(tmp_path_factory):
    return tmp_path_factory.mktemp("properties_bundle")


@pytest.mark.parametrize(
    "names, workflow_type, tiny",
    [
        (("train.json",), "train", TINY_TRAIN),
        (("train.json", "evaluate.json"), "train", TINY_TRAIN),
        (("inference.json",), "infer", TINY_NET),
    ],
    ids=["train", "train+evaluate", "inference"],
)
def test_check_properties_is_empty(bundle_root, names, workflow_type, tiny):
    overrides = {
        "bundle_root": str(bundle_root),
        "synthetic_num_cases": 3,
        "synthetic_shape": [16, 16, 16],
        **tiny,
    }
    workflow = bundle_workflow(names, workflow_type, **overrides)
    if "evaluate.json" in names or "inference.json" in names:
        # initialize checks the checkpoint exists; an untrained one is enough for the properties
        (bundle_root / "models").mkdir(exist_ok=True)
        torch.save(workflow.parser.get_parsed_content("network_def").state_dict(), bundle_root / "models" / "model.pt")
    initialize_workflow(workflow)
    assert workflow.check_properties() == []
    # the required properties resolve to real objects, not just ids
    if workflow_type == "train":
        assert workflow.max_epochs == 1
        assert len(workflow.train_dataset_data) >= 1 and len(workflow.val_dataset_data) >= 1
    else:
        assert len(workflow.dataset_data) == 3
