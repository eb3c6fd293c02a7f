"""Learning curves from runs' `metrics.jsonl`: one line per group of runs (e.g. an algorithm over
several seeds), its mean over the runs and the band between the lowest and highest run.

Each run's records are first averaged in equal-width env-step bins, so runs whose episodes end
at different steps share one x axis.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ptgm_cli.config import check_writable_file
from ptgm_cli.errors import PtgmError
from ptgm_cli.rl.logger import METRICS_FILE, read_metrics
from ptgm_cli.workspace import Workspace

DEFAULT_METRIC = "charts/completed_subtasks"
SEED_SUFFIX = re.compile(r"-seed\d+$")


def resolve_runs(workspace: Workspace, runs: list[str]) -> tuple[list[Path], list[str]]:
    """metrics.jsonl of each run (an rl artifact name or a path) and its group label: the run's
    name without its `-seed<N>` suffix, so `ptgm-seed0` and `ptgm-seed1` form one curve."""
    files, labels = [], []
    for run in runs:
        path = Path(run)
        if path.exists():
            folder = path if path.is_dir() else path.parent
            files.append(folder / METRICS_FILE)
            name = folder.name
        else:
            files.append(workspace.load("rl", run).file(METRICS_FILE))
            name = run
        if not files[-1].is_file():
            raise PtgmError(f"{files[-1]} does not exist; give an rl artifact name or a run "
                            "folder holding metrics.jsonl")
        labels.append(SEED_SUFFIX.sub("", name))
    return files, labels


def check_image_file(out: Path) -> None:
    """Refuse a file that matplotlib cannot write, before the runs are read and drawn."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(out).suffix.lower().removeprefix(".")
    if suffix and suffix not in formats:
        raise PtgmError(f"cannot write a figure as {out}: use one of the suffixes "
                        f"{', '.join('.' + name for name in sorted(formats))}")
    check_writable_file(out)


def binned_curve(records: list[dict], metric: str, edges: np.ndarray) -> np.ndarray:
    """Mean of `metric` per step bin; a bin without records repeats the previous bin's value, up
    to the run's last record: a run that stopped earlier than the others ends there, rather than
    being drawn as if it had gone on at its last value."""
    steps = np.array([r["step"] for r in records if metric in r], dtype=float)
    values = np.array([r[metric] for r in records if metric in r], dtype=float)
    which = np.clip(np.digitize(steps, edges[1:-1]), 0, len(edges) - 2)
    curve = np.full(len(edges) - 1, np.nan)
    for index in np.unique(which):
        curve[index] = values[which == index].mean()
    last = which.max() if len(which) else 0
    for index in range(1, last + 1):
        if np.isnan(curve[index]):
            curve[index] = curve[index - 1]
    return curve


def plot_runs(metric_files: list[Path], out: Path, labels: list[str],
              metric: str = DEFAULT_METRIC, bins: int = 40) -> Path:
    """Plot `metric` against env steps; runs with the same label are one group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_image_file(out)
    runs = [(label, read_metrics(path)) for label, path in zip(labels, metric_files, strict=True)]
    runs = [(label, records) for label, records in runs if any(metric in r for r in records)]
    if not runs:
        raise PtgmError(f"no {metric!r} records in the given runs; let them train longer "
                        "or choose another --metric")
    last_step = max(r["step"] for _, records in runs for r in records)
    edges = np.linspace(0, last_step, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label in dict.fromkeys(label for label, _ in runs):
        curves = np.stack([binned_curve(records, metric, edges)
                           for group, records in runs if group == label])
        seeds = len(curves)
        with warnings.catch_warnings():  # bins before a run's first record are all-NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = (reduce(curves, axis=0) for reduce in (np.nanmean, np.nanmin,
                                                                        np.nanmax))
        line, = axes.plot(centres, mean, label=f"{label} ({seeds} run{'s' * (seeds > 1)})")
        if seeds > 1:
            axes.fill_between(centres, low, high, color=line.get_color(), alpha=0.2,
                              linewidth=0)
    axes.set_xlabel("env steps")
    axes.set_ylabel(metric)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out
