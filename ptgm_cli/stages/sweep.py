"""`ptgm sweep`: every combination of algorithms, seeds and task orders as a normal train-rl run
followed by its eval, each a Ray task that asks for the CPUs (and GPU share) it uses.

Without --address the sweep starts a local Ray on this machine's cores; with one it joins a
running cluster, whose nodes must share the workspace (a common filesystem) and the same ptgm
install. A run is an ordinary `rl` artifact, its eval an ordinary `eval` artifact, so a sweep
started again skips the finished runs, evaluates trained ones and resumes interrupted ones from
their last checkpoint; stopping the sweep (Ctrl-C or kill) costs at most the steps since each
run's last checkpoint. The sweep artifact, published when every run has finished, lists them;
the same sweep run after that has nothing to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.live import Live
from rich.table import Table

from ptgm_cli import report
from ptgm_cli.config import flag
from ptgm_cli.configs import EvalConfig, SweepOptions, TrainRLConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.machine import cpu_count
from ptgm_cli.manifests import Manifest
from ptgm_cli.rl import checkpoint
from ptgm_cli.stages import evaluate, train_rl
from ptgm_cli.workspace import Artifact, Workspace

RUNS_FILE = "runs.json"
REFRESH_SECONDS = 1.0
CONNECT_SECONDS = 5.0
PROGRESS_EVERY_SECONDS = 2.0  # how often a run tells the sweep where it stands
# train-rl options in which a finished run may differ from the one asked for: those it may be
# resumed with (its --resume check), less its length, since a finished run is not extended.
FINISHED_RUN_CHANGES = train_rl.RESUMABLE_CHANGES - {"env_steps"}
# Sweep options that say where the runs go, not what they are.
PLACEMENT_OPTIONS = ("address", "cpus", "cpus_per_run", "gpus_per_run")


@dataclass
class RunStatus:
    """One row of the sweep's table."""

    name: str
    algo: str
    seed: int
    state: str  # pending, resuming, running, evaluating, done, failed
    env_steps: int = 0
    total_env_steps: int = 0
    steps_per_s: float = 0.0
    recent_completed_subtasks: float | None = None
    final_completed_subtasks: float | None = None
    error: str | None = None


def preflight(config: SweepOptions) -> None:
    """A cluster address that nothing answers is refused at once: Ray would wait minutes."""
    if config.address in (None, "auto"):
        return
    host, _, port = config.address.rpartition(":")
    if not host or not port.isdigit():
        raise PtgmError(f"--address {config.address!r} is not HOST:PORT or 'auto'")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise PtgmError(f"nothing answers at --address {config.address} ({reason}); start a Ray "
                        "head there with `ray start --head`, or leave --address out for a local "
                        "Ray") from None


def finished(config: SweepOptions, workspace: Workspace) -> Artifact | None:
    """The published sweep of this name if it holds the same runs (wherever they ran), so that
    running it again does nothing; a published sweep of other runs is refused."""
    if not workspace.exists("sweep", config.name):
        return None
    sweep = workspace.load("sweep", config.name)
    recorded, given = sweep.manifest.config, config.model_dump(mode="json")
    changed = sorted(key for key in given.keys() | recorded.keys()
                     if key not in PLACEMENT_OPTIONS and recorded.get(key) != given.get(key))
    if changed:
        options = ", ".join(flag(key) for key in changed)
        raise PtgmError(f"sweep {config.name!r} exists with other {options}; give this one "
                        "another --name, or pass --force to run it in its place")
    return sweep


def run(config: SweepOptions, workspace: Workspace, force: bool = False) -> Artifact:
    workspace.check_can_publish("sweep", config.name, force)
    runs = config.run_configs()
    statuses = {run.run_name: plan(workspace, run) for run in runs}
    todo = [run for run in runs if statuses[run.run_name].state != "done"]
    if todo:
        execute(config, workspace, todo, statuses)
    failed = [status for status in statuses.values() if status.state == "failed"]
    if failed:
        names = ", ".join(status.name for status in failed)
        raise PtgmError(f"{len(failed)} of {len(runs)} runs failed ({names}): {failed[0].error}; "
                        "fix it and run the same sweep again, which resumes them")
    return publish(config, workspace, runs, force)


def plan(workspace: Workspace, config: TrainRLConfig) -> RunStatus:
    """What is left of a run: nothing, its eval, the rest of its training, or all of it. A
    published run of the same name must have been made with the same options, for as many
    steps: a finished run is not extended."""
    name = config.run_name
    status = RunStatus(name, config.algo, config.seed, "pending",
                       total_env_steps=config.env_steps)
    if workspace.exists("rl", name):
        recorded = workspace.load("rl", name).manifest.config
        changed = sorted(key for key, value in config.recorded().items()
                         if key not in FINISHED_RUN_CHANGES and recorded.get(key) != value)
        if changed:
            options = ", ".join(flag(key) for key in changed)
            raise PtgmError(f"run {name!r} exists with other {options}; give the sweep another "
                            "--name, or remove the run")
        status.env_steps = status.total_env_steps
        status.state = "evaluating"
        if workspace.exists("eval", name):
            status.state = "done"
            status.final_completed_subtasks = final_score(workspace, name)
    elif (workspace.root / "rl" / train_rl.RUNS_DIR / name / checkpoint.RESUME_FILE).exists():
        status.state = "resuming"
    return status


def final_score(workspace: Workspace, name: str) -> float:
    return workspace.load("eval", name).manifest.metrics["completed_subtasks_mean"]


def execute(config: SweepOptions, workspace: Workspace, runs: list[TrainRLConfig],
            statuses: dict[str, RunStatus]) -> None:
    """The runs as Ray tasks, with a live table until all have ended. Ctrl-C cancels them; each
    keeps its last checkpoint."""
    if config.address is not None and token_available():
        # A local Ray authenticates with the token by default; a driver joining a cluster must
        # ask to, before Ray reads its settings at import.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    import ray

    start_ray(config)
    try:
        board = ray.remote(num_cpus=0)(ProgressBoard).remote()
        task = ray.remote(train_and_evaluate)
        pending, states = {}, {name: status.state for name, status in statuses.items()}
        for run_config in runs:
            cpus = config.cpus_per_run or run_config.num_envs
            reference = task.options(num_cpus=cpus, num_gpus=config.gpus_per_run,
                                     name=run_config.run_name).remote(
                str(workspace.root.resolve()), run_config.recorded(),
                config.episodes, board)
            pending[reference] = run_config.run_name
        # Off a terminal a line per change of state stands in for the live table.
        live = Live(table(config, statuses), console=report.console,
                    refresh_per_second=1 / REFRESH_SECONDS)
        with live if report.console.is_terminal else contextlib.nullcontext():
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), timeout=REFRESH_SECONDS)
                    for reference in ready:
                        finish(reference, statuses[pending.pop(reference)])
                    for name, update in ray.get(board.snapshot.remote()).items():
                        if statuses[name].state not in ("done", "failed"):
                            for key, value in update.items():
                                setattr(statuses[name], key, value)
                    live.update(table(config, statuses))
                    log_changes(statuses, states)
            except KeyboardInterrupt:
                for reference in pending:
                    ray.cancel(reference, force=True)
                raise PtgmError("sweep stopped; run the same command again to resume its runs "
                                "from their last checkpoints") from None
    finally:
        ray.shutdown()
    report.results.print(table(config, statuses))


def log_changes(statuses: dict[str, RunStatus], states: dict[str, str]) -> None:
    """Off a terminal, where the table is drawn only at the end, a line per run that starts,
    finishes or fails."""
    for name, status in statuses.items():
        if status.state != states[name]:
            states[name] = status.state
            if not report.console.is_terminal:
                report.info(f"sweep: {name} {status.state}" + (
                    f" ({status.error})" if status.error else ""))


def start_ray(config: SweepOptions) -> None:
    """Join the cluster at --address, or start a local Ray on --cpus cores. Run output stays in
    Ray's logs: the sweep's table is the progress."""
    import ray

    try:
        if config.address is None:
            ray.init(num_cpus=config.cpus or cpu_count(), log_to_driver=False,
                     include_dashboard=False, configure_logging=False)
        else:
            ray.init(address=config.address, log_to_driver=False, configure_logging=False)
    except ConnectionError as error:
        raise PtgmError(f"cannot reach a Ray cluster at --address {config.address}: "
                        f"{str(error).splitlines()[0]}; start one with `ray start --head`, or "
                        "leave --address out for a local Ray") from None


def token_available() -> bool:
    """Whether this machine holds a Ray authentication token (`ray get-auth-token`)."""
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file())


def finish(reference, status: RunStatus) -> None:
    import ray

    try:
        status.final_completed_subtasks = ray.get(reference)
        status.state, status.env_steps = "done", status.total_env_steps
    except ray.exceptions.RayError as error:  # the run's own error, or its worker died
        status.state = "failed"
        cause = getattr(error, "cause", None) or error
        lines = str(cause).strip().splitlines()
        status.error = lines[0] if isinstance(cause, PtgmError) else (
            f"{type(cause).__name__}: {lines[0] if lines else ''}")


def train_and_evaluate(root: str, config: dict, episodes: int, board) -> float:
    """A Ray task: the run (resumed if it has a checkpoint), then its eval; the final
    completed subtasks."""
    workspace = Workspace(Path(root))
    run_config = TrainRLConfig.model_validate(config)
    name = run_config.run_name
    if not workspace.exists("rl", name):
        resume_file = workspace.root / "rl" / train_rl.RUNS_DIR / name / checkpoint.RESUME_FILE
        run_config = run_config.model_copy(update={"resume": resume_file.exists()})
        reporter = ProgressReporter(board, name)
        with workspace.reserve("rl", name, False):
            train_rl.run(run_config, workspace, on_progress=reporter)
    board.update.remote(name, {"state": "evaluating"})
    if not workspace.exists("eval", name):
        with workspace.reserve("eval", name, False):
            evaluate.run(EvalConfig(run=name, episodes=episodes), workspace)
    return final_score(workspace, name)


class ProgressReporter:
    """A run's progress, sent to the sweep's board every few seconds."""

    def __init__(self, board, name: str):
        self.board, self.name, self.sent = board, name, 0.0

    def __call__(self, progress: train_rl.Progress) -> None:
        now = time.monotonic()
        if now - self.sent >= PROGRESS_EVERY_SECONDS or progress.env_steps >= \
                progress.total_env_steps:
            self.sent = now
            self.board.update.remote(self.name, {"state": "running", **asdict(progress)})


class ProgressBoard:
    """Where the runs leave their progress for the sweep's table (a Ray actor)."""

    def __init__(self):
        self.updates: dict[str, dict] = {}

    def update(self, name: str, values: dict) -> None:
        self.updates.setdefault(name, {}).update(values)

    def snapshot(self) -> dict[str, dict]:
        return self.updates


def table(config: SweepOptions, statuses: dict[str, RunStatus]) -> Table:
    view = Table(title=f"sweep {config.name!r}")
    for column in ("run", "state", "env steps", "steps/s", "recent subtasks", "final"):
        view.add_column(column, justify="left" if column in ("run", "state") else "right")
    for status in statuses.values():
        state = status.state if status.error is None else f"failed: {status.error}"
        view.add_row(
            status.name, state, f"{status.env_steps:,}/{status.total_env_steps:,}",
            f"{status.steps_per_s:.0f}" if status.state == "running" else "",
            "" if status.recent_completed_subtasks is None
            else f"{status.recent_completed_subtasks:.2f}",
            "" if status.final_completed_subtasks is None
            else f"{status.final_completed_subtasks:.2f}")
    return view


def publish(config: SweepOptions, workspace: Workspace, runs: list[TrainRLConfig],
            force: bool) -> Artifact:
    """The sweep artifact: its config, and its runs and evals as parents and in `runs.json`."""
    parents, rows = [], []
    for run_config in runs:
        name = run_config.run_name
        trained, evaluated = workspace.load("rl", name), workspace.load("eval", name)
        parents += [trained.ref, evaluated.ref]
        rows.append({"run": name, "algo": run_config.algo, "seed": run_config.seed,
                     "tasks": list(run_config.tasks), "env_steps": run_config.env_steps,
                     "completed_subtasks": evaluated.manifest.metrics["completed_subtasks_mean"]})
    manifest = Manifest(kind="sweep", name=config.name, parents=parents,
                        config=config.model_dump(mode="json"), metrics={"runs": len(rows)})
    with workspace.publish(manifest, overwrite=force) as staging:
        staging.file(RUNS_FILE).write_text(json.dumps(rows, indent=1))
    return workspace.load("sweep", config.name)
