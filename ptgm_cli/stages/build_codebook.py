"""`ptgm build-codebook`: cluster the dataset's goals into a discrete goal space (PTGM §4.2)."""

from __future__ import annotations

import time

import numpy as np
from rich.table import Table

from ptgm_cli import report
from ptgm_cli.artifacts import load_dataset
from ptgm_cli.configs import BuildCodebookConfig
from ptgm_cli.kitchen.layout import N_ROBOT_QPOS, goal_indices, goal_names
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.models.codebook import (
    CODEBOOK_FILE,
    Clustering,
    Codebook,
    cluster_goals,
    plot_codebook,
    standardisation,
)
from ptgm_cli.models.mlp import check_finite
from ptgm_cli.models.training import seed_everything
from ptgm_cli.workspace import Artifact, Workspace

PLOT_FILE = "codes.png"


def run(config: BuildCodebookConfig, workspace: Workspace, force: bool = False) -> Artifact:
    seed_everything(config.seed)
    episodes, dataset = load_dataset(workspace, config.dataset)
    states = episodes.qpos_states()[::config.subsample]
    goals = states[:, list(goal_indices(config.goal_dims))].astype(np.float32)
    goal_mean, goal_std = standardisation(goals)
    # The codes are rows of the goals: finite goals, mean and std make a finite codebook.
    check_finite({"goals": goals, "goal_mean": goal_mean, "goal_std": goal_std},
                 f"codebook {config.name!r}: the goals of dataset {config.dataset!r}",
                 f"re-create it with `ptgm fetch-data --name {config.dataset} --force`")
    manifest = Manifest(
        kind="codebook", name=config.name, parents=[dataset.ref],
        config=config.model_dump(mode="json"), seed=config.seed,
        shapes=Shapes(goal_names=goal_names(config.goal_dims),
                      goal_indices=list(goal_indices(config.goal_dims)), n_codes=config.n_codes),
    )
    with workspace.publish(manifest, overwrite=force) as staging:
        report.info(f"clustering {len(goals)} goals ({config.goal_dims}, every "
                    f"{config.subsample}th state) into {config.n_codes} codes by {config.method}")
        started = time.perf_counter()
        clustering = cluster_goals((goals - goal_mean) / goal_std, config.n_codes,
                                   config.method, config.seed)
        codebook = Codebook(goals[clustering.code_rows], config.goal_dims, goal_mean, goal_std)
        staging.manifest.timings = {"cluster_seconds": time.perf_counter() - started}
        staging.manifest.metrics = {
            "goals": len(goals),
            "nearest_code_to_handle_cm": _nearest_code_to_handles(codebook),
            "cluster_size_min": int(clustering.cluster_sizes.min()),
            "cluster_size_max": int(clustering.cluster_sizes.max()),
            "cluster_sizes": clustering.cluster_sizes.tolist(),
            "codes_with_subtask_done": {
                task: int(done.sum()) for task, done in codebook.subtasks_done().items()
            },
        }
        codebook.save(staging.file(CODEBOOK_FILE))
        plot_codebook(staging.file(PLOT_FILE), clustering,
                      f"codebook {config.name!r}: {config.n_codes} codes, {config.method}")
    artifact = workspace.load("codebook", config.name)
    report.results.print(_summary(config, codebook, clustering,
                                  artifact.manifest.metrics["nearest_code_to_handle_cm"]))
    return artifact


def _nearest_code_to_handles(codebook: Codebook) -> dict[str, float]:
    """Per grasped handle, the fingertip distance (cm) of the code that comes closest; empty
    when the goal dims leave out the robot joints."""
    from ptgm_cli.kitchen.reach import handle_distances

    robot = list(range(N_ROBOT_QPOS))
    if codebook.goal_indices[:N_ROBOT_QPOS] != tuple(robot):
        return {}
    distances = handle_distances(codebook.codes[:, robot])
    return {task: round(100 * float(d.min()), 2) for task, d in distances.items()}


def _summary(config: BuildCodebookConfig, codebook: Codebook, clustering: Clustering,
             reach: dict[str, float]) -> Table:
    sizes = clustering.cluster_sizes
    table = Table(title=f"codebook {config.name!r}")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("goals clustered", f"{len(clustering.labels)} (every {config.subsample}th state)")
    table.add_row("goal dims", f"{config.goal_dims} ({codebook.goal_dim})")
    table.add_row("codes", f"{codebook.n_codes} by {config.method}")
    table.add_row("cluster size min / median / max",
                  f"{sizes.min()} / {int(np.median(sizes))} / {sizes.max()}")
    for task, done in codebook.subtasks_done().items():
        table.add_row(f"codes with {task} done", str(int(done.sum())))
    for task, centimetres in reach.items():
        table.add_row(f"nearest code to the {task} handle", f"{centimetres:.1f} cm")
    return table
