"""Flat SAC on the 9-dim joint-velocity actions: the baseline without pre-training.

Haarnoja et al. 2018 (SAC with automatic entropy tuning), written after CleanRL's
`sac_continuous_action.py` and with its hyper-parameters: two 256x256 critics and a 256x256
tanh-Gaussian actor, critic lr 1e-3, actor and alpha lr 3e-4, delayed actor updates
(every 2nd step, two of them, as TD3), target entropy -|A|, no gradient clipping; the width
(256) is the run's `hidden`. The env's actions live in [-1, 1], so the tanh output is the action
itself. One decision per env step on the 59-dim observation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptgm_cli.rl.agent import SACAgent, soft_update

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass(frozen=True)
class FlatSACHyperparameters:
    """CleanRL's defaults; gamma, tau, batch size and warm-up come from the run config."""

    critic_lr: float = 1e-3
    actor_lr: float = 3e-4
    policy_frequency: int = 2


def soft_q_target(rewards: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor,
                  next_log_prob: torch.Tensor, alpha: torch.Tensor, gamma: float) -> torch.Tensor:
    """y = r + gamma (1 - d) (min Q'(s', a') - alpha log pi(a' | s')), a' ~ pi(. | s')."""
    return rewards + gamma * (1 - terminated) * (next_q - alpha * next_log_prob)


class SoftQNetwork(nn.Module):
    def __init__(self, state_dim: int, action_dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(state_dim + action_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([states, actions], dim=-1)).squeeze(-1)


class TanhGaussianActor(nn.Module):
    def __init__(self, state_dim: int, action_dim: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(state_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        )
        self.mean = nn.Linear(hidden, action_dim)
        self.log_std = nn.Linear(hidden, action_dim)

    def forward(self, states: torch.Tensor, generator: torch.Generator | None = None):
        """A reparameterised sample (action in (-1, 1)) and its log-probability."""
        features = self.body(states)
        mean = self.mean(features)
        # CleanRL's soft squashing of the log-std into [LOG_STD_MIN, LOG_STD_MAX].
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (
            torch.tanh(self.log_std(features)) + 1
        )
        std = log_std.exp()
        # Drawn on the CPU whatever the device, so the draws do not depend on it.
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
        pre_tanh = mean + std * noise
        actions = torch.tanh(pre_tanh)
        log_prob = torch.distributions.Normal(mean, std).log_prob(pre_tanh)
        log_prob = log_prob - torch.log(1 - actions.pow(2) + 1e-6)
        return actions, log_prob.sum(-1)


class ContinuousSAC(SACAgent):
    """Actor, two critics with targets, and the auto-tuned temperature, on `device`."""

    action_dtype = np.float32

    def __init__(self, state_dim: int, action_dim: int, *, gamma: float, tau: float,
                 hidden: int, target_entropy: float | None = None,
                 hyper: FlatSACHyperparameters = FlatSACHyperparameters(),
                 device: torch.device = torch.device("cpu")):
        self.gamma, self.tau, self.hyper, self.device = gamma, tau, hyper, device
        self.action_shape = (action_dim,)
        self.actor = TanhGaussianActor(state_dim, action_dim, hidden)
        self.critics = nn.ModuleList(
            [SoftQNetwork(state_dim, action_dim, hidden) for _ in range(2)]
        )
        self.target_critics = nn.ModuleList(
            [SoftQNetwork(state_dim, action_dim, hidden) for _ in range(2)]
        )
        self.target_critics.load_state_dict(self.critics.state_dict())
        for network in (self.actor, self.critics, self.target_critics):
            network.to(device)
        self.target_entropy = -float(action_dim) if target_entropy is None else target_entropy
        self.log_alpha = torch.zeros(1, device=device, requires_grad=True)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=hyper.critic_lr)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=hyper.actor_lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=hyper.actor_lr)
        self.updates = 0

    @torch.no_grad()
    def act(self, states: np.ndarray, generator: torch.Generator, warmup: bool) -> np.ndarray:
        """Uniform random actions during warm-up (CleanRL's `learning_starts`), else a sample."""
        if warmup:
            shape = (len(states), *self.action_shape)
            return (torch.rand(shape, generator=generator) * 2 - 1).numpy()
        states = torch.as_tensor(states, dtype=torch.float32, device=self.device)
        actions, _ = self.actor(states, generator)
        return actions.cpu().numpy()

    def update(self, batch, generator: torch.Generator) -> dict[str, float]:
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_actions, next_log_prob = self.actor(batch.next_states, generator)
            next_q = torch.min(*(q(batch.next_states, next_actions) for q in self.target_critics))
            target = soft_q_target(batch.rewards, batch.terminated, next_q, next_log_prob, alpha,
                                   self.gamma)
        q_values = [q(batch.states, batch.actions) for q in self.critics]
        critic_loss = sum(F.mse_loss(q, target) for q in q_values)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()
        metrics = {"losses/critic": critic_loss.item(),
                   "losses/q_values": q_values[0].mean().item()}

        self.updates += 1
        if self.updates % self.hyper.policy_frequency == 0:
            # Delayed actor updates, repeated to compensate (CleanRL, after TD3).
            for _ in range(self.hyper.policy_frequency):
                actions, log_prob = self.actor(batch.states, generator)
                min_q = torch.min(*(q(batch.states, actions) for q in self.critics))
                actor_loss = (self.log_alpha.exp().detach() * log_prob - min_q).mean()
                self.actor_optimizer.zero_grad()
                actor_loss.backward()
                self.actor_optimizer.step()
                with torch.no_grad():
                    _, log_prob = self.actor(batch.states, generator)
                alpha_loss = (-self.log_alpha.exp() * (log_prob + self.target_entropy)).mean()
                self.alpha_optimizer.zero_grad()
                alpha_loss.backward()
                self.alpha_optimizer.step()
            metrics.update({"losses/actor": actor_loss.item(), "losses/alpha": alpha_loss.item(),
                            "charts/entropy": -log_prob.mean().item()})
        soft_update(self.target_critics, self.critics, self.tau)
        metrics["charts/alpha"] = self.alpha
        return metrics

    def modules(self) -> dict[str, nn.Module]:
        return {"actor": self.actor, "critics": self.critics, "target_critics": self.target_critics}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"actor": self.actor_optimizer, "critic": self.critic_optimizer,
                "alpha": self.alpha_optimizer}
