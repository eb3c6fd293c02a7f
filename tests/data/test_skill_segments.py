import numpy as np

from ptgm_cli.data.episodes import Episodes
from ptgm_cli.data.skill_segments import skill_segments


def numbered_episodes(lengths) -> Episodes:
    """Episodes whose observations and actions hold (episode, step) in their first two dims."""
    states = np.concatenate([[(e, t) for t in range(n + 1)] for e, n in enumerate(lengths)])
    actions = np.concatenate([[(e, t) for t in range(n)] for e, n in enumerate(lengths)])
    observations = np.pad(states, ((0, 0), (0, 57))).astype(float)
    return Episodes(observations, np.zeros((len(states), 30)), None,
                    np.pad(actions, ((0, 0), (0, 7))).astype(float), np.zeros(len(actions)),
                    np.array(lengths))


def test_every_window_of_consecutive_steps_within_an_episode_once():
    episodes = numbered_episodes([12, 3, 10])
    segments = skill_segments(episodes, np.array([0, 1, 2]), length=10)
    assert len(segments) == (12 - 10 + 1) + 0 + 1  # episode 1 is too short
    states = episodes.observations[segments.state_rows][..., :2]  # (N, 11, 2)
    actions = episodes.actions[segments.action_rows][..., :2]  # (N, 10, 2)
    assert states.shape == (4, 11, 2) and actions.shape == (4, 10, 2)
    assert (states[:, :, 0] == states[:, :1, 0]).all()  # one episode per segment
    np.testing.assert_array_equal(np.diff(states[:, :, 1], axis=1), 1)  # consecutive steps
    np.testing.assert_array_equal(actions, states[:, :-1])  # each state's own action
    assert sorted(map(tuple, states[:, 0])) == [(0, 0), (0, 1), (0, 2), (2, 0)]


def test_no_segments_from_no_episodes():
    segments = skill_segments(numbered_episodes([5]), np.array([], np.int64), length=3)
    assert segments.state_rows.shape == (0, 4) and segments.action_rows.shape == (0, 3)
