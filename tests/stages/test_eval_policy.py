import json

import pytest

from ptgm_cli.configs import EvalPolicyConfig
from ptgm_cli.errors import PtgmError
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
