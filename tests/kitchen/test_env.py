import gymnasium as gym
import numpy as np
import pytest

from ptgm_cli.kitchen.env import INIT_QPOS, KitchenEnv
from ptgm_cli.kitchen.layout import OBS_DIM, goal_indices, goal_names, qpos_state_from_obs


def make_reference(**kwargs):
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    return gym.make("FrankaKitchen-v1", max_episode_steps=1000, **kwargs).unwrapped


@pytest.mark.slow
@pytest.mark.parametrize("noise", [False, True])
def test_same_simulation_as_frankakitchen_v1(noise):
    """Same seed and actions: identical qpos/qvel (and observations) at every step."""
    kwargs = {} if noise else {"robot_noise_ratio": 0.0, "object_noise_ratio": 0.0}
    reference, env = make_reference(**kwargs), KitchenEnv(max_episode_steps=None, **kwargs)
    reference_obs, _ = reference.reset(seed=7)
    obs, _ = env.reset(seed=7)
    np.testing.assert_array_equal(reference_obs["observation"], obs)
    actions = np.random.default_rng(0).uniform(-1.2, 1.2, size=(150, 9))
    for action in actions:
        reference_obs, *_ = reference.step(action)
        obs, *_ = env.step(action)
        np.testing.assert_array_equal(reference.data.qpos, env.data.qpos)
        np.testing.assert_array_equal(reference.data.qvel, env.data.qvel)
        np.testing.assert_array_equal(reference_obs["observation"], obs)


def test_seeded_reset_is_deterministic():
    env = KitchenEnv()
    runs = []
    for _ in range(2):
        observations = [env.reset(seed=3)[0]]
        observations += [env.step(np.full(9, 0.3))[0] for _ in range(5)]
        runs.append(np.stack(observations))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (6, OBS_DIM)


def test_ordered_protocol_counts_a_subtask_only_after_the_ones_before(state_with):
    env = KitchenEnv(tasks=["microwave", "kettle"], ordered=True)
    env.reset(seed=0)
    env.set_state(state_with("kettle"), np.zeros(env.model.nv))
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert reward == 0.0 and not terminated and info["completed"] == []
    both = state_with("kettle")
    both[22] = state_with("microwave")[22]
    env.set_state(both, np.zeros(env.model.nv))
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert reward == 2.0 and terminated and info["completed"] == ["microwave", "kettle"]


def test_any_order_protocol(state_with):
    env = KitchenEnv(tasks=["microwave", "kettle"], ordered=False)
    env.reset(seed=0)
    env.set_state(state_with("kettle"), np.zeros(env.model.nv))
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert reward == 1.0 and not terminated and info["completed"] == ["kettle"]


def test_no_carry_over_between_episodes(state_with):
    env = KitchenEnv(tasks=["microwave"])
    env.reset(seed=0)
    env.set_state(state_with("microwave"), np.zeros(env.model.nv))
    assert env.step(np.zeros(9))[1] == 1.0
    _, info = env.reset(seed=1)
    assert info["completed"] == [] and env.progress.completed == []
    np.testing.assert_array_equal(env.data.qpos, INIT_QPOS)
    assert env.step(np.zeros(9))[1] == 0.0
    env.set_state(state_with("microwave"), np.zeros(env.model.nv))
    assert env.step(np.zeros(9))[1] == 1.0  # rewarded again in the new episode


def test_truncation_at_280_steps():
    env = KitchenEnv()
    env.reset(seed=0)
    flags = [env.step(np.zeros(9))[3] for _ in range(280)]
    assert not any(flags[:-1]) and flags[-1]


def test_layout_presets():
    assert len(goal_indices("paper21")) == 21 and len(goal_names("paper21")) == 21
    assert goal_names("paper21")[-7] == "kettle_x"
    assert goal_indices("objects21") == tuple(range(9, 30))
    env = KitchenEnv(robot_noise_ratio=0.0, object_noise_ratio=0.0)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(qpos_state_from_obs(obs), env.data.qpos)
