"""The goal prior p(code | s) (PTGM §4.3): a classifier over the codebook's codes.

Its softmax is the prior the high-level policy is regularised towards, and its weights initialise
that policy. Labels are the codes nearest to the goals reached 1..horizon steps later.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptgm_cli.errors import PtgmError
from ptgm_cli.models.codebook import Codebook
from ptgm_cli.models.features import check_state_names, feature_names, state_features
from ptgm_cli.models.mlp import MLP, load_weights
from ptgm_cli.workspace import Artifact, Workspace

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


def check_codebook(artifact: Artifact, codebook: Codebook) -> None:
    """Refuse a codebook of another size or goal space, or not the one the prior was trained on."""
    name, shapes = artifact.manifest.name, artifact.manifest.shapes
    given = codebook.ref.name if codebook.ref else "given"
    retrain = f"train a prior for it with `ptgm train-prior --codebook {given} --name NEW_NAME`"
    if shapes.n_codes != codebook.n_codes:
        raise PtgmError(f"prior {name!r} predicts {shapes.n_codes} codes but codebook {given!r} "
                        f"has {codebook.n_codes}; {retrain}")
    if shapes.goal_indices != list(codebook.goal_indices):
        raise PtgmError(f"prior {name!r} was trained on {len(shapes.goal_indices or [])}-dim goals "
                        f"({', '.join((shapes.goal_names or [])[:3])}, ...) but codebook {given!r} "
                        f"uses {codebook.goal_dims}; {retrain}")
    parent = artifact.manifest.parent("codebook")
    if codebook.ref is not None and codebook.ref != parent:
        raise PtgmError(f"prior {name!r} was trained on codebook {parent.name!r}, "
                        f"not on codebook {given!r}; pass that codebook or {retrain}")


def load_prior(workspace: Workspace, name: str,
               codebook: Codebook | None = None) -> tuple[GoalPrior, Artifact]:
    """A trained prior in eval mode; given a codebook, check it is the prior's own."""
    artifact = workspace.load("prior", name)
    config, shapes = artifact.manifest.config, artifact.manifest.shapes
    fix = f"retrain it with `ptgm train-prior --name {name} --force`"
    prior = GoalPrior(config["state_features"], shapes.n_codes, config["hidden"])
    check_state_names("prior", name, shapes.state_names, feature_names(prior.state_features), fix)
    load_weights(prior, artifact.file(PRIOR_FILE), fix)
    if codebook is not None:
        check_codebook(artifact, codebook)
    return prior, artifact
