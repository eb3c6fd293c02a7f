"""Every learner must solve a trivial problem in a few hundred updates, so that a sign error in a
loss fails here in seconds rather than after hours of RL (Stable-Baselines3's test_identity.py).

The problems need no simulator: two-step episodes whose transitions reach the agent's `update`
through the replay buffer. The first step earns nothing and the second's reward depends only on
where the first led, so the right first action can only be learnt through the critics' bootstrap.
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from ptgm_cli.rl.continuous_sac import ContinuousSAC, FlatSACHyperparameters
from ptgm_cli.rl.discrete_sac import DiscreteSAC
from ptgm_cli.rl.replay import ReplayBuffer

N_CODES = 4
N_CONTEXTS = 4
GOOD, BAD = N_CONTEXTS, N_CONTEXTS + 1  # the states a first code leads to
STATE_DIM = N_CONTEXTS + 2
# A mildly wrong prior: it favours the code after the right one, twice as much as each other.
PRIOR_PROBABILITIES = (0.2, 0.2, 0.4, 0.2)
ACTION_DIM = 2
# At the initial temperature (1) the entropy bonus would drown distances of a fraction of a unit.
DISTANCE_REWARD_SCALE = 10.0
ROLLOUTS_PER_UPDATE = 16
BATCH_SIZE = 64


@pytest.fixture(autouse=True)
def one_thread():
    """The problems are tiny: extra threads only add overhead on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def one_hot(indices: np.ndarray) -> np.ndarray:
    return np.eye(STATE_DIM, dtype=np.float32)[indices]


def right_code(contexts: np.ndarray) -> np.ndarray:
    return (contexts + 1) % N_CODES


def prior_module() -> nn.Module:
    """Frozen logits per state: the mildly wrong prior, shifted by one code per context."""
    prior = nn.Linear(STATE_DIM, N_CODES, bias=False)
    with torch.no_grad():
        for state in range(STATE_DIM):
            prior.weight[:, state] = torch.tensor(PRIOR_PROBABILITIES).log().roll(state)
    return prior.requires_grad_(False)


def discrete_agent(prior: nn.Module | None) -> DiscreteSAC:
    """ptgm's policy starts as a copy of its prior and may drift 1 nat from it; ptgm-noprior's
    is fresh and keeps 0.5 nat of entropy."""
    torch.manual_seed(0)
    with_prior = prior is not None
    policy = (copy.deepcopy(prior).requires_grad_(True) if with_prior
              else nn.Linear(STATE_DIM, N_CODES))
    return DiscreteSAC(policy, prior, torch.zeros(STATE_DIM), torch.ones(STATE_DIM), N_CODES,
                       target=1.0 if with_prior else -0.5, gamma=0.9, tau=0.05, lr=2e-2,
                       grad_clip=10.0, hidden=32, critic_layers=2,
                       value_ceiling=None, expected_next_value=True, critic_layer_norm=False)


def learn_two_step_choice(agent: DiscreteSAC, updates: int) -> None:
    """Episodes of two codes: from a random context, the right code leads to GOOD and any other to
    BAD, reward 0; from there any code ends the episode with reward 1 at GOOD, 0 at BAD."""
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    replay = ReplayBuffer(updates * ROLLOUTS_PER_UPDATE * 2, STATE_DIM, (), np.int64)
    for _ in range(updates):
        contexts = rng.integers(0, N_CONTEXTS, ROLLOUTS_PER_UPDATE)
        states = one_hot(contexts)
        codes = agent.act(states, generator, warmup=False)
        reached = codes == right_code(contexts)
        next_states = one_hot(np.where(reached, GOOD, BAD))
        final_codes = agent.act(next_states, generator, warmup=False)
        zeros, ones = np.zeros(ROLLOUTS_PER_UPDATE), np.ones(ROLLOUTS_PER_UPDATE)
        replay.add(states, codes, zeros, next_states, zeros, zeros, ones)
        replay.add(next_states, final_codes, reached.astype(np.float32), next_states, ones, ones,
                   2 * ones)
        agent.update(replay.sample(BATCH_SIZE, rng), generator)


def policy_probabilities(agent: DiscreteSAC, states: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return agent.policy(torch.from_numpy(one_hot(states))).softmax(-1)


@pytest.mark.parametrize("with_prior", [True, False], ids=["ptgm", "ptgm-noprior"])
def test_discrete_sac_learns_the_right_code_and_keeps_its_regulariser_where_codes_tie(with_prior):
    """Where every code earns the same, only the regulariser shapes pi: ptgm keeps the prior's
    probabilities there, ptgm-noprior uniform ones."""
    prior = prior_module() if with_prior else None
    agent = discrete_agent(prior)
    learn_two_step_choice(agent, updates=300)
    contexts = np.arange(N_CONTEXTS)
    probs = policy_probabilities(agent, contexts)
    assert probs[contexts, right_code(contexts)].min() > 0.8
    tie_states = np.array([GOOD, BAD])
    if prior is None:
        expected = torch.full((len(tie_states), N_CODES), 1 / N_CODES)
    else:
        expected = prior(torch.from_numpy(one_hot(tie_states))).softmax(-1)
    torch.testing.assert_close(policy_probabilities(agent, tie_states), expected, atol=0.1, rtol=0)


def continuous_states(points: np.ndarray, step: int) -> np.ndarray:
    """A point in the action box and the episode's step."""
    return np.concatenate([points, np.full((len(points), 1), step)], axis=1).astype(np.float32)


def learn_two_step_identity(agent: ContinuousSAC, updates: int) -> None:
    """Episodes of two actions: the first state holds a point, the first action is scored by its
    squared distance to that point, but the score is paid as the second step's reward."""
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    replay = ReplayBuffer(updates * ROLLOUTS_PER_UPDATE * 2, ACTION_DIM + 1, (ACTION_DIM,))
    zeros, ones = np.zeros(ROLLOUTS_PER_UPDATE), np.ones(ROLLOUTS_PER_UPDATE)
    for _ in range(updates):
        points = rng.uniform(-0.5, 0.5, (ROLLOUTS_PER_UPDATE, ACTION_DIM))
        states = continuous_states(points, step=0)
        actions = agent.act(states, generator, warmup=False)
        errors = actions - points
        next_states = continuous_states(errors, step=1)
        final_actions = agent.act(next_states, generator, warmup=False)
        rewards = -DISTANCE_REWARD_SCALE * np.square(errors).sum(axis=1)
        replay.add(states, actions, zeros, next_states, zeros, zeros, ones)
        replay.add(next_states, final_actions, rewards, next_states, ones, ones, 2 * ones)
        agent.update(replay.sample(BATCH_SIZE, rng), generator)


def test_flat_sac_learns_to_return_the_point_it_is_shown():
    torch.manual_seed(0)
    agent = ContinuousSAC(ACTION_DIM + 1, ACTION_DIM, gamma=0.9, tau=0.05, hidden=64,
                          hyper=FlatSACHyperparameters(critic_lr=1e-2, actor_lr=1e-2))
    learn_two_step_identity(agent, updates=300)
    points = np.random.default_rng(1).uniform(-0.5, 0.5, (256, ACTION_DIM))
    actions = agent.act(continuous_states(points, step=0), torch.Generator().manual_seed(1),
                        warmup=False)
    mean_squared_distance = float(np.square(actions - points).sum(axis=1).mean())
    assert mean_squared_distance < 0.1  # uniform random actions: 0.83
