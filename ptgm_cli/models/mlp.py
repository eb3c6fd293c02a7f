"""The MLP body shared by the goal prior and the low-level policy (the paper's Kitchen network).

Linear(in, h) + LeakyReLU(0.2), then 3 x [Linear(h, h, no bias) + BatchNorm1d + LeakyReLU(0.2)],
then a linear head. Inputs are standardised with the mean and std of the training inputs, kept as
buffers so that the saved weights alone rebuild the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ptgm_cli.errors import PtgmError

# Inputs that barely vary in the data (joints nothing in the data touches: their std is the
# observation noise, ~1e-5) would be blown up to unit scale, and any later change of them to
# hundreds of standard deviations; a floor of 0.01 (rad or m) keeps such inputs near zero.
MIN_INPUT_STD = 1e-2


class MLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, blocks: int = 3):
        super().__init__()
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2)]
        for _ in range(blocks):
            layers += [nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden),
                       nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, out_dim)

    @property
    def in_dim(self) -> int:
        return self.input_mean.numel()

    def fit_input_normalisation(self, *blocks: np.ndarray | torch.Tensor) -> None:
        """Set the input mean and std from the training inputs, given as blocks of consecutive
        input dims (e.g. states, goals), each (N_i, d_i) with sum(d_i) = in_dim."""
        blocks = [torch.as_tensor(block, dtype=torch.float64) for block in blocks]
        self.input_mean.copy_(torch.cat([block.mean(dim=0) for block in blocks]))
        std = torch.cat([block.std(dim=0) for block in blocks])
        self.input_std.copy_(std.clamp_min(MIN_INPUT_STD))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Any leading batch shape; BatchNorm sees the flattened batch."""
        leading = inputs.shape[:-1]
        flat = ((inputs - self.input_mean) / self.input_std).reshape(-1, self.in_dim)
        return self.head(self.body(flat)).reshape(*leading, -1)


def save_weights(model: nn.Module, path: Path) -> None:
    save_model(model, str(path))


def load_weights(model: nn.Module, path: Path, fix: str) -> nn.Module:
    """Load safetensors weights into `model`, in eval mode; a mismatch is a user error."""
    missing, unexpected = load_model(model, str(path), strict=False)
    if missing or unexpected:
        raise PtgmError(
            f"{path} does not fit the model its manifest describes (missing "
            f"{sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}); {fix}"
        )
    return model.eval()
