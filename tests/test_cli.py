import pytest
from typer.testing import CliRunner

from ptgm_cli.cli import STAGES, app
from tests.helpers import run_cli

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
    assert "--n-codes" in result.output and "(500)" in result.output
    assert "paper21" in result.output


def test_bad_option_value_is_one_line_error(tmp_path):
    result = run_cli(tmp_path, "fetch-data", "--source", "nowhere")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "error: --source" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_file_is_one_line_error(tmp_path):
    config = tmp_path / "experiment.toml"
    config.write_text("n-codes = 20\nclusters = 3\n")
    result = run_cli(tmp_path, "build-codebook", "--config", str(config))
    assert result.returncode == 1 and "unknown option(s) ['clusters']" in result.stderr
    config.write_text("n_codes = [oops")
    result = run_cli(tmp_path, "build-codebook", "--config", str(config))
    assert result.returncode == 1 and "not valid TOML" in result.stderr


def test_status_and_doctor(tmp_path):
    result = run_cli(tmp_path, "status")
    assert result.returncode == 0 and "no artifacts" in result.stdout
    result = run_cli(None, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kitchen env" in result.stdout and "FAIL" not in result.stdout
