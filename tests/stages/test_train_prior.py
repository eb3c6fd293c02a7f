import pytest
import torch
from safetensors.numpy import load_file

from ptgm_cli.artifacts import load_prior
from ptgm_cli.configs import TrainPriorConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.models.prior import PRIOR_FILE
from ptgm_cli.models.training import fit, resolve_device
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
    assert metrics["device"] == resolve_device("auto").type


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


def file_bytes(folder):
    """Every file of an artifact, to check that it was left as it was."""
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def test_non_finite_prior_is_refused_and_the_existing_one_kept(pretrained_workspace,
                                                               tiny_training, monkeypatch):
    def poisoned_fit(model, *args, **kwargs):
        result = fit(model, *args, **kwargs)
        with torch.no_grad():
            model.mlp.input_std.fill_(float("inf"))
        return result

    published = pretrained_workspace.path("prior", "default")
    before = file_bytes(published)
    monkeypatch.setattr(train_prior, "fit", poisoned_fit)
    with pytest.raises(PtgmError, match="prior 'default': its weights are not finite "
                                        "\\(mlp.input_std\\); lower --lr") as error:
        train_prior.run(TrainPriorConfig(**tiny_training), pretrained_workspace, force=True)
    assert "\n" not in str(error.value)
    assert file_bytes(published) == before
    assert not list(published.parent.glob(".staging-*"))
