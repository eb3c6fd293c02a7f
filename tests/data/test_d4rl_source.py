import h5py
import numpy as np
import pytest

from ptgm_cli.data.d4rl_source import load_d4rl
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.env import KitchenEnv

# Rows per recorded episode; the 1-row one holds no transition and must be dropped.
EPISODE_ROWS = (6, 1, 4, 5)


def d4rl_columns(seed=0) -> dict[str, np.ndarray]:
    """KitchenEnv rollouts in D4RL's kitchen layout: qpos 30 + a constant 30-dim goal per row,
    the action taken in that row's state, and `terminals` / `timeouts` on the last rows (the
    last episode ends with the file)."""
    env, rng = KitchenEnv(max_episode_steps=None), np.random.default_rng(seed)
    goal = rng.normal(size=30)
    qpos, actions = [], []
    for episode, n_rows in enumerate(EPISODE_ROWS):
        env.reset(seed=seed + episode)
        for _ in range(n_rows):
            qpos.append(env.data.qpos.copy())
            actions.append(rng.uniform(-1, 1, size=9))
            env.step(actions[-1])
    n_rows, ends = len(qpos), np.cumsum(EPISODE_ROWS) - 1
    terminals, timeouts = np.zeros(n_rows, bool), np.zeros(n_rows, bool)
    terminals[ends[[0, 1]]] = True
    timeouts[ends[2]] = True
    return {"observations": np.hstack([qpos, np.tile(goal, (n_rows, 1))]),
            "actions": np.array(actions), "rewards": rng.normal(size=n_rows),
            "terminals": terminals, "timeouts": timeouts}


def write_d4rl(path, columns) -> None:
    with h5py.File(path, "w") as handle:
        for key, value in columns.items():
            handle.create_dataset(key, data=value)


def test_splits_episodes_and_keeps_values(tmp_path, capsys):
    columns = d4rl_columns()
    write_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", columns)
    episodes = load_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", None)
    warnings = capsys.readouterr().err
    assert "older simulator" in warnings and "dropping 1 one-step episode" in warnings
    assert episodes.lengths.tolist() == [5, 3, 4]
    assert episodes.qvel is None and episodes.subtask_plans == [[], [], []]
    state_rows = np.r_[0:6, 7:11, 11:16]
    action_rows = np.r_[0:5, 7:10, 11:15]
    np.testing.assert_array_equal(episodes.qpos, columns["observations"][state_rows, :30])
    np.testing.assert_array_equal(episodes.qpos_states(), episodes.qpos)
    np.testing.assert_array_equal(episodes.observations[:, 9:18], 0.0)
    np.testing.assert_array_equal(episodes.observations[:, 39:], 0.0)
    np.testing.assert_array_equal(episodes.actions, columns["actions"][action_rows])
    np.testing.assert_array_equal(episodes.rewards, columns["rewards"][action_rows])


def test_url_is_downloaded_to_the_cache_once(tmp_path, monkeypatch):
    source = tmp_path / "served" / "kitchen_partial-v0.hdf5"
    source.parent.mkdir()
    write_d4rl(source, d4rl_columns())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    episodes = load_d4rl(None, source.as_uri())
    cached = tmp_path / "cache" / "ptgm" / "d4rl" / "kitchen_partial-v0.hdf5"
    assert cached.read_bytes() == source.read_bytes()
    source.unlink()
    assert load_d4rl(None, source.as_uri()).n_steps == episodes.n_steps


def test_unreachable_url_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(PtgmError, match="could not download .*--path"):
        load_d4rl(None, "http://127.0.0.1:9/kitchen_mixed-v0.hdf5")
    assert not list((tmp_path / "ptgm" / "d4rl").iterdir())


def test_truncated_file_is_a_user_error(tmp_path):
    path = tmp_path / "kitchen_mixed-v0.hdf5"
    write_d4rl(path, d4rl_columns())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PtgmError, match="unreadable or truncated"):
        load_d4rl(path, None)


def with_a_nan_action(columns):
    columns["actions"][2, 4] = np.nan


def with_59_dim_observations(columns):
    columns["observations"] = columns["observations"][:, :59]


def without_timeouts(columns):
    del columns["timeouts"]


def without_rows(columns):
    for key, value in columns.items():
        columns[key] = value[:0]


@pytest.mark.parametrize(("change", "message"), [
    (with_a_nan_action, r"actions has 1 row\(s\) with NaN"),
    (with_59_dim_observations, r"observations has shape \(16, 59\), expected \(16, 60\)"),
    (without_timeouts, "missing timeouts"),
    (without_rows, "holds no steps"),
])
def test_bad_contents_are_refused(tmp_path, change, message):
    columns = d4rl_columns()
    change(columns)
    write_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", columns)
    with pytest.raises(PtgmError, match=message):
        load_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", None)
