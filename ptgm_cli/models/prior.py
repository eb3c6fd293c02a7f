"""The goal prior p(code | s) (PTGM §4.3): a classifier over the codebook's codes.

Its softmax is the prior the high-level policy is regularised towards, and its weights initialise
that policy. Labels are the codes nearest to the goals reached 1..horizon steps later.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptgm_cli.models.features import feature_names, state_features
from ptgm_cli.models.mlp import MLP

PRIOR_FILE = "prior.safetensors"


class GoalPrior(nn.Module):
    def __init__(self, state_features: str = "qpos30", n_codes: int = 50, hidden: int = 128):
        super().__init__()
        self.state_features = state_features
        self.n_codes = n_codes
        self.state_dim = len(feature_names(state_features))
        self.mlp = MLP(self.state_dim, n_codes, hidden)

    def features(self, observations: np.ndarray) -> np.ndarray:
        """The prior's state input of 59-dim observations, any batch shape."""
        return state_features(observations, self.state_features)

    def forward(self, states) -> torch.Tensor:
        """Logits over the codes, (..., n_codes)."""
        return self.mlp(torch.as_tensor(states, dtype=torch.float32))


def classification(prior: GoalPrior, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """Objective of `training.fit` on (state, code label) minibatches: cross-entropy."""
    states, labels = batch
    logits = prior(states)
    top5 = logits.topk(min(5, prior.n_codes), dim=-1).indices
    return {"loss": F.cross_entropy(logits, labels, reduction="none"),
            "top1": (top5[:, 0] == labels).float(),
            "top5": (top5 == labels[:, None]).any(dim=-1).float()}
