"""`ptgm train-rl` end to end at tiny budgets, through the real console entry point."""

import importlib.util
import subprocess
import time

import pytest
import torch
from safetensors.torch import load_file

from ptgm_cli.algorithms import build
from ptgm_cli.configs import TrainRLConfig, applies_to
from ptgm_cli.errors import PtgmError
from ptgm_cli.models.training import resolve_device
from ptgm_cli.rl import checkpoint
from ptgm_cli.rl.logger import read_metrics

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("algo, transitions", [("ptgm", 30), ("ptgm-noprior", 30), ("sac", 300)])
def test_each_algo_trains_and_publishes(pretrained_workspace, algo, transitions, run_cli,
                                        tiny_rl_options):
    result = run_cli(pretrained_workspace, "train-rl", "--algo", algo, *tiny_rl_options)
    assert result.returncode == 0, result.stderr
    # PTGM first checks the pre-trained models: the prior's codes acting from reset.
    printed = " ".join(result.stderr.split())
    assert ("the prior's codes from reset, 10 episodes (played now): microwave" in printed) == (
        algo == "ptgm")
    artifact = pretrained_workspace.load("rl", f"{algo}-seed0")
    metrics = artifact.manifest.metrics
    # 2 envs x 150 steps; PTGM decides every 10 steps (5 options per 50-step episode).
    assert metrics["env_steps"] == 300 and metrics["transitions"] == transitions
    assert metrics["gradient_steps"] == transitions - 10  # one per transition after warm-up
    assert metrics["final_eval"]["episodes"] == 2
    assert metrics["device"] == resolve_device("auto").type
    assert {p.kind for p in artifact.manifest.parents} == (
        set() if algo == "sac" else {"codebook", "prior", "policy"})
    # The manifest records the options of its algorithm and no other.
    assert set(artifact.manifest.config) == {
        name for name in TrainRLConfig.model_fields if algo in applies_to(name)} - {"resume"}
    assert ("target_divergence" in artifact.manifest.config) == (algo == "ptgm")
    records = read_metrics(artifact.file("metrics.jsonl"))
    names = set().union(*records)
    assert {"charts/completed_subtasks", "charts/return", "charts/success/microwave",
            "charts/steps_per_s", "eval/completed_subtasks"} <= names
    assert sum("charts/completed_subtasks" in r for r in records) == 6  # 3 episodes x 2 envs
    assert ("charts/kl" in names) == (algo == "ptgm")
    assert any(artifact.file("tensorboard").iterdir())
    assert artifact.file("curves.png").stat().st_size > 0
    assert "policy.mlp.head.weight" in load_file(str(artifact.file("weights.safetensors"))) or \
        algo == "sac"
    assert not (pretrained_workspace.root / "rl" / ".runs" / f"{algo}-seed0").exists()


def test_killed_run_resumes_to_the_same_parameters(pretrained_workspace, run_cli,
                                                   resumable_rl_options, kill_at_first_checkpoint,
                                                   assert_same_run):
    """kill -9 after the first checkpoint, resume: identical to a run that never stopped."""
    workspace, options = pretrained_workspace, resumable_rl_options
    assert run_cli(workspace, "train-rl", *options, "--name", "whole").returncode == 0
    kill_at_first_checkpoint(workspace, "cut", *options)

    refused = run_cli(workspace, "train-rl", *options, "--name", "cut")
    assert refused.returncode == 1 and "pass --resume" in refused.stderr
    changed = run_cli(workspace, "train-rl", *options, "--name", "cut", "--resume", "--lr", "1e-3")
    assert changed.returncode == 1 and "--lr" in changed.stderr
    # Another --device may continue a run; on the CPU the run is the same.
    resumed = run_cli(workspace, "train-rl", *options, "--name", "cut", "--resume",
                      "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming 'cut' at env step" in resumed.stderr
    assert_same_run(workspace, "whole", "cut")


def test_a_run_training_in_another_process_cannot_be_started_again(pretrained_workspace,
                                                                   cli_command, run_cli,
                                                                   tiny_rl_options):
    workspace = pretrained_workspace
    first = subprocess.Popen(
        cli_command(workspace, "train-rl", "--name", "busy", *tiny_rl_options,
                    "--env-steps", "100000"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_folder = workspace.root / "rl" / ".runs" / "busy"
    try:
        while not (run_folder / "metrics.jsonl").exists() and first.poll() is None:
            time.sleep(0.02)
        second = run_cli(workspace, "train-rl", "--name", "busy", *tiny_rl_options, "--force")
        assert first.poll() is None, "the first run ended before the second started"
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 1
    assert second.stderr.strip() == ("error: rl 'busy' is being made by another process; wait "
                                     "for it to finish or stop it")
    assert (run_folder / "metrics.jsonl").exists()  # --force did not start it over


def test_wandb_without_the_package_is_a_one_line_error(pretrained_workspace, run_cli,
                                                       tiny_rl_options):
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed")
    result = run_cli(pretrained_workspace, "train-rl", "--wandb", "--name", "no-wandb",
                     *tiny_rl_options)
    assert result.returncode == 1 and "pip install wandb" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("algo, critics, ceiling", [
    ("ptgm", "bounded", 2.0), ("ptgm", "paper", None), ("ptgm-noprior", "bounded", None)])
def test_only_ptgm_bounded_critics_have_a_ceiling_of_one_value_per_subtask(
        pretrained_workspace, algo, critics, ceiling):
    config = TrainRLConfig(algo=algo, critics=critics, tasks="microwave,kettle")
    assert build(config, pretrained_workspace).agent.value_ceiling == ceiling


@pytest.mark.parametrize("critics, bounded", [("bounded", True), ("paper", False)])
def test_the_critics_preset_sets_every_critic_option(pretrained_workspace, critics, bounded):
    agent = build(TrainRLConfig(critics=critics), pretrained_workspace).agent
    assert agent.expected_next_value == bounded
    assert (agent.episode_steps == 280) == bounded and (agent.episode_steps is None) != bounded
    assert (agent.critics.norms is not None) == bounded


def test_an_option_of_another_algorithm_is_a_one_line_error(pretrained_workspace, tmp_path,
                                                            run_cli):
    flag = run_cli(pretrained_workspace, "train-rl", "--algo", "sac", "--target-divergence", "2")
    config_file = tmp_path / "sac.toml"
    config_file.write_text('algo = "sac"\ntarget-divergence = 2\n')
    from_file = run_cli(pretrained_workspace, "train-rl", "--config", str(config_file))
    for result in (flag, from_file):
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "error: --target-divergence does not apply to --algo sac; see `ptgm train-rl "
            "--help` for each option's algorithms")
    assert not (pretrained_workspace.root / "rl" / ".runs" / "sac-seed0").exists()


def test_resume_refuses_other_settings_and_another_algorithm(pretrained_workspace, run_cli):
    run_dir = pretrained_workspace.root / "rl" / ".runs" / "started"
    run_dir.mkdir(parents=True)
    recorded = TrainRLConfig(name="started", critics="paper").recorded()
    checkpoint.save_resume(run_dir / checkpoint.RESUME_FILE, {"config": recorded})
    defaults = run_cli(pretrained_workspace, "train-rl", "--name", "started", "--resume")
    assert defaults.returncode == 1
    assert defaults.stderr.strip() == ("error: run 'started' was started with other --critics; "
                                       "resume it with its original settings")
    sac = run_cli(pretrained_workspace, "train-rl", "--name", "started", "--resume",
                  "--algo", "sac")
    assert sac.returncode == 1 and "--algo, --codebook" in sac.stderr


def test_resume_accepts_a_checkpoint_without_the_health_check_option(tmp_path):
    """Runs checkpointed before --health-episodes existed resume: the check does not change
    what a run learns."""
    from ptgm_cli.stages.train_rl import _open_run_folder

    config = TrainRLConfig(name="before-health", resume=True)
    recorded = {k: v for k, v in config.recorded().items() if k != "health_episodes"}
    checkpoint.save_resume(tmp_path / checkpoint.RESUME_FILE, {"config": recorded})
    assert _open_run_folder(tmp_path, config, force=False)["config"] == recorded
    other = TrainRLConfig(name="before-health", resume=True, target_divergence=2.0)
    with pytest.raises(PtgmError, match="started with other --target-divergence"):
        _open_run_folder(tmp_path, other, force=False)


def test_resume_refuses_a_checkpoint_of_another_format(pretrained_workspace, run_cli):
    run_dir = pretrained_workspace.root / "rl" / ".runs" / "older"
    run_dir.mkdir(parents=True)
    resume_file = run_dir / checkpoint.RESUME_FILE
    torch.save({"config": TrainRLConfig(name="older").recorded()}, resume_file)  # no format
    result = run_cli(pretrained_workspace, "train-rl", "--name", "older", "--resume")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {resume_file} was written by another version of ptgm (checkpoint format 1, "
        f"this version reads {checkpoint.RESUME_FORMAT}); start the run over with --force")


def test_a_diverging_run_stops_and_is_never_published(pretrained_workspace, run_cli,
                                                      tiny_rl_options):
    """A finite but absurd --lr: the first losses that are not finite stop the run, the artifact
    of that name stays as it was (even with --force), the run folder stays for inspection."""
    steady = ("--name", "steady", *tiny_rl_options)
    assert run_cli(pretrained_workspace, "train-rl", *steady).returncode == 0
    published = pretrained_workspace.path("rl", "steady")
    before = {path: path.read_bytes() for path in published.rglob("*") if path.is_file()}
    result = run_cli(pretrained_workspace, "train-rl", *steady, "--lr", "1e6", "--force")
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert "run 'steady' diverged" in error and "are not finite (losses/critic" in error
    assert "lower --lr or check --target-divergence" in error and "Traceback" not in result.stderr
    assert {path: path.read_bytes() for path in published.rglob("*") if path.is_file()} == before
    assert (pretrained_workspace.root / "rl" / ".runs" / "steady").is_dir()


def test_weights_that_are_not_finite_stop_the_run_at_its_checkpoint(pretrained_workspace,
                                                                    monkeypatch):
    """No gradient step in the run (its warm-up is longer), so only the checkpoint's check of the
    weights can see the NaN put into them."""
    from ptgm_cli.stages import train_rl

    def build_with_a_nan(config, workspace, device):
        setup = build(config, workspace, device)
        with torch.no_grad():
            next(setup.agent.critics.parameters()).view(-1)[0] = float("nan")
        return setup

    monkeypatch.setattr(train_rl, "build", build_with_a_nan)
    config = TrainRLConfig(name="nan-weights", env_steps=200, num_envs=2, episode_steps=50,
                           warmup_transitions=1000, hidden=32, checkpoint_every=100,
                           eval_episodes=0)
    with pytest.raises(PtgmError, match=r"run 'nan-weights' diverged: its weights are not "
                                        r"finite \(critics\.hidden_layers\.0\.weight"):
        train_rl.run(config, pretrained_workspace)
    assert not pretrained_workspace.exists("rl", "nan-weights")
    run_folder = pretrained_workspace.root / "rl" / ".runs" / "nan-weights"
    assert not (run_folder / checkpoint.RESUME_FILE).exists()  # nothing non-finite was saved


def test_a_recorded_health_check_of_the_same_models_is_printed_instead_of_played(
        pretrained_workspace, run_cli, tiny_rl_options, assert_same_run):
    """eval-policy's check of these models, with as many episodes of the same length, is the
    check train-rl prints; with fewer episodes than asked for, train-rl plays its own. Either
    way the run learns the same: the check plays on workers and generators of its own."""
    checked = run_cli(pretrained_workspace, "eval-policy", "--states", "5", "--subtask-trials",
                      "1", "--prior-episodes", "4", "--episode-steps", "50",
                      "--name", "health-check")
    assert checked.returncode == 0, checked.stderr
    rollouts = pretrained_workspace.load("eval", "health-check").manifest.metrics[
        "prior_rollouts"]
    rates = ", ".join(f"{task} {rate:.0%}" for task, rate in rollouts["success"].items())
    recorded = run_cli(pretrained_workspace, "train-rl", *tiny_rl_options,
                       "--health-episodes", "4", "--name", "recorded-check")
    assert recorded.returncode == 0, recorded.stderr
    assert ("the prior's codes from reset, 4 episodes (`ptgm eval-policy --name health-check`): "
            + rates) in " ".join(recorded.stderr.split())
    played = run_cli(pretrained_workspace, "train-rl", *tiny_rl_options,
                     "--health-episodes", "6", "--name", "played-check")
    assert played.returncode == 0, played.stderr
    assert "the prior's codes from reset, 6 episodes (played now)" in " ".join(
        played.stderr.split())
    assert_same_run(pretrained_workspace, "recorded-check", "played-check")
