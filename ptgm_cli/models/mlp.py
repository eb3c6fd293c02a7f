"""The MLP body shared by the goal prior and the low-level policy (the paper's Kitchen network).

Linear(in, h) + LeakyReLU(0.2), then 3 x [Linear(h, h, no bias) + BatchNorm1d + LeakyReLU(0.2)],
then a linear head. Inputs are standardised with the mean and std of the training inputs, kept as
buffers so that the saved weights alone rebuild the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_model
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


def read_tensors(path: Path, fix: str) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors; a file that is not one is a user error."""
    try:
        return load_file(str(path))
    except SafetensorError as error:
        raise PtgmError(f"{path} is not a readable safetensors file ({error}); {fix}") from None


def weight_mismatches(expected: Mapping[str, torch.Tensor],
                      found: Mapping[str, torch.Tensor]) -> list[str]:
    """Why `found` cannot stand for `expected`, name by name (missing, unexpected, another shape
    or dtype); empty when it fits. `load_state_dict` would cast dtypes silently."""
    problems = [f"missing {name}" for name in expected if name not in found]
    problems += [f"unexpected {name}" for name in found if name not in expected]
    problems += [
        f"{name} is {found[name].dtype} {tuple(found[name].shape)}, not "
        f"{tensor.dtype} {tuple(tensor.shape)}"
        for name, tensor in expected.items() if name in found
        and (found[name].shape != tensor.shape or found[name].dtype != tensor.dtype)
    ]
    return problems


def non_finite(tensors: Mapping[str, torch.Tensor | np.ndarray | float]) -> list[str]:
    """The names of the tensors holding a NaN or an infinity. Only reads them: a check of a
    trained model must leave every number it produces as it was."""
    return [name for name, tensor in tensors.items()
            if not torch.isfinite(torch.as_tensor(tensor)).all()]


def check_finite(tensors: Mapping[str, torch.Tensor | np.ndarray | float], subject: str,
                 fix: str) -> None:
    """Refuse a diverged model before it is saved, naming its non-finite tensors."""
    names = non_finite(tensors)
    if names:
        raise PtgmError(f"{subject} are not finite ({short_list(names)}); {fix}")


def short_list(names: list[str], shown: int = 3) -> str:
    """'a, b, c, … 5 more': enough names for a one-line error."""
    more = f", … {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def load_weights(model: nn.Module, path: Path, fix: str) -> nn.Module:
    """Load safetensors weights into `model`, in eval mode; a mismatch is a user error."""
    tensors = read_tensors(path, fix)
    problems = weight_mismatches(model.state_dict(), tensors)
    if problems:
        raise PtgmError(f"{path} does not fit the model its manifest describes "
                        f"({short_list(problems)}); {fix}")
    model.load_state_dict(tensors)
    return model.eval()
