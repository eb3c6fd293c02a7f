import numpy as np
import torch

from ptgm_cli.models.mlp import load_weights, save_weights
from ptgm_cli.models.policy import GoalPolicy, behaviour_cloning, gaussian_nll


def trained_policy(**kwargs) -> GoalPolicy:
    """A policy after a few steps, so that its BatchNorm statistics are not the defaults."""
    torch.manual_seed(0)
    policy = GoalPolicy(hidden=16, **kwargs)
    optimizer = torch.optim.RAdam(policy.parameters())
    states, goals = torch.randn(64, policy.state_dim), torch.randn(64, policy.goal_dim)
    actions = torch.rand(64, 9) * 2 - 1
    for _ in range(5):
        loss = behaviour_cloning(policy, (states, goals, actions))["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return policy.eval()


def test_shapes_and_log_std_clamp():
    policy = trained_policy(state_features="obs59", goal_dims="objects21")
    assert policy.state_dim == 59 and policy.goal_dim == 21
    with torch.no_grad():
        policy.mlp.head.bias[9:] = 100.0
    mean, log_std = policy(np.zeros((3, 59)), np.zeros((3, 21)))
    assert mean.shape == log_std.shape == (3, 9)
    assert (log_std == 2.0).all()


def test_nll_is_the_gaussian_log_likelihood_summed_over_dims():
    mean, log_std, actions = torch.randn(5, 9), torch.randn(5, 9), torch.randn(5, 9)
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
    torch.testing.assert_close(gaussian_nll(mean, log_std, actions), expected)


def test_sample_draws_around_the_mean_and_is_seeded():
    policy = trained_policy()
    states, goals = torch.zeros(2000, 30), torch.zeros(2000, 21)
    first = policy.sample(states, goals, torch.Generator().manual_seed(1))
    again = policy.sample(states, goals, torch.Generator().manual_seed(1))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    mean, log_std = policy(states, goals)
    assert not torch.allclose(first, mean)
    torch.testing.assert_close(first.std(0), log_std[0].exp(), rtol=0.1, atol=0)


def test_features_of_observations():
    observations = np.arange(2 * 59, dtype=np.float32).reshape(2, 59)
    features = GoalPolicy().features(observations)
    np.testing.assert_array_equal(features[:, :9], observations[:, :9])
    np.testing.assert_array_equal(features[:, 9:], observations[:, 18:39])
    assert GoalPolicy(state_features="obs59").features(observations).shape == (2, 59)


def test_save_load_round_trip_gives_identical_actions(tmp_path):
    policy = trained_policy()
    save_weights(policy, tmp_path / "policy.safetensors")
    restored = load_weights(GoalPolicy(hidden=16), tmp_path / "policy.safetensors", fix="")
    states, goals = torch.randn(8, 30), torch.randn(8, 21)
    for original, loaded in zip(policy(states, goals), restored(states, goals), strict=True):
        torch.testing.assert_close(loaded, original, rtol=0, atol=0)
