"""SPiRL's high-level SAC over skills: the divergence's direction and clamp, squashed acting,
warm-up from the prior, and what an update changes."""

import copy
import math

import pytest
import torch

from ptgm_cli.models.mlp import MLP
from ptgm_cli.rl.replay import Batch
from ptgm_cli.rl.skill_sac import LATENT_RANGE, SkillSAC

STATE_DIM, LATENT = 5, 2


def make_agent() -> tuple[SkillSAC, MLP]:
    torch.manual_seed(0)
    prior = MLP(STATE_DIM, 2 * LATENT, hidden=16).eval()
    agent = SkillSAC(prior, torch.zeros(STATE_DIM), torch.ones(STATE_DIM), LATENT,
                     target_divergence=5.0, gamma=0.99, tau=5e-3, lr=3e-4, hidden=32)
    return agent, prior


def random_batch(size: int = 8) -> Batch:
    generator = torch.Generator().manual_seed(1)
    return Batch(states=torch.randn(size, STATE_DIM, generator=generator),
                 actions=torch.rand(size, LATENT, generator=generator) * 4 - 2,
                 rewards=torch.rand(size, generator=generator),
                 next_states=torch.randn(size, STATE_DIM, generator=generator),
                 terminated=torch.zeros(size), steps=torch.zeros(size),
                 next_steps=torch.full((size,), 10.0))


def test_the_divergence_is_from_the_policy_to_the_prior_summed_over_dims():
    agent, prior = make_agent()
    states = torch.randn(3, STATE_DIM)
    prior_mean, prior_log_std = prior(states).chunk(2, dim=-1)
    mean, log_std = prior_mean + 1.0, prior_log_std + math.log(0.5)
    # KL(N(m + 1, (s/2)^2) || N(m, s^2)) per dim = 1/8 + 1 / (2 s^2) - 1/2 + log 2
    expected = (0.125 + 0.5 / prior_log_std.exp() ** 2 - 0.5 + math.log(2)).sum(-1)
    torch.testing.assert_close(agent.divergence(states, mean, log_std), expected)
    # SPiRL's target (5 nats) bounds the whole latent's KL: one dim off by 1 std gives 1/2 nat
    shifted = prior_mean.clone()
    shifted[:, 0] += prior_log_std[:, 0].exp()
    torch.testing.assert_close(agent.divergence(states, shifted, prior_log_std),
                               torch.full((3,), 0.5))


def test_the_divergence_is_clamped_and_zero_at_the_prior():
    agent, prior = make_agent()
    states = torch.randn(3, STATE_DIM)
    prior_mean, prior_log_std = prior(states).chunk(2, dim=-1)
    assert agent.divergence(states, prior_mean, prior_log_std).abs().max() < 1e-6
    far = agent.divergence(states, prior_mean + 1e4, prior_log_std)
    assert far.tolist() == [100.0] * 3


@pytest.mark.parametrize("warmup", [True, False])
def test_acting_gives_squashed_skills(warmup):
    agent, _ = make_agent()
    latents = agent.act(torch.randn(500, STATE_DIM).numpy(), torch.Generator().manual_seed(0),
                        warmup)
    assert latents.shape == (500, LATENT) and abs(latents).max() < LATENT_RANGE


def test_the_policy_starts_as_the_prior():
    agent, prior = make_agent()
    states = torch.randn(4, STATE_DIM)
    torch.testing.assert_close(agent.policy(states), prior(states))
    assert agent.policy is not prior


def test_update_changes_policy_critics_and_alpha_and_leaves_the_prior_frozen():
    agent, prior = make_agent()
    prior_before = copy.deepcopy(prior.state_dict())
    policy_before = copy.deepcopy(agent.policy.state_dict())
    critics_before = copy.deepcopy(agent.critics.state_dict())
    metrics = agent.update(random_batch(), torch.Generator().manual_seed(0))
    assert {"losses/critic", "losses/actor", "charts/kl", "charts/alpha"} <= set(metrics)
    assert agent.updates == 1 and agent.alpha != 1.0
    changed = lambda before, after: any(  # noqa: E731
        not torch.equal(before[key], after[key]) for key in before)
    assert changed(policy_before, agent.policy.state_dict())
    assert changed(critics_before, agent.critics.state_dict())
    for key, value in prior.state_dict().items():
        assert torch.equal(value, prior_before[key])
    bn = [key for key in policy_before if "running_mean" in key][0]
    assert torch.equal(agent.policy.state_dict()[bn], policy_before[bn])  # BatchNorm frozen


def test_alpha_falls_while_the_divergence_is_below_its_target():
    agent, _ = make_agent()  # the policy starts at the prior: divergence 0 < 5
    for _ in range(3):
        agent.update(random_batch(), torch.Generator().manual_seed(0))
    assert agent.alpha < 1.0


def test_an_exploding_log_std_leaves_acting_and_learning_finite():
    agent, _ = make_agent()
    with torch.no_grad():  # a policy whose log-std heads output ~1e4
        agent.policy.head.bias[LATENT:] = 1e4
    latents = agent.act(torch.randn(64, STATE_DIM).numpy(), torch.Generator().manual_seed(0),
                        warmup=False)
    assert torch.isfinite(torch.as_tensor(latents)).all()
    metrics = agent.update(random_batch(), torch.Generator().manual_seed(0))
    assert all(math.isfinite(value) for value in metrics.values())
    assert all(torch.isfinite(p).all() for p in agent.policy.parameters())
