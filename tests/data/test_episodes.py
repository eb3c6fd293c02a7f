import h5py
import numpy as np
import pytest

from ptgm_cli.data.episodes import read_episodes, write_episodes
from ptgm_cli.errors import PtgmError


def test_round_trip(tmp_path, random_episodes):
    episodes = random_episodes()
    write_episodes(tmp_path / "episodes.h5", episodes)
    again = read_episodes(tmp_path / "episodes.h5")
    for name in ("observations", "qpos", "qvel", "actions", "rewards", "lengths"):
        np.testing.assert_array_equal(getattr(again, name), getattr(episodes, name))
    assert again.subtask_plans == [["kettle"], ["kettle"]]
    assert again.state_starts.tolist() == [0, 6, 10]
    states, actions = again.episode_slices(1)
    assert again.qpos[states].shape == (4, 30) and again.actions[actions].shape == (3, 9)
    assert again.select(np.array([1])).n_steps == 3


def test_truncated_file_is_a_user_error(tmp_path, random_episodes):
    path = tmp_path / "episodes.h5"
    write_episodes(path, random_episodes())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PtgmError, match="unreadable or truncated"):
        read_episodes(path)


def test_nans_wrong_dims_and_empty_episodes_are_refused(tmp_path, random_episodes):
    episodes = random_episodes()
    episodes.actions[2, 4] = np.nan
    with pytest.raises(PtgmError, match="actions has 1 row"):
        episodes.validate("data")
    episodes = random_episodes()
    episodes.observations = episodes.observations[:, :58]
    with pytest.raises(PtgmError, match=r"observations has shape \(10, 58\)"):
        episodes.validate("data")
    episodes = random_episodes()
    episodes.lengths = np.array([8, 0])
    with pytest.raises(PtgmError, match="empty episode"):
        episodes.validate("data")
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("x", data=[1])
    with pytest.raises(PtgmError, match="not a ptgm episode file"):
        read_episodes(path)
