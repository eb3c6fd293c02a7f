"""`ptgm report`: a study of sweeps or runs, per algorithm: completed subtasks at fixed env-step
points of the periodic evaluations and in the final evaluations, as the mean and the IQM with
95% stratified-bootstrap confidence intervals, the probability that the reference algorithm
(PTGM) improves on each other one, and per-subtask success (`studies/statistics.py`, rliable).

The report artifact holds `report.md` (the tables, for a README or a paper), `curves.png` and
`subtasks.png`, `statistics.json`, and `report.html`: one self-contained page with the tables,
the figures, a rollout video of each algorithm's best run and the best PTGM run's codebook.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from ptgm_cli import report
from ptgm_cli.configs import HIERARCHICAL, ReportConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import Manifest
from ptgm_cli.stages.evaluate import offscreen_frame_rate
from ptgm_cli.studies import figures, media, statistics
from ptgm_cli.studies.page import RunRow, Study, html_page, markdown
from ptgm_cli.studies.results import RunResult, by_algo, gather
from ptgm_cli.workspace import Artifact, Workspace

FINAL = "final"


def run(config: ReportConfig, workspace: Workspace, force: bool = False) -> Artifact:
    workspace.check_can_publish("report", config.name, force)
    runs, sweeps = gather(workspace, config.sources)
    groups = by_algo(runs)
    if config.reference not in groups and len(groups) > 1:
        raise PtgmError(f"--reference {config.reference} has no run among {', '.join(groups)}; "
                        "give one of them")
    report.info(f"report of {len(runs)} runs: " + ", ".join(
        f"{algo} {len(group)}" for algo, group in groups.items()))
    study = summarise(config, groups)
    curves_png = figures.curves_png(learning_curves(config, groups), study.runs)
    subtasks_png = figures.subtask_png(study.success)
    videos, gallery, gallery_run = {}, [], None
    if config.videos:
        frame_rate = offscreen_frame_rate()
        for algo, group in groups.items():
            best = best_run(group)
            report.info(f"recording a rollout of {best.name}")
            videos[f"{algo}: {best.name} (final eval {best.final['completed_subtasks_mean']:.2f})"
                   ] = media.rollout_video(workspace, best.artifacts[0], config.seed, frame_rate)
    ptgm_runs = [run for algo, group in groups.items() if algo in HIERARCHICAL for run in group]
    if config.gallery and ptgm_runs:
        gallery_run = best_run(ptgm_runs).name
        report.info(f"rendering the codebook of {gallery_run}")
        gallery = media.codebook_gallery(workspace, best_run(ptgm_runs).artifacts[0])

    parents = [artifact.ref for run in runs for artifact in run.artifacts]
    parents += [sweep.ref for sweep in sweeps]
    manifest = Manifest(kind="report", name=config.name, parents=parents, seed=config.seed,
                        config=config.model_dump(mode="json"),
                        metrics={"runs": len(runs), "algorithms": list(groups)})
    with workspace.publish(manifest, overwrite=force) as staging:
        staging.file("report.md").write_text(markdown(study))
        staging.file("curves.png").write_bytes(curves_png)
        staging.file("subtasks.png").write_bytes(subtasks_png)
        staging.file("statistics.json").write_text(json.dumps(
            {"points": study.points, "runs": study.runs,
             "estimates": {algo: {point: {metric: asdict(estimate)
                                          for metric, estimate in metrics.items()}
                                  for point, metrics in by_point.items()}
                           for algo, by_point in study.estimates.items()},
             "improvement": {other: asdict(value) for other, value in study.improvement.items()},
             "success": study.success, "per_run": [asdict(row) for row in study.run_rows]},
            indent=1))
        staging.file("report.html").write_text(
            html_page(study, curves_png, subtasks_png, videos, gallery, gallery_run))
    report.results.print(markdown(study), markup=False, highlight=False, soft_wrap=True)
    return workspace.load("report", config.name)


def point_label(steps: int) -> str:
    """1M, 250k, or the number itself."""
    for unit, suffix in ((1_000_000, "M"), (1000, "k")):
        if steps % unit == 0:
            return f"{steps // unit}{suffix}"
    return str(steps)


def summarise(config: ReportConfig, groups: dict[str, list[RunResult]]) -> Study:
    """The tables' numbers: at each point that every run of an algorithm reached, and final."""
    estimates: dict[str, dict] = {algo: {} for algo in groups}
    labels = []
    for point in config.points:
        scores = {algo: [run.evaluations[point] for run in group]
                  for algo, group in groups.items()
                  if all(point in run.evaluations for run in group)}
        if scores:
            labels.append(point_label(point))
            for algo, values in statistics.aggregates(scores, config.reps, config.seed).items():
                estimates[algo][labels[-1]] = values
    finals = {algo: [run.final["completed_subtasks_mean"] for run in group]
              for algo, group in groups.items()}
    for algo, values in statistics.aggregates(finals, config.reps, config.seed).items():
        estimates[algo][FINAL] = values
    improvement = (statistics.improvement_probabilities(finals, config.reference, config.reps,
                                                        config.seed)
                   if config.reference in finals else {})
    success = {algo: {task: float(np.mean([run.final["success"][task] for run in group]))
                      for task in group[0].final["success"]}
               for algo, group in groups.items()}
    run_points = [point_label(point) for point in config.points
                  if any(point in run.evaluations for group in groups.values() for run in group)]
    return Study(
        title=f"ptgm report {config.name!r}", points=[*labels, FINAL], estimates=estimates,
        runs={algo: len(group) for algo, group in groups.items()}, reference=config.reference,
        improvement=improvement, success=success,
        command="ptgm report " + " ".join(config.sources), run_points=[*run_points, FINAL],
        run_rows=[run_row(run, config.points) for group in groups.values() for run in group])


def run_row(run: RunResult, points: tuple[int, ...]) -> RunRow:
    scores = {point_label(point): run.evaluations[point] for point in points
              if point in run.evaluations}
    scores[FINAL] = run.final["completed_subtasks_mean"]
    return RunRow(name=run.name, algo=run.algo, seed=run.seed, pretrained=run.pretrained,
                  health=run.health, warmup_rewarded=run.warmup.rewarded,
                  warmup_episodes=run.warmup.episodes, scores=scores,
                  final_stderr=run.final["completed_subtasks_stderr"])


def learning_curves(config: ReportConfig, groups: dict[str, list[RunResult]]) -> dict:
    """Per algorithm, the IQM of the periodic evaluations at the points all its runs reached."""
    matrices, steps = {}, {}
    for algo, group in groups.items():
        common = sorted(set.intersection(*(set(run.evaluations) for run in group)))
        if common:
            steps[algo] = np.array(common)
            matrices[algo] = np.array([[run.evaluations[point] for point in common]
                                       for run in group])
    if not matrices:
        return {}
    bands = statistics.iqm_curves(matrices, config.reps, config.seed)
    return {algo: (steps[algo], *bands[algo]) for algo in matrices}


def best_run(group: list[RunResult]) -> RunResult:
    return max(group, key=lambda run: (run.final["completed_subtasks_mean"], -run.seed))
