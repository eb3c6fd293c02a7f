"""The results of published runs, gathered for a study: their periodic evaluations (the learning
curve) and their final `ptgm eval`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ptgm_cli.errors import PtgmError
from ptgm_cli.rl.logger import read_metrics
from ptgm_cli.workspace import Artifact, Workspace

SWEEP_RUNS_FILE = "runs.json"


@dataclass(frozen=True)
class RunResult:
    name: str
    algo: str
    seed: int
    tasks: tuple[str, ...]
    env_steps: int
    evaluations: dict[int, float]  # env steps (a multiple of eval_every) -> completed subtasks
    final: dict  # the run's eval: completed subtasks, per-subtask success, episodes
    artifacts: tuple[Artifact, ...]  # the run and its eval


def gather(workspace: Workspace, sources: tuple[str, ...]) -> tuple[list[RunResult],
                                                                     list[Artifact]]:
    """The runs of the named sweeps and runs, each once, and the sweeps themselves."""
    names, sweeps = [], []
    for source in sources:
        if workspace.exists("sweep", source):
            sweep = workspace.load("sweep", source)
            sweeps.append(sweep)
            names += [row["run"] for row in json.loads(sweep.file(SWEEP_RUNS_FILE).read_text())]
        elif workspace.exists("rl", source):
            names.append(source)
        else:
            raise PtgmError(f"no sweep or run named {source!r} in {workspace.root}; see "
                            "`ptgm status`")
    return [run_result(workspace, name) for name in dict.fromkeys(names)], sweeps


def run_result(workspace: Workspace, name: str) -> RunResult:
    if not workspace.exists("eval", name):
        raise PtgmError(f"run {name!r} has no eval; make it with `ptgm eval {name}`")
    run, evaluation = workspace.load("rl", name), workspace.load("eval", name)
    config = run.manifest.config
    evaluations = {}
    for record in read_metrics(run.file("metrics.jsonl")):
        if "eval/completed_subtasks" in record:
            point = record["step"] // config["eval_every"] * config["eval_every"]
            evaluations[point] = record["eval/completed_subtasks"]
    return RunResult(name=name, algo=config["algo"], seed=config["seed"],
                     tasks=tuple(config["tasks"]), env_steps=run.manifest.metrics["env_steps"],
                     evaluations=evaluations, final=evaluation.manifest.metrics,
                     artifacts=(run, evaluation))


def by_algo(runs: list[RunResult]) -> dict[str, list[RunResult]]:
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(run.algo, []).append(run)
    return groups
