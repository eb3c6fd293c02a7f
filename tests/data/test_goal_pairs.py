import numpy as np
import pytest

from ptgm_cli.data.episodes import Episodes
from ptgm_cli.data.goal_pairs import goal_pairs, split_episodes
from ptgm_cli.errors import PtgmError


def counting_episodes(lengths) -> Episodes:
    """Episodes whose state rows hold (episode, step) and whose actions hold (episode, step)."""
    states = np.concatenate([[(e, t) for t in range(n + 1)] for e, n in enumerate(lengths)])
    actions = np.concatenate([[(e, t) for t in range(n)] for e, n in enumerate(lengths)])
    observations = np.zeros((len(states), 59))
    observations[:, :2] = states
    return Episodes(observations, np.zeros((len(states), 30)), None,
                    np.pad(actions, ((0, 0), (0, 7))).astype(float), np.zeros(len(actions)),
                    np.array(lengths))


def test_pairs_stay_within_episodes_and_look_1_to_horizon_ahead():
    episodes = counting_episodes([12, 3, 7])
    pairs = goal_pairs(episodes, np.array([0, 1, 2]), horizon=5)
    state, goal = episodes.observations[pairs.state_rows, :2], episodes.observations[
        pairs.goal_rows, :2]
    action = episodes.actions[pairs.action_rows, :2]
    np.testing.assert_array_equal(state[:, 0], goal[:, 0])
    np.testing.assert_array_equal(state, action)  # each state's own action
    ahead = goal[:, 1] - state[:, 1]
    assert ahead.min() == 1 and ahead.max() == 5
    # every (t, h) exactly once: sum over episodes of sum_h (T - h + 1)
    expected = sum(sum(n - h + 1 for h in range(1, min(5, n) + 1)) for n in (12, 3, 7))
    assert len(pairs) == expected == len({(*s, *g) for s, g in zip(state, goal, strict=True)})


def test_min_horizon_keeps_only_goals_at_least_that_far_ahead():
    episodes = counting_episodes([12, 3, 7])
    pairs = goal_pairs(episodes, np.array([0, 1, 2]), horizon=5, min_horizon=5)
    ahead = (episodes.observations[pairs.goal_rows, 1]
             - episodes.observations[pairs.state_rows, 1])
    assert set(ahead) == {5}
    assert len(pairs) == (12 - 5 + 1) + (7 - 5 + 1)  # the 3-step episode has no such pair


def test_pairs_of_selected_episodes_only():
    episodes = counting_episodes([4, 4, 4])
    pairs = goal_pairs(episodes, np.array([1]), horizon=2)
    assert set(episodes.observations[pairs.state_rows, 0]) == {1}
    assert len(goal_pairs(episodes, np.array([], dtype=int), horizon=2)) == 0


def test_split_is_disjoint_complete_and_seeded():
    split = split_episodes(20, 0.1, seed=3)
    assert len(split.validation) == 2 and len(split.train) == 18
    assert sorted([*split.train, *split.validation]) == list(range(20))
    again = split_episodes(20, 0.1, seed=3)
    np.testing.assert_array_equal(split.validation, again.validation)
    assert not np.array_equal(split.validation, split_episodes(20, 0.1, seed=4).validation)
    assert len(split_episodes(3, 0.9, seed=0).train) == 1  # always something to train on


def test_split_needs_two_episodes():
    with pytest.raises(PtgmError, match="fetch-data --episodes"):
        split_episodes(1, 0.1, seed=0)
