"""The results of published runs, gathered for a study: their periodic evaluations (the learning
curve) and their final `ptgm eval`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import ParentRef
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
    pretrained: str  # the names of the pre-trained models it ran on ("" for flat SAC)
    health: float | None  # their health check: the prior's rate of the task's first subtask
    warmup: Warmup  # what the run itself met before it learned


@dataclass(frozen=True)
class Warmup:
    """The training episodes that ended before a run's first gradient step, played by its
    initial policy (PTGM's: the prior; SPiRL's: the skill prior), and how many of them completed
    a subtask the task can start with: the first rewards it learns from, which the health check
    estimates before the run."""

    episodes: int
    rewarded: int


@dataclass(frozen=True)
class HealthCheck:
    name: str  # of its eval artifact
    parents: set[tuple[str, str, str]]  # (kind, name, manifest sha256) of the checked models
    rollouts: dict  # `rl.evaluation.prior_rollouts`' summary
    episode_steps: int
    low_level_actions: str | None  # PTGM's low-level policy acting with its mean or sampling


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
    checks = health_checks(workspace)
    return [run_result(workspace, name, checks) for name in dict.fromkeys(names)], sweeps


def run_result(workspace: Workspace, name: str, checks: list[HealthCheck]) -> RunResult:
    if not workspace.exists("eval", name):
        raise PtgmError(f"run {name!r} has no eval; make it with `ptgm eval {name}`")
    run, evaluation = workspace.load("rl", name), workspace.load("eval", name)
    config = run.manifest.config
    tasks = tuple(config["tasks"])
    firsts = tasks if config["any_order"] else tasks[:1]
    evaluations, learning, episodes, rewarded = {}, False, 0, 0
    for record in read_metrics(run.file("metrics.jsonl")):
        if "eval/completed_subtasks" in record:
            point = record["step"] // config["eval_every"] * config["eval_every"]
            evaluations[point] = record["eval/completed_subtasks"]
        learning = learning or any(key.startswith("losses/") for key in record)
        if not learning and "charts/completed_subtasks" in record:
            episodes += 1
            rewarded += any(record[f"charts/success/{task}"] for task in firsts)
    return RunResult(name=name, algo=config["algo"], seed=config["seed"], tasks=tasks,
                     env_steps=run.manifest.metrics["env_steps"], evaluations=evaluations,
                     final=evaluation.manifest.metrics, artifacts=(run, evaluation),
                     pretrained=", ".join(dict.fromkeys(ref.name for ref in run.manifest.parents)),
                     health=health_rate(checks, run, firsts),
                     warmup=Warmup(episodes, rewarded))


def health_checks(workspace: Workspace) -> list[HealthCheck]:
    """The workspace's health checks (`eval-policy`, `eval-skills` with prior episodes), each
    with the artifacts it checked."""
    checks = []
    for name in workspace.names("eval"):
        manifest = workspace.read_manifest("eval", name)
        if "prior_rollouts" in manifest.metrics:
            checks.append(HealthCheck(name, _keys(manifest.parents),
                                      manifest.metrics["prior_rollouts"],
                                      manifest.config["episode_steps"],
                                      manifest.config.get("low_level_actions")))
    return checks


def models_check(checks: list[HealthCheck], models: list[ParentRef],
                 episode_steps: int | None = None,
                 low_level_actions: str | None = None) -> HealthCheck | None:
    """The check with the most episodes on exactly these pre-trained models (each artifact at
    the version the check loaded), where given with episodes of this length and low-level
    acting; None when there is none."""
    wanted = _keys(models)
    matching = [check for check in checks if wanted and wanted <= check.parents
                and episode_steps in (None, check.episode_steps)
                and low_level_actions in (None, check.low_level_actions)]
    return max(matching, key=lambda check: check.rollouts["episodes"], default=None)


def health_rate(checks: list[HealthCheck], run: Artifact,
                firsts: tuple[str, ...]) -> float | None:
    """How often the prior's codes (skills) from reset completed a subtask the run's task can
    start with, as the best check of the run's pre-trained models measured it."""
    check = models_check(checks, run.manifest.parents)
    return None if check is None else max(check.rollouts["success"][task] for task in firsts)


def _keys(refs: list[ParentRef]) -> set[tuple[str, str, str]]:
    return {(ref.kind, ref.name, ref.manifest_sha256) for ref in refs}


def by_algo(runs: list[RunResult]) -> dict[str, list[RunResult]]:
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(run.algo, []).append(run)
    return groups
