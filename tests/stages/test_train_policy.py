import json

import pytest
import torch
from safetensors.numpy import load_file

from ptgm_cli.artifacts import load_policy
from ptgm_cli.configs import TrainPolicyConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.models.policy import POLICY_FILE, behaviour_cloning
from ptgm_cli.models.training import fit, resolve_device
from ptgm_cli.stages import train_policy

pytestmark = pytest.mark.slow


def test_policy_artifact(pretrained_workspace, held_out_episodes, tiny_training):
    policy, artifact = load_policy(pretrained_workspace, "default")
    manifest = artifact.manifest
    assert manifest.parent("dataset").name == "default"
    assert len(manifest.shapes.state_names) == 30 and len(manifest.shapes.goal_names) == 21
    assert manifest.config["epochs"] == tiny_training["epochs"]
    assert manifest.metrics["validation_nll"] > -100
    assert manifest.metrics["split"]["validation_episodes"] == held_out_episodes
    assert manifest.metrics["device"] == resolve_device("auto").type
    history = [json.loads(line) for line in artifact.file("metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in history] == [1, 2]
    best = min(record["validation/loss"] for record in history)
    assert manifest.metrics["validation_nll"] == best  # the best checkpoint is the one kept
    assert any(path.name.startswith("events.out.tfevents")
               for path in artifact.file("tensorboard").iterdir())


def test_same_seed_same_weights(pretrained_workspace, tiny_training):
    for name in ("again", "other-seed"):
        config = TrainPolicyConfig(name=name, seed=0 if name == "again" else 1, **tiny_training)
        train_policy.run(config, pretrained_workspace)
    weights = {name: load_file(pretrained_workspace.path("policy", name) / POLICY_FILE)
               for name in ("default", "again", "other-seed")}
    assert weights["default"].keys() == weights["again"].keys()
    for key, value in weights["default"].items():
        assert (weights["again"][key] == value).all(), key
    assert any((weights["other-seed"][key] != value).any()
               for key, value in weights["default"].items())


def test_cli_train_policy(pretrained_workspace, run_cli):
    result = run_cli(pretrained_workspace, "train-policy", "--name", "cli", "--epochs", "1",
                     "--hidden", "16", "--state-features", "obs59", "--goal-dims", "qpos30",
                     "--lr-schedule", "cosine")
    assert result.returncode == 0, result.stderr
    assert "validation NLL" in result.stdout
    policy, artifact = load_policy(pretrained_workspace, "cli")
    assert (policy.state_dim, policy.goal_dim) == (59, 30)
    assert artifact.manifest.config["lr_schedule"] == "cosine"


def file_bytes(folder):
    """Every file of an artifact, to check that it was left as it was."""
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def poisoned_fit(*args, **kwargs):
    """The real training, then one weight turned to NaN, as a diverged run leaves it."""
    result = fit(*args, **kwargs)
    with torch.no_grad():
        args[0].mlp.head.weight[0, 0] = float("nan")
    return result


def nan_loss(model, batch):
    return {name: value * float("nan") for name, value in behaviour_cloning(model, batch).items()}


@pytest.mark.parametrize("target, replacement, match", [
    ("fit", poisoned_fit, "policy 'default': its weights are not finite \\(mlp.head.weight\\)"),
    ("behaviour_cloning", nan_loss, "the validation loss is not finite"),
])
def test_non_finite_policy_is_refused_and_the_existing_one_kept(
        pretrained_workspace, tiny_training, monkeypatch, target, replacement, match):
    published = pretrained_workspace.path("policy", "default")
    before = file_bytes(published)
    monkeypatch.setattr(train_policy, target, replacement)
    with pytest.raises(PtgmError, match=match) as error:
        train_policy.run(TrainPolicyConfig(**tiny_training), pretrained_workspace, force=True)
    assert "\n" not in str(error.value) and "lower --lr" in str(error.value)
    assert file_bytes(published) == before
    assert not list(published.parent.glob(".staging-*"))
