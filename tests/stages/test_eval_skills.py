"""`ptgm eval-skills` in the real simulator, through the CLI."""

import json

import pytest

from ptgm_cli.configs import EvalSkillsConfig, TrainSkillsConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.stages import eval_skills, train_skills

pytestmark = pytest.mark.slow

TINY = {"epochs": 1, "skill_length": 5, "latent_dim": 3, "hidden": 16, "batch_size": 32}


@pytest.mark.parametrize("decoder", ["closed-loop", "open-loop"])
def test_skills_replay_held_out_segments_and_act_from_reset(dataset_workspace, run_cli,
                                                            decoder):
    workspace = dataset_workspace
    train_skills.run(TrainSkillsConfig(name=decoder, decoder=decoder, **TINY), workspace)
    result = run_cli(workspace, "eval-skills", "--skills", decoder, "--name", f"eval-{decoder}",
                     "--segments", "6", "--prior-episodes", "2", "--episode-steps", "20")
    assert result.returncode == 0, result.stderr
    assert f"eval-skills '{decoder}'" in result.stdout
    artifact = workspace.load("eval", f"eval-{decoder}")
    metrics = artifact.manifest.metrics
    assert {p.kind for p in artifact.manifest.parents} == {"skills", "dataset"}
    assert metrics["segments"] == 6 and metrics["action_mse"] >= 0
    # The dataset's episodes recorded the actions they executed: replaying them from the
    # restored state ends near where the demonstration ended, which zero actions do not.
    assert metrics["demonstration"]["ratio_median"] < 0.2 * metrics["zero action"]["ratio_median"]
    for rollouts in (metrics["prior_rollouts"], metrics["zero_action_rollouts"]):
        assert rollouts["episodes"] == 2 and "microwave" in rollouts["success"]
    results = json.loads(artifact.file("results.json").read_text())
    assert len(results["distance_ratios"]["skill"]) == 6


def test_skills_of_another_dataset_are_refused(dataset_workspace, publish_random_dataset):
    publish_random_dataset(dataset_workspace, name="other")
    train_skills.run(TrainSkillsConfig(name="on-default", **TINY), dataset_workspace)
    with pytest.raises(PtgmError, match="were not trained on dataset 'other'"):
        eval_skills.run(EvalSkillsConfig(skills="on-default", dataset="other"), dataset_workspace)
