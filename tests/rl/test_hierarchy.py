"""Options: every decision is executed by the env workers for `interval` env steps or until the
episode ends, and its transition stores that decision with the summed reward."""

import copy

import numpy as np
import pytest
import torch

from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.models.codebook import Codebook
from ptgm_cli.models.policy import GoalPolicy
from ptgm_cli.models.skills import SkillModel
from ptgm_cli.rl.hierarchy import (
    Options,
    Rollout,
    actions_as_given,
    goal_options,
    skill_options,
)
from ptgm_cli.rl.vec_env import EnvSpec

EPISODE_STEPS = 25
SPEC = EnvSpec(("microwave",), True, EPISODE_STEPS)


def first_dims(observations: np.ndarray) -> np.ndarray:
    return np.asarray(observations[..., :3], np.float32)


def standing_still(observations: np.ndarray, decisions: np.ndarray, generator,
                   step: int) -> np.ndarray:
    """Zero velocity whatever the decision (pickles: it runs in the workers)."""
    return np.zeros((len(observations), 9))


def still_options(interval: int) -> Options:
    return Options(interval, first_dims, standing_still, (), np.int64)


@pytest.fixture(scope="module")
def envs():
    with still_options(10).envs(2, SPEC, seeds=[0, 1]) as vec:
        yield vec


def test_options_last_their_interval_and_the_last_is_cut_by_the_time_limit(envs):
    rollout = Rollout(envs, still_options(10), seed_of=lambda i, j: 10 * i + j)
    rollout.start()
    counter = iter(range(1000))
    choose = lambda states: np.array([next(counter) for _ in states])  # noqa: E731
    ticks = [rollout.step(choose) for _ in range(3)]

    assert [tick.env_steps for tick in ticks] == [20, 20, 10]
    assert [tick.transitions.decisions.tolist() for tick in ticks] == [[0, 1], [2, 3], [4, 5]]
    assert not any(tick.transitions.terminated.any() for tick in ticks)  # truncation: bootstrap
    # The episode's env steps at each option's start and end, for critics that know the time.
    assert [tick.transitions.steps.tolist() for tick in ticks] == [[0, 0], [10, 10], [20, 20]]
    assert [tick.transitions.next_steps.tolist() for tick in ticks] == [
        [10, 10], [20, 20], [25, 25]]
    assert not ticks[0].episodes and not ticks[1].episodes
    assert [e.seed for e in ticks[-1].episodes] == [0, 10]
    assert all(e.length == EPISODE_STEPS for e in ticks[-1].episodes)
    assert rollout.state.episode_index.tolist() == [1, 1]


def test_next_state_of_an_option_is_where_the_next_one_starts(envs):
    rollout = Rollout(envs, still_options(10), seed_of=lambda i, j: j)
    rollout.start()
    choose = lambda states: np.zeros(len(states), np.int64)  # noqa: E731
    first, second = (rollout.step(choose).transitions for _ in range(2))
    np.testing.assert_array_equal(first.next_states, second.states)


def test_episodes_record_rewards_and_the_step_at_which_each_subtask_completed(envs, state_with):
    rollout = Rollout(envs, still_options(10), seed_of=lambda i, j: j)
    rollout.start()
    choose = lambda states: np.zeros(len(states), np.int64)  # noqa: E731
    assert not rollout.step(choose).episodes
    # Open env 1's microwave by hand: the integration state starts with time, then qpos.
    states = envs.get_state()
    states[1]["integration"][1 + 22] = state_with("microwave")[22]
    envs.set_state(states)
    tick = rollout.step(choose)  # its first step (the 11th) completes the task
    assert tick.transitions.rewards.tolist() == [0.0, 1.0]
    assert tick.transitions.terminated.tolist() == [0.0, 1.0]
    assert tick.env_steps == 10 + 1
    (episode,) = tick.episodes
    assert episode.completed == ("microwave",) and episode.completion_steps == (11,)
    assert episode.seed == 0 and episode.length == 11 and episode.episode_return == 1.0
    assert rollout.state.completion_steps == [[], []]
    assert rollout.state.episode_lengths.tolist() == [20, 0]


def tiny_goal_options(sample: bool) -> tuple[Options, GoalPolicy, Codebook]:
    codebook = Codebook(np.arange(6 * 21, dtype=np.float32).reshape(6, 21), "paper21",
                        np.zeros(21, np.float32), np.ones(21, np.float32))
    torch.manual_seed(0)
    policy = GoalPolicy("qpos30", "paper21", hidden=16).eval()
    return goal_options(policy, codebook, policy.features, 10, sample), policy, codebook


@pytest.mark.parametrize("sample", [True, False])
def test_goal_options_command_the_code_goal(sample):
    options, policy, codebook = tiny_goal_options(sample)
    observations = np.random.default_rng(0).normal(size=(2, 59))
    actions = options.execute(observations, np.array([4, 1]), torch.Generator().manual_seed(0),
                              0)
    mean, log_std = policy(policy.features(observations), codebook.codes[[4, 1]])
    expected = mean
    if sample:
        expected = mean + log_std.exp() * torch.randn(mean.shape,
                                                      generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(actions, expected.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("sample", [True, False])
def test_a_worker_plays_an_option_as_this_process_would(sample):
    """The worker's executor and its generator (seeded with the worker's seed) act exactly as
    the same executor would here."""
    options, _, _ = tiny_goal_options(sample)
    local = KitchenEnv(SPEC.tasks, ordered=SPEC.ordered, max_episode_steps=SPEC.max_episode_steps)
    observation = local.reset(seed=3)[0]
    generator = torch.Generator().manual_seed(7)
    expected = []
    for _ in range(10):
        action = options.execute(observation[None], np.array([2]), generator, 0)[0]
        observation = local.step(action)[0]
        expected.append(observation)
    with options.envs(1, SPEC, seeds=[7]) as envs:
        start = envs.reset([3])
        envs.play_async(start, np.array([2]), reset_seeds=[0])
        (result,) = envs.play_wait()
    np.testing.assert_array_equal(result.final_observation, expected[-1])
    assert len(result.rewards) == 10 and not result.done


def test_a_saved_state_holds_the_workers_generators():
    options, _, _ = tiny_goal_options(sample=True)
    with options.envs(2, SPEC, seeds=[1, 2]) as envs:
        rollout = Rollout(envs, options, seed_of=lambda i, j: j)
        rollout.start()
        choose = lambda states: np.array([3, 4])  # noqa: E731
        rollout.step(choose)
        saved = copy.deepcopy(rollout.state_dict())
        uninterrupted = [rollout.step(choose).transitions.next_states for _ in range(2)]
        rollout.load_state_dict(saved)
        resumed = [rollout.step(choose).transitions.next_states for _ in range(2)]
    np.testing.assert_array_equal(np.stack(uninterrupted), np.stack(resumed))


@pytest.mark.parametrize("closed_loop", [True, False])
def test_a_worker_plays_a_skill_as_its_decoder_would_here(closed_loop):
    """Closed-loop: an action from each state reached; open-loop: the decoded plan in order."""
    torch.manual_seed(0)
    model = SkillModel("obs59", 9, skill_length=5, latent_dim=3, hidden=16,
                       closed_loop=closed_loop).eval()
    options = skill_options(model)
    latent = np.array([[0.5, -1.0, 1.5]], np.float32)
    local = KitchenEnv(SPEC.tasks, ordered=SPEC.ordered, max_episode_steps=SPEC.max_episode_steps)
    observation = local.reset(seed=3)[0]
    with torch.no_grad():
        plan = model.decode(torch.from_numpy(latent)).numpy()[0] if not closed_loop else None
    for step in range(5):
        if closed_loop:
            with torch.no_grad():
                action = model.decode_step(torch.tensor(observation[None], dtype=torch.float32),
                                           torch.from_numpy(latent)).numpy()[0]
        else:
            action = plan[step]
        observation = local.step(action)[0]
    with options.envs(1, SPEC, seeds=[0]) as envs:
        start = envs.reset([3])
        envs.play_async(start, latent, reset_seeds=[0])
        (result,) = envs.play_wait()
    assert len(result.rewards) == 5
    np.testing.assert_allclose(result.final_observation, observation, rtol=1e-5, atol=1e-6)


def test_flat_options_play_the_action_itself():
    action = np.linspace(-1, 1, 9)
    assert actions_as_given(np.zeros((1, 59)), action[None], None, 0).tolist() == [
        action.tolist()]
