import copy

import numpy as np
import torch

from ptgm_cli.rl.continuous_sac import ContinuousSAC, soft_q_target
from ptgm_cli.rl.replay import Batch


def make_agent() -> ContinuousSAC:
    torch.manual_seed(0)
    return ContinuousSAC(59, 9, gamma=0.99, tau=5e-3, hidden=32)


def test_actions_are_in_the_action_box():
    agent = make_agent()
    states = np.random.default_rng(0).normal(size=(6, 59)).astype(np.float32)
    for warmup in (True, False):
        actions = agent.act(states, torch.Generator().manual_seed(0), warmup)
        assert actions.shape == (6, 9) and np.all(np.abs(actions) <= 1)


def test_target_entropy_defaults_to_minus_action_dim():
    assert make_agent().target_entropy == -9.0


def test_actor_updates_are_delayed():
    """CleanRL: the actor and alpha learn every 2nd critic step (twice then)."""
    agent = make_agent()
    generator = torch.Generator().manual_seed(0)
    batch = Batch(torch.randn(8, 59), torch.rand(8, 9) * 2 - 1, torch.rand(8), torch.randn(8, 59),
                  torch.zeros(8), torch.zeros(8), torch.ones(8))
    actor_before = copy.deepcopy(agent.actor.state_dict())
    first = agent.update(batch, generator)
    assert "losses/actor" not in first
    assert all(torch.equal(v, agent.actor.state_dict()[k]) for k, v in actor_before.items())
    second = agent.update(batch, generator)
    assert "losses/actor" in second and agent.alpha != 1.0


def test_soft_target_subtracts_the_entropy_cost_and_stops_at_termination():
    rewards, next_q = torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0])
    next_log_prob, alpha = torch.tensor([0.5, 0.5]), torch.tensor(0.2)
    target = soft_q_target(rewards, torch.tensor([0.0, 1.0]), next_q, next_log_prob, alpha, 0.9)
    torch.testing.assert_close(target, torch.tensor([1.0 + 0.9 * (2.0 - 0.1), 1.0]))
