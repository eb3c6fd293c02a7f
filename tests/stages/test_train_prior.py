import pytest
from safetensors.numpy import load_file

from ptgm_cli.artifacts import load_prior
from ptgm_cli.configs import TrainPriorConfig
from ptgm_cli.models.prior import PRIOR_FILE
from ptgm_cli.stages import train_prior

pytestmark = pytest.mark.slow


def test_prior_artifact(pretrained_workspace, held_out_episodes):
    prior, artifact = load_prior(pretrained_workspace, "default")
    manifest = artifact.manifest
    assert [parent.kind for parent in manifest.parents] == ["dataset", "codebook"]
    assert manifest.shapes.n_codes == prior.n_codes == 6
    metrics = manifest.metrics
    assert 0 <= metrics["validation_top1"] <= metrics["validation_top5"] <= 1
    assert metrics["split"]["validation_episodes"] == held_out_episodes


def test_same_seed_same_weights(pretrained_workspace, tiny_training):
    train_prior.run(TrainPriorConfig(name="again", **tiny_training), pretrained_workspace)
    first, again = (load_file(pretrained_workspace.path("prior", name) / PRIOR_FILE)
                    for name in ("default", "again"))
    assert all((again[key] == value).all() for key, value in first.items())


def test_cli_train_prior_with_euclidean_labels(pretrained_workspace, run_cli):
    result = run_cli(pretrained_workspace, "train-prior", "--name", "cli", "--epochs", "1",
                     "--hidden", "16", "--assign", "euclidean")
    assert result.returncode == 0, result.stderr
    assert "validation top-5" in result.stdout
    manifest = pretrained_workspace.read_manifest("prior", "cli")
    assert manifest.config["assign"] == "euclidean"


def test_cli_train_prior_without_codebook_names_the_fix(dataset_workspace, run_cli):
    result = run_cli(dataset_workspace, "train-prior", "--codebook", "missing")
    assert result.returncode == 1 and "run `ptgm build-codebook` first" in result.stderr
