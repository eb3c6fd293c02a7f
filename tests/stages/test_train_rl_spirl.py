"""`ptgm train-rl --algo spirl | spirl-cl` through the console entry point: skills trained by
`ptgm train-skills`, the run, its eval, the refusals, and an exact resume after kill -9."""


import pytest
from safetensors.torch import load_file

from ptgm_cli.configs import TrainRLConfig, applies_to
from ptgm_cli.rl.logger import read_metrics
from ptgm_cli.workspace import Workspace

pytestmark = pytest.mark.slow

SKILLS = ("--epochs", "1", "--hidden", "16", "--batch-size", "32", "--skill-length", "5",
          "--latent-dim", "3")


@pytest.fixture(scope="module")
def skills_workspace(tmp_path_factory, publish_random_dataset, run_cli) -> Workspace:
    """A dataset and both decoders' skills under their default names."""
    workspace = Workspace(tmp_path_factory.mktemp("skills_workspace"))
    publish_random_dataset(workspace)
    for name, decoder in (("default", "closed-loop"), ("open-loop", "open-loop")):
        result = run_cli(workspace, "train-skills", "--name", name, "--decoder", decoder, *SKILLS)
        assert result.returncode == 0, result.stderr
    return workspace


@pytest.mark.parametrize("algo", ["spirl", "spirl-cl"])
def test_spirl_trains_publishes_and_evaluates(skills_workspace, run_cli, tiny_rl_options, algo):
    workspace = skills_workspace
    result = run_cli(workspace, "train-rl", "--algo", algo, *tiny_rl_options)
    assert result.returncode == 0, result.stderr
    # The skill prior acts alone from reset before learning starts.
    assert "the prior's skills from reset, 10 episodes (played now): microwave" in " ".join(
        result.stderr.split())
    artifact = workspace.load("rl", f"{algo}-seed0")
    manifest = artifact.manifest
    # 2 envs x 150 steps, a skill every 5 steps.
    assert manifest.metrics["env_steps"] == 300 and manifest.metrics["transitions"] == 60
    assert manifest.metrics["gradient_steps"] == 50  # one per transition after warm-up
    assert [(p.kind, p.name) for p in manifest.parents] == [
        ("skills", "default" if algo == "spirl-cl" else "open-loop")]
    assert manifest.shapes.latent_dim == 3 and len(manifest.shapes.state_names) == 59
    assert set(manifest.config) == {
        name for name in TrainRLConfig.model_fields if algo in applies_to(name)} - {"resume"}
    assert manifest.config["target_divergence"] == 5.0
    records = read_metrics(artifact.file("metrics.jsonl"))
    names = set().union(*records)
    assert {"charts/kl", "charts/alpha", "eval/completed_subtasks"} <= names
    weights = load_file(str(artifact.file("weights.safetensors")))
    assert weights["policy.head.weight"].shape == (6, 16)  # mean and log-std of 3 latents

    evaluated = run_cli(workspace, "eval", f"{algo}-seed0", "--episodes", "2")
    assert evaluated.returncode == 0, evaluated.stderr
    final = workspace.load("eval", f"{algo}-seed0").manifest.metrics
    assert final["episodes"] == 2 and set(final["success"]) == set(TrainRLConfig().tasks)


def test_skills_of_the_other_decoder_are_a_one_line_error(skills_workspace, run_cli,
                                                          tiny_rl_options):
    result = run_cli(skills_workspace, "train-rl", "--algo", "spirl", "--skills", "default",
                     "--name", "wrong-decoder", *tiny_rl_options)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: skills 'default' have a closed-loop decoder; --algo spirl needs the open-loop one: "
        "give --skills or train them with `ptgm train-skills --decoder open-loop --name "
        "open-loop`")
    assert not skills_workspace.exists("rl", "wrong-decoder")


def test_options_of_ptgm_are_refused_for_spirl(skills_workspace, run_cli):
    result = run_cli(skills_workspace, "train-rl", "--algo", "spirl-cl", "--codebook", "x",
                     "--critics", "paper")
    assert result.returncode == 1
    assert "--codebook, --critics does not apply to --algo spirl-cl" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_skills_name_the_command_that_makes_them(tmp_path, publish_random_dataset,
                                                         run_cli, tiny_rl_options):
    workspace = Workspace(tmp_path)
    publish_random_dataset(workspace)
    result = run_cli(workspace, "train-rl", "--algo", "spirl-cl", *tiny_rl_options)
    assert result.returncode == 1
    assert "no skills named 'default'" in result.stderr and "`ptgm train-skills`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_killed_spirl_cl_run_resumes_to_the_same_parameters(skills_workspace, run_cli,
                                                            resumable_rl_options,
                                                            kill_at_first_checkpoint,
                                                            assert_same_run):
    workspace = skills_workspace
    options = ("--algo", "spirl-cl", "--health-episodes", "0", *resumable_rl_options)
    assert run_cli(workspace, "train-rl", *options, "--name", "whole").returncode == 0
    kill_at_first_checkpoint(workspace, "cut", *options)
    resumed = run_cli(workspace, "train-rl", *options, "--name", "cut", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming 'cut' at env step" in resumed.stderr
    assert_same_run(workspace, "whole", "cut")
