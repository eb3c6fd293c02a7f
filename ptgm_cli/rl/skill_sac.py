"""SPiRL's high-level learner (Pertsch et al. 2020, its Kitchen configs): SAC over the skill
latent z, with the divergence from the learned skill prior in place of the entropy.

    policy      u ~ N(mu(s), sigma(s)), z = 2 tanh(u) (SPiRL's `max_action_range` 2); the
                network starts as a copy of the skill prior's, its BatchNorm statistics frozen
                (SPiRL's `LearnedPriorAugmentedPIPolicy`)
    D(s)        KL(pi(u | s) || p(u | s)), analytic for the two diagonal Gaussians before the
                squashing, summed over the latent dims (the KL of the 10-dim Gaussians, as
                SPiRL's `_analytic_divergence` and its Monte-Carlo estimate), clamped to +-100
    target      y = R + gamma (1 - d) (min_j Qtarget_j(s', z') - alpha D(s')), z' ~ pi(. | s')
    critic loss (Q_j(s, z) - y)^2 for j = 1, 2
    policy loss alpha D(s) - min_j Q_j(s, z), z ~ pi(. | s) reparameterised
    alpha loss  alpha (delta - D(s)): alpha grows while D exceeds its target delta (5 in SPiRL)

Warm-up acts by sampling the prior and squashing (SPiRL's `sample_rand`). As in SPiRL's agent
the policy is updated before the critics, on the same batch.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptgm_cli.models.skills import gaussian_kl
from ptgm_cli.rl.agent import PolicyCriticAgent, soft_update

LATENT_RANGE = 2.0  # z = LATENT_RANGE * tanh(u): the skill prior is a unit-variance Gaussian
DIVERGENCE_CLAMP = 100.0
# Bounds of the Gaussians' log-std (CleanRL's SAC): unbounded, a policy update once drove
# exp(log std) to infinity in SPiRL-cl on the default data (NaN weights after 78k env steps).
LOG_STD_RANGE = (-5.0, 2.0)


class SkillCritic(nn.Module):
    """(state, z) -> Q: `layers` hidden layers of `hidden` units with LeakyReLU(0.2), then a
    linear head (SPiRL's 5 x 256 MLP critic). States are standardised with the skill model's
    statistics."""

    def __init__(self, state_mean: torch.Tensor, state_std: torch.Tensor, latent_dim: int,
                 hidden: int, layers: int = 5):
        super().__init__()
        self.register_buffer("state_mean", state_mean.clone())
        self.register_buffer("state_std", state_std.clone())
        widths = [state_mean.numel() + latent_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for width_in, width_out in zip(widths, widths[1:], strict=False):
            blocks += [nn.Linear(width_in, width_out), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks, nn.Linear(widths[-1], 1))

    def forward(self, states: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        standardised = (states - self.state_mean) / self.state_std
        return self.net(torch.cat([standardised, latents], dim=-1)).squeeze(-1)


def gaussian(outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and the bounded log-std of a network's (..., 2 x latent dim) output."""
    mean, log_std = outputs.chunk(2, dim=-1)
    return mean, log_std.clamp(*LOG_STD_RANGE)


def squash(pre_squash: torch.Tensor) -> torch.Tensor:
    return LATENT_RANGE * torch.tanh(pre_squash)


def sample_gaussian(mean: torch.Tensor, log_std: torch.Tensor,
                    generator: torch.Generator) -> torch.Tensor:
    """A reparameterised draw; the noise comes from `generator` on the CPU whatever the device."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
    return mean + log_std.exp() * noise


class SkillSAC(PolicyCriticAgent):
    """Policy over skills, two critics with targets, the temperature; `prior` is the frozen
    skill prior (a module mapping states to the mean and log-std of u, concatenated)."""

    def __init__(self, prior: nn.Module, state_mean: torch.Tensor, state_std: torch.Tensor,
                 latent_dim: int, *, target_divergence: float, gamma: float, tau: float,
                 lr: float, hidden: int, critic_layers: int = 5,
                 device: torch.device = torch.device("cpu")):
        self.device, self.latent_dim = device, latent_dim
        self.action_shape, self.action_dtype = (latent_dim,), np.float32
        self.target, self.gamma, self.tau = target_divergence, gamma, tau
        self.prior = prior.to(device).eval()
        self.policy = copy.deepcopy(prior).to(device).eval()
        self.critics = nn.ModuleList(
            SkillCritic(state_mean, state_std, latent_dim, hidden, critic_layers)
            for _ in range(2)).to(device)
        self.target_critics = copy.deepcopy(self.critics)
        self.log_alpha = torch.zeros(1, device=device, requires_grad=True)
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr)
        self.updates = 0

    def policy_distribution(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return gaussian(self.policy(states))

    def divergence(self, states: torch.Tensor, mean: torch.Tensor,
                   log_std: torch.Tensor) -> torch.Tensor:
        """KL(pi(u | s) || p(u | s)) per state, summed over the latent dims and clamped: the
        target divergence (5) bounds the whole latent's KL, not each dimension's."""
        with torch.no_grad():
            prior_mean, prior_log_std = gaussian(self.prior(states))
        kl = gaussian_kl(mean, log_std, prior_mean, prior_log_std).sum(-1)
        return kl.clamp(-DIVERGENCE_CLAMP, DIVERGENCE_CLAMP)

    @torch.no_grad()
    def act(self, states: np.ndarray, generator: torch.Generator, warmup: bool) -> np.ndarray:
        """A squashed skill from the policy, or during warm-up from the prior."""
        states = torch.as_tensor(states, dtype=torch.float32, device=self.device)
        network = self.prior if warmup else self.policy
        mean, log_std = gaussian(network(states))
        return squash(sample_gaussian(mean, log_std, generator)).cpu().numpy()

    def update(self, batch, generator: torch.Generator) -> dict[str, float]:
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_mean, next_log_std = self.policy_distribution(batch.next_states)
            next_latents = squash(sample_gaussian(next_mean, next_log_std, generator))
            next_q = torch.min(*(q(batch.next_states, next_latents)
                                 for q in self.target_critics))
            next_divergence = self.divergence(batch.next_states, next_mean, next_log_std)
            target = batch.rewards + self.gamma * (1 - batch.terminated) * (
                next_q - alpha * next_divergence)

        mean, log_std = self.policy_distribution(batch.states)
        divergence = self.divergence(batch.states, mean, log_std)
        latents = squash(sample_gaussian(mean, log_std, generator))
        q_policy = torch.min(*(q(batch.states, latents) for q in self.critics))
        actor_loss = (alpha * divergence - q_policy).mean()
        self._step(self.policy_optimizer, actor_loss)

        q_values = [q(batch.states, batch.actions) for q in self.critics]
        critic_loss = sum(F.mse_loss(q, target) for q in q_values)
        self._step(self.critic_optimizer, critic_loss)

        alpha_loss = (self.log_alpha.exp() * (self.target - divergence.detach())).mean()
        self._step(self.alpha_optimizer, alpha_loss)
        soft_update(self.target_critics, self.critics, self.tau)
        self.updates += 1
        return {
            "losses/critic": critic_loss.item(),
            "losses/actor": actor_loss.item(),
            "losses/alpha": alpha_loss.item(),
            "losses/q_values": q_values[0].mean().item(),
            "charts/alpha": self.alpha,
            "charts/kl": divergence.mean().item(),
        }

    @staticmethod
    def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
