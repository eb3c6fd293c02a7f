"""The report's statistics against values computed by hand on fixed numbers."""

import numpy as np
import pytest

from ptgm_cli.studies.statistics import aggregates, improvement_probabilities, iqm_curves


def test_mean_and_iqm_of_fixed_scores():
    # Eight runs: the IQM is the mean of the middle four, (2 + 3 + 4 + 5) / 4 = 3.5; with an
    # outlier at 70 instead of 7 the mean moves to 91 / 8 = 11.375 and the IQM does not.
    estimates = aggregates({"a": [0, 1, 2, 3, 4, 5, 6, 7], "b": [0, 1, 2, 3, 4, 5, 6, 70]},
                           reps=500, seed=0)
    assert estimates["a"]["mean"].value == pytest.approx(3.5)
    assert estimates["a"]["iqm"].value == pytest.approx(3.5)
    assert estimates["b"]["mean"].value == pytest.approx(11.375)
    assert estimates["b"]["iqm"].value == pytest.approx(3.5)
    for estimate in (*estimates["a"].values(), *estimates["b"].values()):
        assert estimate.low <= estimate.value <= estimate.high
    assert estimates["b"]["mean"].high > estimates["a"]["mean"].high  # the outlier widens it


def test_identical_runs_have_no_uncertainty():
    estimate = aggregates({"a": [2.5, 2.5, 2.5]}, reps=200, seed=0)["a"]["iqm"]
    assert (estimate.value, estimate.low, estimate.high) == (2.5, 2.5, 2.5)


def test_probability_of_improvement_counts_wins_and_half_the_ties():
    # x = 1, 2, 3 against y = 0, 1, 2: of the 9 pairs x wins 6 and ties 2, so 7 / 9.
    probability = improvement_probabilities({"x": [1, 2, 3], "y": [0, 1, 2]}, "x", reps=500,
                                            seed=0)["y"]
    assert probability.value == pytest.approx(7 / 9)
    assert 0 <= probability.low <= probability.value <= probability.high <= 1
    assert improvement_probabilities({"x": [1.0]}, "x", reps=10, seed=0) == {}


def test_the_same_seed_gives_the_same_intervals_and_leaves_numpy_alone():
    scores = {"a": [0.5, 1.0, 3.0, 3.5, 4.0]}
    np.random.seed(7)
    expected_draw = np.random.random()
    np.random.seed(7)
    assert aggregates(scores, 300, seed=1) == aggregates(scores, 300, seed=1)
    assert aggregates(scores, 300, seed=1) != aggregates(scores, 300, seed=2)
    assert np.random.random() == expected_draw


def test_iqm_curves_point_by_point():
    runs = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], dtype=float)
    iqm, low, high = iqm_curves({"a": runs}, reps=300, seed=0)["a"]
    assert iqm == pytest.approx([1.5, 2.5, 3.5])  # the middle two runs at each point
    assert np.all(low <= iqm) and np.all(iqm <= high)
