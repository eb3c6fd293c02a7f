"""Aggregate statistics of a few runs, as "Deep RL at the Edge of the Statistical Precipice"
(Agarwal et al. 2021) recommends and computes them with rliable: the mean and the interquartile
mean (IQM, the mean of the middle 50% of runs) with 95% stratified-bootstrap confidence
intervals, and the probability of improvement P(X > Y) + 0.5 P(X = Y) of one algorithm over
another. With one task the strata are the runs themselves.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float  # the 95% confidence interval
    high: float

    def text(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def _run_matrix(scores) -> np.ndarray:
    """rliable's layout: runs x tasks, here one task."""
    return np.asarray(scores, dtype=float).reshape(-1, 1)


def aggregates(scores: dict[str, list[float]], reps: int,
               seed: int) -> dict[str, dict[str, Estimate]]:
    """Per algorithm, the mean and IQM of its runs' scores with their confidence intervals."""
    from rliable import metrics

    def mean_and_iqm(matrix: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_mean(matrix), metrics.aggregate_iqm(matrix)])

    points, intervals = _interval_estimates(
        {algo: _run_matrix(values) for algo, values in scores.items()}, mean_and_iqm, reps, seed)
    return {algo: {metric: Estimate(float(points[algo][i]), float(intervals[algo][0, i]),
                                    float(intervals[algo][1, i]))
                   for i, metric in enumerate(("mean", "iqm"))}
            for algo in scores}


def improvement_probabilities(scores: dict[str, list[float]], reference: str, reps: int,
                              seed: int) -> dict[str, Estimate]:
    """P(`reference` improves on each other algorithm), with its confidence interval."""
    from rliable import metrics

    def probability(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array([metrics.probability_of_improvement(x, y)])

    pairs = {other: [_run_matrix(scores[reference]), _run_matrix(values)]
             for other, values in scores.items() if other != reference}
    if not pairs:
        return {}
    points, intervals = _interval_estimates(pairs, probability, reps, seed)
    return {other: Estimate(float(points[other][0]), float(intervals[other][0, 0]),
                            float(intervals[other][1, 0]))
            for other in pairs}


def iqm_curves(curves: dict[str, np.ndarray], reps: int,
               seed: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per algorithm, from its runs' scores at common points (runs x points): the IQM at every
    point and its confidence band (low, high), from one bootstrap over the runs."""
    from rliable import metrics

    def iqm_per_point(matrix: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(matrix[:, :, j]) for j in range(matrix.shape[2])])

    points, intervals = _interval_estimates(
        {algo: np.asarray(values, dtype=float)[:, None, :] for algo, values in curves.items()},
        iqm_per_point, reps, seed)
    return {algo: (points[algo], intervals[algo][0], intervals[algo][1]) for algo in curves}


def _interval_estimates(score_dict: dict, function: Callable, reps: int, seed: int):
    """rliable's stratified bootstrap, seeded. Its resampling of runs draws from numpy's global
    generator (and arch's from the RandomState given, which it warns it will drop one day), so
    the global one is seeded for the call and then put back as it was."""
    from rliable import library

    global_state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return library.get_interval_estimates(
                score_dict, function, reps=reps, confidence_interval_size=CONFIDENCE,
                random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(global_state)
