"""Options: every decision is executed for `interval` env steps or until the episode ends, and
its transition stores that executed decision with the summed reward."""

import numpy as np
import pytest
import torch

from ptgm_cli.models.codebook import Codebook
from ptgm_cli.models.policy import GoalPolicy
from ptgm_cli.rl.hierarchy import Options, Rollout, goal_options
from ptgm_cli.rl.vec_env import EnvSpec, VecKitchenEnv

EPISODE_STEPS = 25


@pytest.fixture(scope="module")
def envs():
    with VecKitchenEnv(2, EnvSpec(("microwave",), True, EPISODE_STEPS)) as vec:
        yield vec


def counting_options(interval: int) -> tuple[Options, list]:
    """Decisions are 0, 1, 2, ... in the order taken; the executed ones are recorded."""
    executed = []

    def execute(observations, decisions, generator):
        executed.append(decisions.copy())
        return np.zeros((len(observations), 9))

    options = Options(interval, lambda obs: np.asarray(obs[..., :3], np.float32), execute, (),
                      np.int64)
    return options, executed


def test_transitions_store_the_executed_decision_and_summed_rewards(envs):
    options, executed = counting_options(interval=10)
    rollout = Rollout(envs, options, seed_of=lambda i, j: 10 * i + j)
    rollout.start()
    counter = iter(range(1000))
    choose = lambda states: np.array([next(counter) for _ in states])  # noqa: E731
    ticks = [rollout.step(choose, torch.Generator()) for _ in range(EPISODE_STEPS)]

    ended = [(t, tick) for t, tick in enumerate(ticks) if len(tick.transitions)]
    assert [t for t, _ in ended] == [9, 19, 24]  # the last option is cut short by the time limit
    for t, tick in ended:
        # Each env's transition carries the decision it executed during those steps.
        np.testing.assert_array_equal(tick.transitions.decisions, executed[t])
        assert not tick.transitions.terminated.any()  # truncation: bootstrap
    assert ended[0][1].transitions.decisions.tolist() == [0, 1]
    assert ended[1][1].transitions.decisions.tolist() == [2, 3]
    # The episode's env steps at each option's start and end, for critics that know the time.
    assert [tick.transitions.steps.tolist() for _, tick in ended] == [[0, 0], [10, 10], [20, 20]]
    assert [tick.transitions.next_steps.tolist() for _, tick in ended] == [
        [10, 10], [20, 20], [25, 25]]
    episodes = ticks[-1].episodes
    assert [e.seed for e in episodes] == [0, 10]
    assert all(e.length == EPISODE_STEPS for e in episodes)
    assert rollout.state.episode_index.tolist() == [1, 1]


def test_next_state_of_an_option_is_where_it_ended(envs):
    options, _ = counting_options(interval=3)
    rollout = Rollout(envs, options, seed_of=lambda i, j: j)
    rollout.start()
    choose = lambda states: np.zeros(len(states), np.int64)  # noqa: E731
    first = [rollout.step(choose, torch.Generator()) for _ in range(3)][-1].transitions
    second = [rollout.step(choose, torch.Generator()) for _ in range(3)][-1].transitions
    np.testing.assert_array_equal(first.next_states, second.states)


@pytest.mark.parametrize("sample", [True, False])
def test_goal_options_command_the_code_goal(sample):
    codebook = Codebook(np.arange(6 * 21, dtype=np.float32).reshape(6, 21), "paper21",
                        np.zeros(21, np.float32), np.ones(21, np.float32))
    policy = GoalPolicy("qpos30", "paper21", hidden=16).eval()
    options = goal_options(policy, codebook, policy.features, interval=10, sample=sample)
    observations = np.random.default_rng(0).normal(size=(2, 59))
    actions = options.execute(observations, np.array([4, 1]), torch.Generator().manual_seed(0))
    mean, log_std = policy(policy.features(observations), codebook.codes[[4, 1]])
    expected = mean
    if sample:
        expected = mean + log_std.exp() * torch.randn(mean.shape,
                                                      generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(actions, expected.detach().numpy(), rtol=1e-6)


def test_episodes_record_the_step_at_which_each_subtask_completed(envs, state_with):
    options, _ = counting_options(interval=10)
    rollout = Rollout(envs, options, seed_of=lambda i, j: j)
    rollout.start()
    choose = lambda states: np.zeros(len(states), np.int64)  # noqa: E731
    for _ in range(3):
        assert not rollout.step(choose, torch.Generator()).episodes
    # Open env 1's microwave by hand: the integration state starts with time, then qpos.
    states = envs.get_state()
    states[1]["integration"][1 + 22] = state_with("microwave")[22]
    envs.set_state(states)
    (episode,) = rollout.step(choose, torch.Generator()).episodes  # the 4th step completes it
    assert episode.completed == ("microwave",) and episode.completion_steps == (4,)
    assert episode.seed == 0 and episode.length == 4
    assert rollout.state.completion_steps == [[], []]
