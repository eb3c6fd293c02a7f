"""PTGM's high-level learner: discrete SAC over the codebook's indices, regularised towards the
goal prior (PTGM §4.3, Eq. 3 and the paper's Kitchen code).

Per high-level transition (s, i, R, s', d), with pi the policy, p the prior and
D(s) the regulariser:

    ptgm          D(s) = KL(p(.|s) || pi(.|s)), clamped to [-100, 100] (the paper's code)
    ptgm-noprior  D(s) = -H(pi(.|s))           (plain entropy-regularised discrete SAC)

    critic target   y = R + gamma (1 - d) V(s'), clipped above at the task's most return
                    V(s') = sum_i' pi(i'|s') min_j Qtarget_j(s', i') - alpha D(s')  (`expected`)
                    V(s') = min_j Qtarget_j(s', i') - alpha D(s'), i' ~ pi(.|s')     (`sampled`)
    critic loss     0.5 (Q_j(s, i) - y)^2 for j = 1, 2
    policy loss     -sum_i pi(i|s) min_j Q_j(s, i) + alpha D(s)
    alpha loss      alpha (delta - D(s)): alpha grows while D exceeds its target delta

delta is the target divergence for ptgm (`--target-divergence`) and minus the target entropy
for ptgm-noprior, so one set of formulas covers both. The paper's code samples the next code;
the expectation over it (discrete SAC, Christodoulou 2019) is exact and removes that sampling
noise from every target (`--critics bounded`).

The ceiling: with one unit of reward per subtask and D >= 0 (a KL), no soft value of ptgm can
exceed the number of subtasks. Clipping the target there bounds the loop in which the critics
overestimate, the policy chases the overestimate and the next targets inherit it: it stops the
exponential divergence that four of six 500-code runs without it showed
(docs/experiments.md), though not a
slower overestimation below the ceiling. ptgm-noprior's entropy bonus has no such bound, so
it has no ceiling.

Critics that know the time (`--critics bounded`, Pardo et al. 2018, "Time Limits in Reinforcement
Learning") also take the fraction of the episode left, and the time limit ends the episode for
them (d = 1 there): their values are what can still be earned in the steps left. Without it a
state's value is what could be earned with no time limit, so an option that holds the arm where
it is loses only a factor gamma against one that makes progress; within 280 steps for four
subtasks, time is what runs out. The policy keeps the prior's inputs (its state alone).

The policy loss uses the critics' values from before their update in the same step, as SPiRL's
SAC agent (on which the paper's code is built) computes all losses first and then steps; it also
spares two critic passes.

The state is the prior's features of the observation. The policy has the prior's architecture
and, for ptgm, starts as a copy of its weights. It stays in eval mode: its BatchNorm layers use
the prior's running statistics, since acting sees batches of a few envs whose statistics mean
nothing, and learning must optimise the very policy that acts.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptgm_cli.rl.agent import PolicyCriticAgent, soft_update
from ptgm_cli.rl.critics import CriticEnsemble

KL_CLAMP = 100.0
# exp() below about -87 leaves float32's normal range and takes a slow path (40x slower on this
# machine's CPUs); a prior over 500 codes puts many codes there. e^-80 is below any mass that
# matters.
LOG_PROB_FLOOR = -80.0


def probabilities(log_probs: torch.Tensor) -> torch.Tensor:
    return log_probs.clamp_min(LOG_PROB_FLOOR).exp()


def sample_codes(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One code per row by inverting the cumulative distribution: one uniform draw per row,
    where `torch.multinomial` draws one per code (20x slower for 500 codes). The draws come from
    `generator` on the CPU whatever the device of `probs`, so they do not depend on it."""
    cumulative = probs.cumsum(-1)
    draws = torch.rand(len(probs), 1, generator=generator).to(probs.device)
    uniform = draws * cumulative[:, -1:]
    return torch.searchsorted(cumulative, uniform).clamp_max(probs.shape[-1] - 1).squeeze(1)


def clamped_kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per state from log-probabilities, clamped to +-100 as in the paper's code."""
    kl = (probabilities(log_p) * (log_p - log_q)).sum(-1)
    return kl.clamp(-KL_CLAMP, KL_CLAMP)


def prior_kl(prior_log_probs: torch.Tensor, log_pi: torch.Tensor) -> torch.Tensor:
    """KL(prior || pi) per state, the direction the paper's code uses."""
    return clamped_kl(prior_log_probs, log_pi)


def negative_entropy(log_pi: torch.Tensor) -> torch.Tensor:
    return (probabilities(log_pi) * log_pi).sum(-1)


def next_value(next_q_min: torch.Tensor, next_log_pi: torch.Tensor,
               next_divergence: torch.Tensor, alpha: torch.Tensor,
               next_codes: torch.Tensor | None) -> torch.Tensor:
    """V(s') from `next_q_min` (B, n_codes): at the sampled `next_codes`, or the expectation over
    pi when they are None."""
    if next_codes is None:
        q = (probabilities(next_log_pi) * next_q_min).sum(-1)
    else:
        q = next_q_min.gather(1, next_codes[:, None]).squeeze(1)
    return q - alpha * next_divergence


def critic_target(rewards: torch.Tensor, terminated: torch.Tensor, next_values: torch.Tensor,
                  gamma: float, ceiling: float | None) -> torch.Tensor:
    """y = R + gamma (1 - d) V(s'), at most `ceiling`."""
    target = rewards + gamma * (1 - terminated) * next_values
    return target if ceiling is None else target.clamp_max(ceiling)


def policy_loss(log_pi: torch.Tensor, q_min: torch.Tensor, divergence: torch.Tensor,
                alpha: torch.Tensor) -> torch.Tensor:
    """-E_{i~pi} min Q(s, i) + alpha D(s), averaged over states."""
    return (-(probabilities(log_pi) * q_min).sum(-1) + alpha * divergence).mean()


def alpha_loss(log_alpha: torch.Tensor, divergence: torch.Tensor, target: float) -> torch.Tensor:
    """Dual descent on alpha: d loss / d alpha = delta - D, so alpha rises while D > delta."""
    return (log_alpha.exp() * (target - divergence.detach())).mean()


def fresh_copy(network: nn.Module) -> nn.Module:
    """The same architecture with newly initialised parameters and BatchNorm statistics; buffers
    that are not parameters (the input standardisation) are kept."""
    network = copy.deepcopy(network)
    for module in network.modules():
        if module is not network and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return network


class DiscreteSAC(PolicyCriticAgent):
    """Policy over codes, two critics with targets, and the tuned temperature.

    `prior` is the frozen goal prior (a module mapping states to logits) or None for
    ptgm-noprior, in which case `target` is minus the target entropy. `value_ceiling` bounds
    the critic targets (None: unbounded); `expected_next_value` picks the expectation over the
    next code rather than a sample; `critic_layer_norm` normalises the critics' hidden layers;
    `episode_steps`, if given, is the time limit the critics are told about (None: they are not).
    The networks, the prior included, live on `device`.
    """

    action_shape: tuple[int, ...] = ()
    action_dtype = np.int64

    def __init__(self, policy: nn.Module, prior: nn.Module | None, input_mean: torch.Tensor,
                 input_std: torch.Tensor, n_codes: int, *, target: float, gamma: float,
                 tau: float, lr: float, grad_clip: float, hidden: int, critic_layers: int,
                 value_ceiling: float | None, expected_next_value: bool,
                 critic_layer_norm: bool, episode_steps: int | None = None,
                 device: torch.device = torch.device("cpu")):
        self.device = device
        self.prior = None if prior is None else prior.to(device)
        self.episode_steps = episode_steps
        self.target, self.gamma, self.tau, self.grad_clip = target, gamma, tau, grad_clip
        self.value_ceiling, self.expected_next_value = value_ceiling, expected_next_value
        self.policy = policy.to(device).eval()
        self.critics = CriticEnsemble(2, input_mean, input_std, n_codes, hidden, critic_layers,
                                      critic_layer_norm, time_input=episode_steps is not None
                                      ).to(device)
        self.target_critics = copy.deepcopy(self.critics)
        self.log_alpha = torch.zeros(1, device=device, requires_grad=True)
        self.policy_optimizer = torch.optim.Adam(self.policy.parameters(), lr=lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=lr, fused=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr, fused=True)
        self.updates = 0

    def time_left(self, steps: torch.Tensor) -> torch.Tensor | None:
        """The critics' time input: the fraction of the episode left after `steps` env steps."""
        return None if self.episode_steps is None else 1 - steps / self.episode_steps

    def divergence(self, states: torch.Tensor, log_pi: torch.Tensor) -> torch.Tensor:
        if self.prior is None:
            return negative_entropy(log_pi)
        with torch.no_grad():
            prior_log_probs = F.log_softmax(self.prior(states), dim=-1)
        return prior_kl(prior_log_probs, log_pi)

    @torch.no_grad()
    def act(self, states: np.ndarray, generator: torch.Generator, warmup: bool) -> np.ndarray:
        """A code sampled from pi for each state. Warm-up acts the same way: the initial policy
        is the prior itself (for ptgm), SPiRL's `PriorInitializedPolicy.sample_rand`."""
        states = torch.as_tensor(states, dtype=torch.float32, device=self.device)
        log_pi = F.log_softmax(self.policy(states), dim=-1)
        return sample_codes(probabilities(log_pi), generator).cpu().numpy()

    @torch.no_grad()
    def critic_targets(self, batch, alpha: torch.Tensor,
                       generator: torch.Generator) -> torch.Tensor:
        next_log_pi = F.log_softmax(self.policy(batch.next_states), dim=-1)
        next_codes = (None if self.expected_next_value
                      else sample_codes(probabilities(next_log_pi), generator))
        next_time_left = self.time_left(batch.next_steps)
        next_q_min = self.target_critics(batch.next_states, next_time_left).amin(0)
        values = next_value(next_q_min, next_log_pi,
                            self.divergence(batch.next_states, next_log_pi), alpha, next_codes)
        ended = batch.terminated
        if next_time_left is not None:  # the time limit ends the episode for these critics
            ended = torch.maximum(ended, (next_time_left <= 0).float())
        return critic_target(batch.rewards, ended, values, self.gamma, self.value_ceiling)

    def update(self, batch, generator: torch.Generator) -> dict[str, float]:
        alpha = self.log_alpha.exp().detach()
        target = self.critic_targets(batch, alpha, generator)
        time_left = self.time_left(batch.steps)
        hidden = self.critics.features(batch.states, time_left)
        q_taken = self.critics.head.at(hidden, batch.actions)
        critic_loss = 0.5 * (q_taken - target).square().mean(1).sum()
        with torch.no_grad():  # the critics before this step's update
            q_min = self.critics.head(hidden).amin(0)
        self._step(self.critic_optimizer, critic_loss, self.critics)

        log_pi = F.log_softmax(self.policy(batch.states), dim=-1)
        divergence = self.divergence(batch.states, log_pi)
        actor_loss = policy_loss(log_pi, q_min, divergence, alpha)
        self._step(self.policy_optimizer, actor_loss, self.policy)

        temperature_loss = alpha_loss(self.log_alpha, divergence, self.target)
        self.alpha_optimizer.zero_grad()
        temperature_loss.backward()
        self.alpha_optimizer.step()

        soft_update(self.target_critics, self.critics, self.tau)
        self.updates += 1
        divergence_name = "charts/kl" if self.prior is not None else "charts/neg_entropy"
        return {
            "losses/critic": critic_loss.item(),
            "losses/actor": actor_loss.item(),
            "losses/alpha": temperature_loss.item(),
            "losses/q_values": q_taken[0].mean().item(),
            "charts/alpha": self.alpha,
            divergence_name: divergence.mean().item(),
            "charts/entropy": -negative_entropy(log_pi.detach()).mean().item(),
        }

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
              network: nn.Module) -> None:
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(network.parameters(), self.grad_clip, foreach=True)
        optimizer.step()
