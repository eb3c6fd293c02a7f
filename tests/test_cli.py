import re
import subprocess
import time

import pytest
import torch
from typer.testing import CliRunner

from ptgm_cli.cli import STAGES, app
from ptgm_cli.config import read_config_file, resolve_config
from ptgm_cli.configs import EvalConfig, EvalPolicyConfig
from ptgm_cli.manifests import Manifest
from ptgm_cli.workspace import Workspace

runner = CliRunner()
COMMANDS = [command for command, *_ in STAGES] + ["status", "show", "doctor"]


def test_top_level_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_stage_help_shows_defaults_from_the_config():
    result = runner.invoke(app, ["build-codebook", "--help"], terminal_width=200)
    assert "--n-codes" in result.output and "[default: 500]" in result.output
    assert "[default: paper21]" in result.output


def test_train_rl_help_groups_options_and_shows_flags_plainly():
    output = runner.invoke(app, ["train-rl", "--help"], terminal_width=200).output
    for panel in ("What to run", "The task", "Pre-trained models (ptgm, ptgm-noprior)",
                  "Pre-trained skills (spirl, spirl-cl)", "The algorithm", "The critics",
                  "Logging and checkpoints"):
        assert panel in output
    # the help column's text, its lines joined
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", output).split())
    assert "[default: ptgm]" in text
    assert "ptgm|ptgm-noprior|" in output and "spirl|spirl-cl|sac" in output
    flag_lines = [line for line in output.splitlines()
                  if any(flag in line for flag in ("--force", "--resume", "--any-order"))]
    assert len(flag_lines) == 3 and not any("<bool>" in line for line in flag_lines)
    assert "--resume" in output and "[default: --no-resume]" in text
    # --target-divergence applies to ptgm and SPiRL alone
    assert "ptgm, spirl, spirl-cl: alpha is tuned" in text


def test_bad_option_value_is_one_line_error(tmp_path, run_cli):
    result = run_cli(tmp_path, "fetch-data", "--source", "nowhere")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "error: --source" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_file_is_one_line_error(tmp_path, run_cli):
    config = tmp_path / "experiment.toml"
    config.write_text("n-codes = 20\nclusters = 3\n")
    result = run_cli(tmp_path, "build-codebook", "--config", str(config))
    assert result.returncode == 1 and "unknown option(s) ['clusters']" in result.stderr
    config.write_text("n_codes = [oops")
    result = run_cli(tmp_path, "build-codebook", "--config", str(config))
    assert result.returncode == 1 and "not valid TOML" in result.stderr


@pytest.mark.slow
def test_status_and_doctor(tmp_path, run_cli):
    result = run_cli(tmp_path, "status")
    assert result.returncode == 0 and "no artifacts" in result.stdout
    result = run_cli(None, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kitchen env" in result.stdout and "FAIL" not in result.stdout
    assert "--device auto:" in result.stdout


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a GPU here")
@pytest.mark.parametrize("command", ["train-policy", "train-prior", "train-rl"])
def test_device_cuda_without_a_gpu_is_a_one_line_error(tmp_path, run_cli, command):
    result = run_cli(tmp_path, command, "--device", "cuda")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: no CUDA device visible to torch; use --device cpu or auto")
    assert not any(tmp_path.iterdir())  # refused before anything was written


def publish_eval(workspace: Workspace, name: str, config: dict, metrics: dict, file: str):
    manifest = Manifest(kind="eval", name=name, config=config, metrics=metrics)
    with workspace.publish(manifest) as staging:
        staging.file(file).write_text("[]")


def test_show_names_the_command_that_made_an_eval_artifact(tmp_path):
    workspace = Workspace(tmp_path)
    policy_config = EvalPolicyConfig(states=7)
    publish_eval(workspace, "of-policy", policy_config.model_dump(mode="json"), {},
                 "results.json")
    publish_eval(workspace, "of-run", EvalConfig().model_dump(mode="json"), {}, "episodes.json")
    for name, command in (("of-policy", "eval-policy"), ("of-run", "eval")):
        result = runner.invoke(app, ["--workspace", str(tmp_path), "show", name])
        assert result.exit_code == 0, result.output
        assert f"# reproduce with: ptgm {command} --config THIS_FILE.toml" in result.output
    shown = tmp_path / "shown.toml"
    shown.write_text(runner.invoke(app, ["--workspace", str(tmp_path), "show", "of-policy"])
                     .output)
    assert resolve_config(EvalPolicyConfig, read_config_file(shown), {},
                          "eval-policy") == policy_config


def test_status_shows_a_metric_of_any_type(tmp_path):
    publish_eval(Workspace(tmp_path), "odd", {},
                 {"completed_subtasks_mean": "n/a", "ratio_median": "[/bold]"}, "episodes.json")
    result = runner.invoke(app, ["--workspace", str(tmp_path), "status"])
    assert result.exit_code == 0, result.output
    assert "n/a" in result.output and "[/bold]" in result.output


@pytest.mark.slow
def test_a_second_process_making_the_same_artifact_is_refused_at_once(tmp_path, cli_command,
                                                                        run_cli):
    """Two `fetch-data --name same`: the second fails at once, not after generating its data."""
    first = subprocess.Popen(cli_command(tmp_path, "fetch-data", "--name", "same",
                                         "--episodes", "200", "--workers", "1"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reservation = tmp_path / "dataset" / ".making-same"
    try:
        while not reservation.exists() and first.poll() is None:
            time.sleep(0.02)
        second = run_cli(tmp_path, "fetch-data", "--name", "same", "--episodes", "3",
                         "--workers", "1")
        assert first.poll() is None, "the first command ended before the second started"
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 1
    assert second.stderr.strip() == ("error: dataset 'same' is being made by another process; "
                                     "wait for it to finish or stop it")
    again = run_cli(tmp_path, "fetch-data", "--name", "same", "--episodes", "1", "--workers", "1")
    assert again.returncode == 0, again.stderr  # the killed holder's reservation went with it
