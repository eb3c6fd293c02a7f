"""The study's figures, as PNG bytes: sample-efficiency curves with confidence bands, and
per-subtask success."""

from __future__ import annotations

import io

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def curves_png(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
               runs: dict[str, int]) -> bytes:
    """Per algorithm: env steps, IQM, band low, band high."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    for algo, (steps, iqm, low, high) in curves.items():
        line, = axes.plot(steps, iqm, marker="o", markersize=3,
                          label=f"{algo} ({runs[algo]} runs)")
        axes.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_xlabel("env steps")
    axes.set_ylabel("completed subtasks (IQM, 95% CI)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    axes.set_title("Periodic evaluations")
    return _png(figure)


def subtask_png(success: dict[str, dict[str, float]]) -> bytes:
    """Per algorithm, the mean over its runs of each subtask's success rate."""
    plt = _pyplot()
    algos = list(success)
    tasks = list(next(iter(success.values())))
    figure, axes = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(algos)
    for i, algo in enumerate(algos):
        positions = np.arange(len(tasks)) + (i - (len(algos) - 1) / 2) * width
        axes.bar(positions, [success[algo][task] for task in tasks], width, label=algo)
    axes.set_xticks(np.arange(len(tasks)), tasks)
    axes.set_ylabel("success rate (final eval)")
    axes.set_ylim(0, 1)
    axes.grid(axis="y", alpha=0.3)
    axes.legend()
    axes.set_title("Subtasks")
    return _png(figure)
