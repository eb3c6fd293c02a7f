import numpy as np
import pytest

from ptgm_cli.data.d4rl_source import load_d4rl
from ptgm_cli.errors import PtgmError


def test_splits_episodes_and_keeps_values(tmp_path, d4rl_columns, write_d4rl):
    columns = d4rl_columns()
    write_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", columns)
    warnings = []
    episodes = load_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", None, warn=warnings.append)
    assert "older simulator" in warnings[0] and "dropping 1 one-step episode" in warnings[1]
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


def test_url_is_downloaded_to_the_cache_once(tmp_path, monkeypatch, write_d4rl, d4rl_columns):
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


def test_truncated_file_is_a_user_error(tmp_path, write_d4rl, d4rl_columns):
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
def test_bad_contents_are_refused(tmp_path, change, message, d4rl_columns, write_d4rl):
    columns = d4rl_columns()
    change(columns)
    write_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", columns)
    with pytest.raises(PtgmError, match=message):
        load_d4rl(tmp_path / "kitchen_mixed-v0.hdf5", None)
