import shutil

import gymnasium as gym
import gymnasium_robotics
import h5py
import minari
import numpy as np
import pytest

from ptgm_cli.data.minari_source import load_minari
from ptgm_cli.errors import PtgmError

DATASET_ID = "D4RL/kitchen/test-v0"
EPISODE_STEPS = 5


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A real Minari dataset recorded in FrankaKitchen-v1 with random actions, and what the env
    returned while recording it (observations, actions, rewards, true qpos and qvel)."""
    root = tmp_path_factory.mktemp("minari")
    gym.register_envs(gymnasium_robotics)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        env = minari.DataCollector(gym.make(
            "FrankaKitchen-v1", max_episode_steps=EPISODE_STEPS, disable_env_checker=True))
        env.action_space.seed(0)
        columns = {"observations": [], "actions": [], "rewards": [], "qpos": [], "qvel": []}

        def record_state(observation):
            columns["observations"].append(np.array(observation["observation"]))
            columns["qpos"].append(env.unwrapped.data.qpos.copy())
            columns["qvel"].append(env.unwrapped.data.qvel.copy())

        for episode in range(2):
            record_state(env.reset(seed=episode)[0])
            done = False
            while not done:
                action = env.action_space.sample()
                observation, reward, terminated, truncated, _ = env.step(action)
                record_state(observation)
                columns["actions"].append(action)
                columns["rewards"].append(reward)
                done = terminated or truncated
        env.create_dataset(dataset_id=DATASET_ID, algorithm_name="random",
                           description="Random actions in FrankaKitchen-v1, for tests.",
                           author="ptgm tests", author_email="tests@example.com",
                           code_permalink="https://example.com/ptgm")
        env.close()
    return root, {name: np.array(rows) for name, rows in columns.items()}


def test_loads_what_was_recorded(recorded):
    root, expected = recorded
    episodes = load_minari(DATASET_ID, root)
    assert episodes.lengths.tolist() == [EPISODE_STEPS, EPISODE_STEPS]
    assert episodes.observations.shape == (2 * (EPISODE_STEPS + 1), 59)
    assert episodes.qvel.shape == (2 * (EPISODE_STEPS + 1), 29)
    assert episodes.subtask_plans == [[], []] and episodes.episode_seeds is None
    for name in ("observations", "actions", "rewards"):
        np.testing.assert_array_equal(getattr(episodes, name), expected[name])
    # The observed state is the simulator's up to FrankaKitchen-v1's small observation noise.
    np.testing.assert_allclose(episodes.qpos, expected["qpos"], atol=2e-3)
    np.testing.assert_allclose(episodes.qvel, expected["qvel"], atol=2e-2)


def test_default_root_is_minaris_own(recorded, monkeypatch):
    root, expected = recorded
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    np.testing.assert_array_equal(load_minari(DATASET_ID, None).actions, expected["actions"])


def test_unreachable_remote_is_a_user_error(tmp_path, monkeypatch):
    def unreachable(dataset_id):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(minari, "download_dataset", unreachable)
    with pytest.raises(PtgmError, match="unreachable.*--path"):
        load_minari(DATASET_ID, tmp_path)


def test_wrong_observation_dims_are_refused(recorded, tmp_path):
    root, _ = recorded
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    with h5py.File(tmp_path / DATASET_ID / "data" / "main_data.hdf5", "r+") as handle:
        group = handle["episode_1/observations"]
        observation = group["observation"][()]
        del group["observation"]
        group["observation"] = observation[:, :58]
    with pytest.raises(PtgmError, match=r"episode 1: observation has shape \(6, 58\)"):
        load_minari(DATASET_ID, tmp_path)


def test_truncated_dataset_is_a_user_error(recorded, tmp_path):
    root, _ = recorded
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    data_file = tmp_path / DATASET_ID / "data" / "main_data.hdf5"
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    with pytest.raises(PtgmError, match="unreadable Minari dataset"):
        load_minari(DATASET_ID, tmp_path)
