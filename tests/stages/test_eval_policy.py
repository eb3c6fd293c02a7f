import json

import pytest

from ptgm_cli.configs import EvalPolicyConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.tasks import SUBTASKS
from ptgm_cli.stages import eval_policy

pytestmark = pytest.mark.slow


def test_cli_eval_policy(pretrained_workspace, run_cli, held_out_episodes):
    result = run_cli(pretrained_workspace, "eval-policy", "--states", "6",
                     "--subtask-trials", "2", "--subtask-steps", "5")
    assert result.returncode == 0, result.stderr
    assert "goal distance ratio" in result.stdout
    artifact = pretrained_workspace.load("eval", "policy-default")
    metrics = artifact.manifest.metrics
    assert metrics["states"] == 6
    assert metrics["ratio_q1"] <= metrics["ratio_median"] <= metrics["ratio_q3"]
    assert "zero_action_ratio_median" in metrics
    results = json.loads(artifact.file("results.json").read_text())
    assert len(results["distance_ratios"]["zero action"]) == 6
    held_out_rows = {31 * episode + step for episode in held_out_episodes for step in range(31)}
    assert set(results["start_rows"]) <= held_out_rows  # episodes of 30 steps, 31 states


def test_eval_needs_the_policy_training_dataset(pretrained_workspace, publish_random_dataset):
    publish_random_dataset(pretrained_workspace, name="other")
    with pytest.raises(PtgmError, match="not trained on dataset 'other'.*--dataset default"):
        eval_policy.run(EvalPolicyConfig(dataset="other", name="policy-other"),
                        pretrained_workspace)


def test_the_prior_rollouts_count_every_subtask_from_reset(pretrained_workspace, run_cli):
    result = run_cli(pretrained_workspace, "eval-policy", "--name", "health", "--states", "2",
                     "--subtask-trials", "1", "--subtask-steps", "2", "--prior-episodes", "3",
                     "--episode-steps", "20")
    assert result.returncode == 0, result.stderr
    assert "prior's codes" in result.stdout
    artifact = pretrained_workspace.load("eval", "health")
    rollouts = artifact.manifest.metrics["prior_rollouts"]
    assert rollouts["episodes"] == 3
    assert set(rollouts["success"]) == set(SUBTASKS)
    assert all(0.0 <= rate <= 1.0 for rate in rollouts["success"].values())
    assert artifact.manifest.parent("prior").name == "default"


def test_no_prior_rollouts_without_episodes(pretrained_workspace):
    eval_policy.run(EvalPolicyConfig(name="no-rollouts", states=2, subtask_trials=1,
                                     subtask_steps=2, prior_episodes=0), pretrained_workspace)
    artifact = pretrained_workspace.load("eval", "no-rollouts")
    assert "prior_rollouts" not in artifact.manifest.metrics
    assert artifact.manifest.parent("prior") is None
