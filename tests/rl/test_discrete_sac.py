"""The loss maths of PTGM's discrete SAC on tiny tensors, and one update of the real agent."""

import copy

import pytest
import torch
import torch.nn.functional as F

from ptgm_cli.models.prior import GoalPrior
from ptgm_cli.rl.discrete_sac import (
    DiscreteSAC,
    alpha_loss,
    critic_target,
    fresh_copy,
    negative_entropy,
    next_value,
    policy_loss,
    prior_kl,
    probabilities,
    sample_codes,
)
from ptgm_cli.rl.replay import Batch

PRIOR = torch.tensor([[0.7, 0.2, 0.1]])
PI = torch.tensor([[0.2, 0.3, 0.5]])


def test_kl_is_prior_to_policy():
    """KL(prior || pi) = sum prior log(prior / pi), not the reverse direction."""
    expected = (PRIOR * (PRIOR / PI).log()).sum()
    reverse = (PI * (PI / PRIOR).log()).sum()
    kl = prior_kl(PRIOR.log(), PI.log())
    assert kl.item() == pytest.approx(expected.item())
    assert kl.item() != pytest.approx(reverse.item())


def test_agent_regularises_with_kl_from_the_prior():
    agent, prior = make_agent(with_prior=True)
    states = torch.randn(5, 30)
    log_pi = torch.tensor([[0.1, 0.2, 0.3, 0.4]]).log().expand(5, 4)
    prior_log_probs = F.log_softmax(prior(states), dim=-1)
    torch.testing.assert_close(agent.divergence(states, log_pi),
                               prior_kl(prior_log_probs, log_pi))


def test_kl_is_clamped():
    log_pi = torch.tensor([[0.0, -500.0]])  # a code the policy has all but ruled out
    assert prior_kl(torch.tensor([[0.5, 0.5]]).log(), log_pi).item() == 100.0


def test_kl_is_zero_at_the_prior_and_its_gradient_pulls_towards_it():
    logits = torch.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    prior_kl(PRIOR.log(), F.log_softmax(logits, -1)).sum().backward()
    # Descending the gradient raises the logit of the code the prior favours most.
    assert logits.grad[0, 0] < 0 < logits.grad[0, 2]
    assert prior_kl(PRIOR.log(), PRIOR.log()).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("divergence, rises", [(7.0, True), (3.0, False)])
def test_alpha_rises_while_divergence_exceeds_its_target(divergence, rises):
    log_alpha = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([log_alpha], lr=0.1)
    alpha_loss(log_alpha, torch.tensor([divergence]), target=5.0).backward()
    optimizer.step()
    assert (log_alpha.item() > 0) == rises


def test_critic_target_bootstraps_unless_terminated():
    target = critic_target(rewards=torch.tensor([1.0, 1.0]), terminated=torch.tensor([0.0, 1.0]),
                           next_values=torch.tensor([3.0, 7.0]), gamma=0.9, ceiling=None)
    assert target.tolist() == pytest.approx([1.0 + 0.9 * 3.0, 1.0])


def test_critic_target_is_clipped_at_the_ceiling():
    target = critic_target(rewards=torch.tensor([1.0, 0.0]), terminated=torch.zeros(2),
                           next_values=torch.tensor([9.0, 1.0]), gamma=0.9, ceiling=4.0)
    assert target.tolist() == pytest.approx([4.0, 0.9])


def test_next_value_at_a_sampled_code_or_in_expectation():
    next_q = torch.tensor([[1.0, 4.0], [2.0, 8.0]])
    log_pi = torch.tensor([[0.25, 0.75], [0.5, 0.5]]).log()
    divergence, alpha = torch.tensor([2.0, 0.0]), torch.tensor(0.5)
    sampled = next_value(next_q, log_pi, divergence, alpha, next_codes=torch.tensor([1, 0]))
    expected = next_value(next_q, log_pi, divergence, alpha, next_codes=None)
    assert sampled.tolist() == pytest.approx([4.0 - 1.0, 2.0])
    assert expected.tolist() == pytest.approx([0.25 + 3.0 - 1.0, 5.0])


def test_sampled_codes_follow_the_probabilities():
    probs = torch.tensor([[0.1, 0.0, 0.6, 0.3]]).expand(20_000, 4)
    codes = sample_codes(probs, torch.Generator().manual_seed(0))
    frequencies = torch.bincount(codes, minlength=4) / len(codes)
    assert frequencies.tolist() == pytest.approx([0.1, 0.0, 0.6, 0.3], abs=0.01)


def test_probabilities_of_vanishing_log_probabilities_are_finite_and_tiny():
    probs = probabilities(torch.tensor([0.0, -200.0, float("-inf")]))
    assert probs[0] == 1.0 and 0 <= probs[1] < 1e-30 and 0 <= probs[2] < 1e-30


def test_policy_loss_prefers_high_q_and_low_divergence():
    log_pi = torch.tensor([[0.5, 0.5]]).log()
    q = torch.tensor([[1.0, 3.0]])
    assert policy_loss(log_pi, q, torch.tensor([2.0]), torch.tensor(0.5)).item() == \
        pytest.approx(-2.0 + 1.0)


def test_negative_entropy_of_uniform():
    uniform = torch.full((1, 4), 0.25).log()
    assert negative_entropy(uniform).item() == pytest.approx(-torch.log(torch.tensor(4.0)).item())


def make_agent(with_prior: bool, episode_steps: int | None = None) -> tuple[DiscreteSAC, GoalPrior]:
    torch.manual_seed(0)
    prior = GoalPrior("qpos30", n_codes=4, hidden=16).eval()
    actor = copy.deepcopy(prior) if with_prior else fresh_copy(prior)
    agent = DiscreteSAC(actor, prior if with_prior else None, prior.mlp.input_mean,
                        prior.mlp.input_std, 4, target=5.0 if with_prior else -1.0, gamma=0.99,
                        tau=5e-3, lr=3e-4, grad_clip=10.0, hidden=32, critic_layers=5,
                        value_ceiling=4.0 if with_prior else None, expected_next_value=True,
                        critic_layer_norm=True, episode_steps=episode_steps)
    return agent, prior


def random_batch(size: int = 8) -> Batch:
    generator = torch.Generator().manual_seed(1)
    return Batch(states=torch.randn(size, 30, generator=generator),
                 actions=torch.randint(0, 4, (size,), generator=generator),
                 rewards=torch.rand(size, generator=generator),
                 next_states=torch.randn(size, 30, generator=generator),
                 terminated=torch.zeros(size),
                 steps=torch.full((size,), 100.0), next_steps=torch.full((size,), 110.0))


def test_ptgm_policy_starts_as_the_prior():
    agent, prior = make_agent(with_prior=True)
    states = torch.randn(5, 30)
    torch.testing.assert_close(agent.policy(states), prior(states))
    assert agent.critics.members == 2
    assert len(agent.critics.hidden_layers) == len(agent.critics.norms) == 5


@pytest.mark.parametrize("time_aware", [True, False])
def test_only_critics_that_know_the_time_stop_bootstrapping_at_the_time_limit(time_aware):
    agent, _ = make_agent(with_prior=True, episode_steps=110 if time_aware else None)
    batch = random_batch()
    alpha = torch.tensor(0.1)
    at_the_limit = agent.critic_targets(batch, alpha, torch.Generator())
    assert torch.equal(at_the_limit, batch.rewards) == time_aware
    batch.next_steps -= 10  # 10 steps left: both bootstrap
    assert not torch.equal(agent.critic_targets(batch, alpha, torch.Generator()), batch.rewards)


def test_time_aware_critics_see_the_fraction_of_the_episode_left():
    agent, _ = make_agent(with_prior=True, episode_steps=280)
    critics, states = agent.critics, torch.randn(3, 30)
    assert critics.hidden_layers[0].weight.shape[1] == 30 + 1
    early, late = (critics(states, agent.time_left(torch.full((3,), step))) for step in (0., 270.))
    assert not torch.allclose(early, late)
    torch.testing.assert_close(agent.time_left(torch.tensor([0., 70., 280.])),
                               torch.tensor([1., 0.75, 0.]))


def test_noprior_policy_is_freshly_initialised_but_keeps_the_input_standardisation():
    agent, prior = make_agent(with_prior=False)
    assert agent.prior is None
    assert not torch.equal(agent.policy.mlp.head.weight, prior.mlp.head.weight)
    assert torch.equal(agent.policy.mlp.input_std, prior.mlp.input_std)


@pytest.mark.parametrize("with_prior", [True, False])
def test_update_changes_networks_and_leaves_the_prior_frozen(with_prior):
    agent, prior = make_agent(with_prior)
    prior_before = copy.deepcopy(prior.state_dict())
    policy_before = copy.deepcopy(agent.policy.state_dict())
    metrics = agent.update(random_batch(), torch.Generator().manual_seed(0))
    assert ("charts/kl" in metrics) == with_prior
    assert agent.updates == 1 and agent.alpha != 1.0
    assert not torch.equal(agent.policy.mlp.head.weight, policy_before["mlp.head.weight"])
    # Eval mode: BatchNorm statistics are not updated by replay batches.
    bn = [k for k in policy_before if "running_mean" in k][0]
    assert torch.equal(agent.policy.state_dict()[bn], policy_before[bn])
    for key, value in prior.state_dict().items():
        assert torch.equal(value, prior_before[key])


@pytest.mark.slow
def test_state_dict_round_trip_gives_identical_updates():
    agent, _ = make_agent(with_prior=True)
    agent.update(random_batch(), torch.Generator().manual_seed(0))
    twin, _ = make_agent(with_prior=True)
    twin.load_state_dict(copy.deepcopy(agent.state_dict()))
    for learner in (agent, twin):
        learner.update(random_batch(), torch.Generator().manual_seed(3))
    for key, value in agent.weights().items():
        assert torch.equal(value, twin.weights()[key]), key
