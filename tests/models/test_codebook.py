import numpy as np
import pytest

from ptgm_cli.errors import PtgmError
from ptgm_cli.models.codebook import Codebook, cluster_goals, standardisation


def hand_made_codebook() -> Codebook:
    """Two dims, unit scale: code 0 points along x, code 1 is far out along the diagonal."""
    codes = np.array([[1.0, 0.0], [10.0, 10.0]], dtype=np.float32)
    return Codebook(codes, "paper21", np.zeros(2, np.float32), np.ones(2, np.float32))


def test_cosine_and_euclidean_labels_differ_as_expected():
    codebook = hand_made_codebook()
    goals = np.array([[2.0, 1.8], [9.0, 0.5], [0.5, 0.6]])
    # (2, 1.8) is nearer to (1, 0) but points along the diagonal.
    assert codebook.assign(goals, "cosine").tolist() == [1, 0, 1]
    assert codebook.assign(goals, "euclidean").tolist() == [0, 0, 0]


def test_labels_use_the_standardised_goal_space():
    codebook = Codebook(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32), "paper21",
                        np.array([10.0, 10.0], np.float32), np.array([1.0, 100.0], np.float32))
    # Raw, (11, 10) would be near code 0's direction; centred and scaled it is (1, 0): code 0;
    # (10, 110) becomes (0, 1): code 1.
    assert codebook.assign(np.array([[11.0, 10.0], [10.0, 110.0]])).tolist() == [0, 1]


def test_standardisation_floors_the_std_of_still_dims():
    goals = np.random.default_rng(0).normal(size=(100, 3))
    goals[:, 2] = 0.5 + 1e-6 * goals[:, 2]
    _, std = standardisation(goals)
    assert std[2] == pytest.approx(0.01)


@pytest.mark.parametrize("method", ["kmeans", pytest.param("tsne-kmeans", marks=pytest.mark.slow)])
def test_codes_are_real_goals_and_seeded(method):
    rng = np.random.default_rng(0)
    goals = np.concatenate([rng.normal(centre, 0.1, size=(30, 3)) for centre in (0, 3, 6)])
    first = cluster_goals(goals, 3, method, seed=1)
    again = cluster_goals(goals, 3, method, seed=1)
    np.testing.assert_array_equal(first.code_rows, again.code_rows)
    assert sorted(first.cluster_sizes.tolist()) == [30, 30, 30]
    assert sorted(first.code_rows // 30) == [0, 1, 2]  # one code per blob
    for cluster, row in enumerate(first.code_rows):
        assert first.labels[row] == cluster


def test_too_few_goals_for_the_codes():
    with pytest.raises(PtgmError, match="lower --n-codes"):
        cluster_goals(np.zeros((4, 2)), 5, "kmeans", seed=0)
