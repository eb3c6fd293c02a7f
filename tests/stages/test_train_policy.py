import json

import pytest
from safetensors.numpy import load_file

from ptgm_cli.artifacts import load_policy
from ptgm_cli.configs import TrainPolicyConfig
from ptgm_cli.models.policy import POLICY_FILE
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
                     "--hidden", "16", "--state-features", "obs59", "--goal-dims", "qpos30")
    assert result.returncode == 0, result.stderr
    assert "validation NLL" in result.stdout
    policy, _ = load_policy(pretrained_workspace, "cli")
    assert (policy.state_dim, policy.goal_dim) == (59, 30)
