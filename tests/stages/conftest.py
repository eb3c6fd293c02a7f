"""What the stages' tests share beyond the root conftest."""

import os
import signal
import subprocess
import time

import pytest
from safetensors.torch import load_file

from ptgm_cli.rl.logger import read_metrics


@pytest.fixture(scope="session")
def tiny_rl_options() -> tuple[str, ...]:
    """`ptgm train-rl` options for a run of a few seconds."""
    return ("--env-steps", "300", "--warmup-transitions", "10", "--batch-size", "16",
            "--num-envs", "2", "--episode-steps", "50", "--hidden", "32",
            "--checkpoint-every", "100", "--eval-every", "150", "--eval-episodes", "2")


@pytest.fixture(scope="session")
def resumable_rl_options() -> tuple[str, ...]:
    """`ptgm train-rl` options for a run with several checkpoints and evaluations."""
    return ("--env-steps", "600", "--num-envs", "2", "--warmup-transitions", "10",
            "--batch-size", "16", "--episode-steps", "50", "--hidden", "32",
            "--checkpoint-every", "100", "--eval-every", "200", "--eval-episodes", "1",
            "--seed", "3")


@pytest.fixture(scope="session")
def kill_at_first_checkpoint(cli_command):
    """`kill_at_first_checkpoint(workspace, name, *options)`: `ptgm train-rl --name NAME` killed
    with SIGKILL as soon as it has written its first checkpoint."""
    def start_and_kill(workspace, name: str, *options: str) -> None:
        process = subprocess.Popen(cli_command(workspace, "train-rl", *options, "--name", name),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        resume_file = workspace.root / "rl" / ".runs" / name / "resume.pt"
        while not resume_file.exists() and process.poll() is None:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert not workspace.exists("rl", name), "the run ended before it could be killed"
    return start_and_kill


def assert_runs_equal(workspace, first: str, second: str) -> None:
    """Two published runs with the same weights and the same records, but for their speed."""
    weights = [load_file(str(workspace.load("rl", name).file("weights.safetensors")))
               for name in (first, second)]
    assert weights[0].keys() == weights[1].keys()
    for key, value in weights[0].items():
        assert value.equal(weights[1][key]), key
    records = [[{k: v for k, v in record.items() if k != "charts/steps_per_s"}
                for record in read_metrics(workspace.load("rl", name).file("metrics.jsonl"))]
               for name in (first, second)]
    assert records[0] == records[1]


@pytest.fixture(scope="session")
def assert_same_run():
    """`assert_same_run(workspace, first, second)`: two published runs learnt the same."""
    return assert_runs_equal
