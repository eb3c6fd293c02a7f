"""The goal-conditioned low-level policy pi(a | s, g) (PTGM §4.1), trained by behaviour cloning.

A diagonal Gaussian over the 9 joint-velocity actions, log-std clamped to [-10, 2]. As in the
paper, actions are sampled from it unsquashed (no tanh); the environment clips them to [-1, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, goal_indices
from ptgm_cli.models.codebook import Codebook
from ptgm_cli.models.features import feature_names, state_features
from ptgm_cli.models.mlp import MLP

POLICY_FILE = "policy.safetensors"
LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0


class GoalPolicy(nn.Module):
    def __init__(self, state_features: str = "qpos30", goal_dims: str = "paper21",
                 hidden: int = 128):
        super().__init__()
        self.state_features = state_features
        self.goal_dims = goal_dims
        self.state_dim = len(feature_names(state_features))
        self.goal_dim = len(goal_indices(goal_dims))
        self.mlp = MLP(self.state_dim + self.goal_dim, 2 * N_ACTION, hidden)

    def features(self, observations: np.ndarray) -> np.ndarray:
        """The policy's state input of 59-dim observations, any batch shape."""
        return state_features(observations, self.state_features)

    def forward(self, states, goals) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and clamped log-std of the action distribution, each (..., 9)."""
        inputs = torch.cat([torch.as_tensor(states, dtype=torch.float32),
                            torch.as_tensor(goals, dtype=torch.float32)], dim=-1)
        mean, log_std = self.mlp(inputs).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    @torch.no_grad()
    def sample(self, states, goals, generator: torch.Generator | None = None) -> torch.Tensor:
        """An action drawn from pi(. | s, g) (not its mean)."""
        mean, log_std = self(states, goals)
        noise = torch.randn(mean.shape, generator=generator)
        return mean + log_std.exp() * noise

    @torch.no_grad()
    def act(self, states, goals, sample: bool,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """The action taken when executing goals: a draw from pi(. | s, g), or its mean. The mean
        follows demonstrations more closely: the learned std also covers the data's action noise,
        and sampling it compounds over a 10-step option."""
        if sample:
            return self.sample(states, goals, generator)
        return self(states, goals)[0]

    def check_goal_dims(self, codebook: Codebook, codebook_name: str) -> None:
        if codebook.goal_indices != goal_indices(self.goal_dims):
            raise PtgmError(
                f"the policy was trained for goal dims {self.goal_dims} ({self.goal_dim} dims) "
                f"but codebook {codebook_name!r} uses {codebook.goal_dims} "
                f"({codebook.goal_dim} dims); build a codebook with "
                f"`ptgm build-codebook --goal-dims {self.goal_dims}` or retrain the policy with "
                f"`ptgm train-policy --goal-dims {codebook.goal_dims}`"
            )


def gaussian_nll(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """-log N(a; mean, exp(log_std)^2), summed over action dims: (B, 9) -> (B,)."""
    z = (actions - mean) / log_std.exp()
    return (0.5 * z**2 + log_std + 0.5 * math.log(2 * math.pi)).sum(dim=-1)


def behaviour_cloning(policy: GoalPolicy,
                      batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Objective of `training.fit` on (state, goal, action) minibatches."""
    states, goals, actions = batch
    mean, log_std = policy(states, goals)
    return {"loss": gaussian_nll(mean, log_std, actions),
            "action_mse": ((mean - actions) ** 2).mean(dim=-1)}
