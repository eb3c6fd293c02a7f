"""Worker envs: determinism from seeds, auto-reset, and exact continuation from a saved state."""

import numpy as np
import pytest

from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.rl.vec_env import EnvSpec, VecKitchenEnv

SPEC = EnvSpec(("microwave", "kettle"), ordered=True, max_episode_steps=12)
ACTIONS = np.random.default_rng(0).uniform(-1, 1, size=(30, 2, 9))


@pytest.fixture(scope="module")
def envs():
    with VecKitchenEnv(2, SPEC) as vec:
        yield vec


def play(envs: VecKitchenEnv, actions: np.ndarray) -> np.ndarray:
    observations = []
    for step, action in enumerate(actions):
        envs.step_async(action, reset_seeds=[100 + step, 200 + step])
        observations.append(envs.step_wait().observations)
    return np.stack(observations)


def test_same_seeds_and_actions_give_the_same_observations(envs):
    runs = []
    for _ in range(2):
        envs.reset([1, 2])
        runs.append(play(envs, ACTIONS[:15]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0][:, 0], runs[0][:, 1])


def test_a_worker_matches_an_env_in_this_process(envs):
    local = KitchenEnv(SPEC.tasks, ordered=SPEC.ordered, max_episode_steps=SPEC.max_episode_steps)
    first = envs.reset([5, 6])
    np.testing.assert_array_equal(first[0], local.reset(seed=5)[0])
    for action in ACTIONS[:5]:
        envs.step_async(action, reset_seeds=[0, 0])
        np.testing.assert_array_equal(envs.step_wait().observations[0], local.step(action[0])[0])


def test_episode_end_resets_with_the_given_seed(envs):
    envs.reset([1, 2])
    for step, action in enumerate(ACTIONS[:12]):
        envs.step_async(action, reset_seeds=[77, 78])
        result = envs.step_wait()
        assert result.truncated.all() == (step == 11)
    assert not result.terminated.any()
    np.testing.assert_array_equal(result.observations[0], KitchenEnv().reset(seed=77)[0])
    assert not np.array_equal(result.final_observations, result.observations)


def test_saved_state_continues_bit_for_bit(envs):
    envs.reset([3, 4])
    play(envs, ACTIONS[:7])
    state = envs.get_state()
    uninterrupted = play(envs, ACTIONS[7:])
    envs.reset([9, 9])
    play(envs, ACTIONS[:3])
    envs.set_state(state)
    np.testing.assert_array_equal(play(envs, ACTIONS[7:]), uninterrupted)
