from tests.stages.conftest import dataset_workspace, pretrained_workspace  # noqa: F401
