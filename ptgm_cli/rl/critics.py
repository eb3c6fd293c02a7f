"""The high-level critics as one ensemble: state -> Q(s, code) for every code, for each member.

The members (the twin critics, or their target copies) are independent networks evaluated
together: every layer is one batched matrix product over the ensemble axis, (E, B, in) x
(E, in, out), so both critics cost one kernel per layer instead of two (as in REDQ's and
RLPD's ensembles).

The critic loss needs Q only at the code each transition took, so `taken` computes those B
values from the last hidden layer and the head's rows of those codes: the gradient of the head
then touches B rows instead of a dense (B x n_codes) product, which with 500 codes was a
quarter of a gradient step's arithmetic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class EnsembleLinear(nn.Module):
    """`members` independent `nn.Linear(in_features, out_features)`, initialised like it, applied
    to (E, B, in_features) inputs."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])  # nn.Linear's default initialisation
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, inputs, self.weight)

    def at(self, inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        """forward(inputs)[e, b, outputs[b]] without the other outputs: (E, B)."""
        weight = self.weight[:, :, outputs].transpose(1, 2)  # (E, B, in)
        return (inputs * weight).sum(-1) + self.bias[:, 0, outputs]


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last axis with each member's own gain and bias."""

    def __init__(self, members: int, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(members, 1, features))
        self.bias = nn.Parameter(torch.zeros(members, 1, features))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        normalised = F.layer_norm(inputs, inputs.shape[-1:])
        return torch.addcmul(self.bias, normalised, self.weight)


class CriticEnsemble(nn.Module):
    """`members` critics over `n_codes` codes; `layers` hidden ReLU layers of `hidden` units.
    Inputs are standardised like the prior's (the dataset's feature statistics).

    With `layer_norm` each hidden layer is normalised before its ReLU, as in RLPD's critics
    (Ball et al. 2023), where it curbed the value overestimation that made critics diverge.
    With `time_input` the fraction of the episode left is one more input.
    """

    def __init__(self, members: int, input_mean: torch.Tensor, input_std: torch.Tensor,
                 n_codes: int, hidden: int, layers: int, layer_norm: bool,
                 time_input: bool = False):
        super().__init__()
        self.members = members
        self.register_buffer("input_mean", input_mean.clone())
        self.register_buffer("input_std", input_std.clone())
        widths = [input_mean.numel() + int(time_input)] + [hidden] * layers
        self.hidden_layers = nn.ModuleList(
            EnsembleLinear(members, width_in, width_out)
            for width_in, width_out in zip(widths, widths[1:], strict=False))
        self.norms = nn.ModuleList(
            EnsembleLayerNorm(members, hidden) for _ in range(layers)) if layer_norm else None
        self.head = EnsembleLinear(members, hidden, n_codes)

    def features(self, states: torch.Tensor, time_left: torch.Tensor | None) -> torch.Tensor:
        """The last hidden layer of every member, (E, B, hidden)."""
        inputs = (states - self.input_mean) / self.input_std
        if time_left is not None:
            inputs = torch.cat([inputs, time_left[:, None]], dim=1)
        hidden = inputs.expand(self.members, *inputs.shape)
        for index, layer in enumerate(self.hidden_layers):
            hidden = layer(hidden)
            if self.norms is not None:
                hidden = self.norms[index](hidden)
            hidden = F.relu(hidden)
        return hidden

    def forward(self, states: torch.Tensor, time_left: torch.Tensor | None = None) -> torch.Tensor:
        """Q of every code for every member, (E, B, n_codes)."""
        return self.head(self.features(states, time_left))
