import numpy as np
import pytest

from ptgm_cli.configs import FetchDataConfig
from ptgm_cli.data.episodes import read_episodes
from ptgm_cli.data.scripted_source import contains_in_order, plan_subtasks
from ptgm_cli.data.statistics import completion_orders
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.tasks import DOWNSTREAM_TASKS, SUBTASKS, completed_mask
from ptgm_cli.stages import fetch_data
from ptgm_cli.workspace import Workspace

TINY = {"episodes": 3, "subtasks_per_episode": 1, "keep_failures": True}


def test_plans_leave_out_the_downstream_sequence():
    rng = np.random.default_rng(0)
    plans = [plan_subtasks(rng, 4, allow_downstream=False) for _ in range(3000)]
    assert not any(contains_in_order(plan, DOWNSTREAM_TASKS) for plan in plans)
    assert all(len(set(plan)) == 4 and set(plan) <= set(SUBTASKS) for plan in plans)
    assert contains_in_order(["kettle", *DOWNSTREAM_TASKS], DOWNSTREAM_TASKS)


@pytest.mark.slow
def test_same_data_whatever_the_worker_count(tmp_path):
    """Same seed and episode count, 1 and 2 workers: byte-identical episode arrays."""
    runs = []
    for workers in (1, 2):
        workspace = Workspace(tmp_path / f"w{workers}")
        artifact = fetch_data.run(FetchDataConfig(**TINY, workers=workers), workspace)
        runs.append(read_episodes(artifact.file("episodes.h5")))
    for name in ("observations", "qpos", "qvel", "actions", "rewards", "lengths"):
        assert getattr(runs[0], name).tobytes() == getattr(runs[1], name).tobytes()


def test_scripted_dataset_records_what_happened(tmp_path):
    workspace = Workspace(tmp_path)
    artifact = fetch_data.run(FetchDataConfig(**TINY, seed=5), workspace)
    episodes = read_episodes(artifact.file("episodes.h5"))
    metrics = artifact.manifest.metrics
    assert metrics["episodes"] == episodes.n_episodes == 3
    assert metrics["steps"] == episodes.n_steps == len(episodes.actions)
    skills = metrics["scripted"]["skills"]
    assert sum(skill["attempts"] for skill in skills.values()) == 3
    assert np.abs(episodes.actions).max() <= 1.0
    # the recorded true qpos is the simulator's, the observation adds small noise
    assert np.abs(episodes.qpos_states() - episodes.qpos).max() < 0.01
    orders = completion_orders(episodes)
    for episode in range(3):
        states, actions = episodes.episode_slices(episode)
        first_planned = episodes.subtask_plans[episode][0]
        assert (first_planned in orders[episode]) == bool(
            completed_mask(episodes.qpos[states])[-1, SUBTASKS.index(first_planned)])
        assert episodes.rewards[actions].sum() == len(orders[episode])


def test_existing_dataset_needs_force(tmp_path):
    workspace = Workspace(tmp_path)
    fetch_data.run(FetchDataConfig(**{**TINY, "episodes": 1}), workspace)
    with pytest.raises(PtgmError, match="--force"):
        fetch_data.run(FetchDataConfig(**{**TINY, "episodes": 1}), workspace)


@pytest.mark.slow
def test_cli_fetch_show_data_and_show_reproduces(tmp_path, run_cli):
    result = run_cli(tmp_path, "fetch-data", "--episodes", "1", "--subtasks-per-episode", "1",
                     "--keep-failures", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "published dataset default" in result.stderr
    result = run_cli(tmp_path, "show-data")
    assert result.returncode == 0 and "completion order" in result.stdout
    shown = run_cli(tmp_path, "show", "default")
    assert "seed = 3" in shown.stdout and "episodes = 1" in shown.stdout
    (tmp_path / "again.toml").write_text(shown.stdout)
    again = run_cli(tmp_path, "fetch-data", "--config", str(tmp_path / "again.toml"),
                    "--name", "again")
    assert again.returncode == 0, again.stderr
    first = read_episodes(tmp_path / "dataset" / "default" / "episodes.h5")
    second = read_episodes(tmp_path / "dataset" / "again" / "episodes.h5")
    assert first.actions.tobytes() == second.actions.tobytes()


def test_d4rl_without_a_file_is_a_user_error(tmp_path, run_cli):
    result = run_cli(tmp_path, "fetch-data", "--source", "d4rl")
    assert result.returncode == 1 and "needs --path" in result.stderr


def test_cli_d4rl_file_becomes_a_dataset_and_bad_file_leaves_nothing(tmp_path, run_cli,
                                                                     write_d4rl, d4rl_columns):
    write_d4rl(tmp_path / "kitchen.hdf5", d4rl_columns())
    result = run_cli(tmp_path / "ws", "fetch-data", "--source", "d4rl",
                     "--path", str(tmp_path / "kitchen.hdf5"), "--name", "d4rl")
    assert result.returncode == 0, result.stderr
    assert "older simulator" in result.stderr
    dataset = Workspace(tmp_path / "ws").load("dataset", "d4rl")
    assert dataset.manifest.metrics["source"] == "d4rl" and dataset.manifest.seed is None
    (tmp_path / "bad.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    result = run_cli(tmp_path / "ws", "fetch-data", "--source", "d4rl",
                     "--path", str(tmp_path / "bad.hdf5"), "--name", "bad")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ws" / "dataset" / "bad").exists()
