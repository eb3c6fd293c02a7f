"""`ptgm sweep` on a real Ray: a local one, and a head started separately with `ray start`."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ptgm_cli.configs import SweepConfig
from ptgm_cli.errors import PtgmError

SWEEP_SECONDS = 1800  # a few tiny runs, each starting its processes; minutes on a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2 * SWEEP_SECONDS)]

TINY = ("--env-steps", "200", "--num-envs", "1", "--warmup-transitions", "10",
        "--batch-size", "16", "--episode-steps", "50", "--hidden", "32",
        "--checkpoint-every", "100", "--eval-every", "100", "--eval-episodes", "1",
        "--episodes", "2")
NO_CHECK = ("--health-episodes", "0")  # PTGM's check of its pre-trained models, not needed here


def test_a_local_sweep_runs_and_evaluates_every_combination(pretrained_workspace, run_cli):
    workspace = pretrained_workspace
    result = run_cli(workspace, "sweep", "pair", "--algo", "ptgm,sac", "--seeds", "0-1", *TINY,
                     *NO_CHECK, "--cpus", "2", timeout=SWEEP_SECONDS)
    assert result.returncode == 0, result.stderr
    names = ["pair-ptgm-seed0", "pair-sac-seed0", "pair-ptgm-seed1", "pair-sac-seed1"]
    for name in names:
        assert workspace.load("rl", name).manifest.metrics["env_steps"] == 200
        assert workspace.load("eval", name).manifest.metrics["episodes"] == 2
        assert name in result.stdout  # the final table
    sweep = workspace.load("sweep", "pair")
    rows = json.loads(sweep.file("runs.json").read_text())
    assert [row["run"] for row in rows] == names
    assert [(row["algo"], row["seed"]) for row in rows] == [
        ("ptgm", 0), ("sac", 0), ("ptgm", 1), ("sac", 1)]
    assert {(parent.kind, parent.name) for parent in sweep.manifest.parents} == {
        (kind, name) for name in names for kind in ("rl", "eval")}
    # The runs are ordinary runs: their options are train-rl's, the sweep's apply to each.
    assert workspace.load("rl", "pair-ptgm-seed1").manifest.config["health_episodes"] == 0
    assert "health_episodes" not in workspace.load("rl", "pair-sac-seed1").manifest.config


def test_a_killed_sweep_finishes_the_missing_runs_and_keeps_the_finished_ones(
        pretrained_workspace, run_cli, cli_command):
    workspace = pretrained_workspace
    command = ("sweep", "cut", "--algo", "ptgm,sac", "--seeds", "0-1", *TINY, *NO_CHECK,
               "--cpus", "2")
    process = subprocess.Popen(cli_command(workspace, *command), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    first = workspace.path("eval", "cut-ptgm-seed0") / "manifest.json"
    while not first.exists() and process.poll() is None:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not workspace.exists("sweep", "cut"), "the sweep ended before it could be killed"
    kept = {kind: workspace.path(kind, "cut-ptgm-seed0").joinpath("manifest.json").read_bytes()
            for kind in ("rl", "eval")}

    again = run_cli(workspace, *command, timeout=SWEEP_SECONDS)
    assert again.returncode == 0, again.stderr
    for kind, manifest in kept.items():  # neither trained nor evaluated again
        assert workspace.path(kind, "cut-ptgm-seed0").joinpath("manifest.json").read_bytes() == \
            manifest
    assert len(json.loads(workspace.load("sweep", "cut").file("runs.json").read_text())) == 4

    published = workspace.path("sweep", "cut").joinpath("manifest.json").read_bytes()
    elsewhere = run_cli(workspace, *command[:-1], "1")  # the same runs, on fewer cores
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "sweep 'cut' has finished: nothing to do" in elsewhere.stderr
    assert workspace.path("sweep", "cut").joinpath("manifest.json").read_bytes() == published


def test_a_run_made_with_other_options_is_refused(pretrained_workspace, run_cli):
    workspace = pretrained_workspace
    first = run_cli(workspace, "sweep", "solo", "--algo", "sac", *TINY, timeout=SWEEP_SECONDS)
    assert first.returncode == 0, first.stderr
    other = run_cli(workspace, "sweep", "solo", "--algo", "sac", *TINY, "--tau", "0.01")
    assert other.returncode == 1
    assert other.stderr.strip() == ("error: sweep 'solo' exists with other --tau; give this one "
                                    "another --name, or pass --force to run it in its place")
    result = run_cli(workspace, "sweep", "solo", "--algo", "sac", *TINY, "--tau", "0.01",
                     "--force", timeout=SWEEP_SECONDS)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: run 'solo-sac-seed0' exists with other --tau; give "
                                     "the sweep another --name, or remove the run")
    longer = [("300" if value == "200" else value) for value in TINY]  # --env-steps 300
    result = run_cli(workspace, "sweep", "solo", "--algo", "sac", *longer, "--force")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: run 'solo-sac-seed0' exists with other --env-steps; "
                                     "give the sweep another --name, or remove the run")


@contextlib.contextmanager
def ray_head(port: int):
    """A Ray head of its own (`ray start --head --block`), stopped by signalling its process group.

    Not `ray stop`, which stops every Ray on the machine, a user's running sweeps included.
    """
    ray = str(Path(sys.executable).parent / "ray")
    # Its own session folder, short enough for the head's Unix sockets (107 bytes at most).
    ray_folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    # Its output goes to a file: a pipe nobody reads would fill while the sweep runs, and reading
    # one that the head's children hold open would block.
    log = Path(ray_folder) / "ray-start.log"
    with log.open("w") as output:
        head = subprocess.Popen([ray, "start", "--head", "--block", f"--port={port}",
                                 "--num-cpus=2", "--node-ip-address=127.0.0.1",
                                 "--disable-usage-stats", "--include-dashboard=false"],
                                stdout=output, stderr=subprocess.STDOUT,
                                env={**os.environ, "RAY_TMPDIR": ray_folder},
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not port_answers(port):
            assert head.poll() is None, f"ray start failed: {log.read_text()}"
            assert time.monotonic() < deadline, "the Ray head did not answer within 120 s"
            time.sleep(0.5)
        yield
    finally:
        head.terminate()  # `ray start --block` stops the processes it started
        try:
            head.wait(timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)  # and whatever of its group outlived it
        shutil.rmtree(ray_folder, ignore_errors=True)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("ray", path=str(Path(sys.executable).parent)) is None,
                    reason="needs the ray command")
def test_a_sweep_runs_on_a_ray_head_started_separately(pretrained_workspace, run_cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ray_head(port):
        result = run_cli(pretrained_workspace, "sweep", "remote", "--algo", "sac", *TINY,
                         "--address", f"127.0.0.1:{port}", timeout=SWEEP_SECONDS)
    assert result.returncode == 0, result.stderr
    assert pretrained_workspace.exists("sweep", "remote")
    assert pretrained_workspace.exists("eval", "remote-sac-seed0")


@pytest.mark.parametrize("options, message", [
    ({"seeds": "3-1"}, "the range '3-1' is empty"),
    ({"algo": "sac", "target_divergence": 2.0},
     "--target-divergence applies to none of --algo sac"),
    ({"algo": "ptgm,dqn"}, "unknown algorithm(s) ['dqn']"),
    ({"algo": "sac,sac"}, "['sac'] given more than once"),
])
def test_bad_sweeps_are_refused_before_anything_runs(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SweepConfig(**options)


def test_a_train_rl_value_it_refuses_names_the_option_and_the_run():
    with pytest.raises(PtgmError, match=r"--env-steps: .* \(run sweep-ptgm-seed0\)"):
        SweepConfig(env_steps=0).run_configs()


def test_an_address_nothing_answers_at_is_a_one_line_error(tmp_path, run_cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli(tmp_path, "sweep", "--address", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: nothing answers at --address 127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1
