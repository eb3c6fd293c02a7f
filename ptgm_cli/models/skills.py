"""SPiRL's skill model (Pertsch et al. 2020), the method PTGM builds on, as its Kitchen
configuration has it (DESIGN.md §6).

A skill is a sequence of `skill_length` (10) actions, embedded in a `latent_dim` (10) Gaussian
latent z:
- the encoder q(z | a_1..a_10) is an LSTM over the actions (SPiRL-cl: the actions and the states
  they were taken in), read at its last step;
- the decoder turns z back into actions: open-loop (SPiRL) an LSTM that emits the 10 actions
  one after the other, each fed back as the next input; closed-loop (SPiRL-cl) an MLP
  a_t = dec(s_t, z) applied at every step from the state reached;
- the learned skill prior p(z | s_1), a diagonal Gaussian from an MLP, is trained towards the
  encoder's posterior, which its loss does not move (the posterior is detached).

Loss per sequence: the unit-variance Gaussian NLL of the actions without its constant
(0.5 x the squared error, averaged over steps and action dims, as SPiRL's), plus beta (5e-4) times
KL(q || N(0, I)), plus KL(q || p) for the prior; both KLs averaged over the latent dims.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ptgm_cli.models.features import feature_names, state_features
from ptgm_cli.models.mlp import MLP

SKILLS_FILE = "skills.safetensors"


def gaussian_kl(mean_q: torch.Tensor, log_std_q: torch.Tensor, mean_p: torch.Tensor,
                log_std_p: torch.Tensor) -> torch.Tensor:
    """KL(q || p) of diagonal Gaussians, per dimension."""
    variance_ratio = torch.exp(2 * (log_std_q - log_std_p))
    mean_term = ((mean_q - mean_p) / log_std_p.exp()) ** 2
    return 0.5 * (variance_ratio + mean_term - 1) - (log_std_q - log_std_p)


class SkillModel(nn.Module):
    """Encoder, decoder (open- or closed-loop) and learned prior over `latent_dim` latents of
    `skill_length`-action skills over the `state_features` of observations. States are
    standardised inside, like the prior's MLP inputs."""

    def __init__(self, state_features: str, action_dim: int, skill_length: int = 10,
                 latent_dim: int = 10, hidden: int = 128, closed_loop: bool = True):
        super().__init__()
        self.state_features = state_features
        self.state_dim = state_dim = len(feature_names(state_features))
        self.action_dim = action_dim
        self.skill_length, self.latent_dim, self.closed_loop = skill_length, latent_dim, closed_loop
        self.register_buffer("state_mean", torch.zeros(state_dim))
        self.register_buffer("state_std", torch.ones(state_dim))
        encoder_input = action_dim + (state_dim if closed_loop else 0)
        self.encoder_input = nn.Linear(encoder_input, hidden)
        self.encoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.encoder_output = nn.Linear(hidden, 2 * latent_dim)
        if closed_loop:  # 5 layers (SPiRL-cl's decoder): input, 3 hidden blocks, head
            self.decoder = MLP(state_dim + latent_dim, action_dim, hidden, blocks=3)
        else:  # input: the previous action (a learnt one before the first) and z
            self.decoder_cell = nn.LSTMCell(action_dim + latent_dim, hidden)
            self.decoder_output = nn.Linear(hidden, action_dim)
            self.first_action = nn.Parameter(torch.zeros(action_dim))
        self.prior = MLP(state_dim, 2 * latent_dim, hidden, blocks=4)  # 6 layers, as SPiRL's

    def features(self, observations: np.ndarray) -> np.ndarray:
        """The model's state input of 59-dim observations."""
        return state_features(observations, self.state_features)

    def fit_state_normalisation(self, states: torch.Tensor) -> None:
        """Standardise states with the training states' statistics, in every network."""
        self.prior.fit_input_normalisation(states)
        mean, std = self.prior.input_mean.clone(), self.prior.input_std.clone()
        self.state_mean.copy_(mean)
        self.state_std.copy_(std)
        if self.closed_loop:  # the latent part of the decoder's input stays as it is
            self.decoder.input_mean[:self.state_dim] = mean
            self.decoder.input_std[:self.state_dim] = std

    def posterior(self, states: torch.Tensor,
                  actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | skill): mean and log-std, (B, latent_dim) each, from states (B, L + 1, S) and
        actions (B, L, A)."""
        inputs = actions
        if self.closed_loop:
            standardised = (states[:, :-1] - self.state_mean) / self.state_std
            inputs = torch.cat([actions, standardised], dim=-1)
        outputs, _ = self.encoder(self.encoder_input(inputs))
        return self.encoder_output(outputs[:, -1]).chunk(2, dim=-1)

    def decode(self, latents: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
        """The skill's actions (B, L, A); closed-loop decoding needs the states they are taken
        in, (B, >= L, S)."""
        if self.closed_loop:
            steps = states[:, :self.skill_length]
            repeated = latents[:, None].expand(-1, self.skill_length, -1)
            return self.decoder(torch.cat([steps, repeated], dim=-1))
        action = self.first_action.expand(len(latents), -1)
        hidden = None
        actions = []
        for _ in range(self.skill_length):
            hidden = self.decoder_cell(torch.cat([action, latents], dim=-1), hidden)
            action = self.decoder_output(hidden[0])
            actions.append(action)
        return torch.stack(actions, dim=1)

    def decode_step(self, states: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """Closed-loop execution: the action in each state for its skill, (B, A)."""
        return self.decoder(torch.cat([states, latents], dim=-1))

    def prior_distribution(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z | s): mean and log-std, (B, latent_dim) each."""
        return self.prior(states).chunk(2, dim=-1)


def skill_objective(model: SkillModel, batch: tuple[torch.Tensor, ...],
                    beta: float = 5e-4) -> dict[str, torch.Tensor]:
    """`training.fit`'s objective on (states (B, L + 1, S), actions (B, L, A)) minibatches: per
    sequence, the loss and its parts. z is drawn with torch's global generator (seeded)."""
    states, actions = batch
    mean, log_std = model.posterior(states, actions)
    latents = mean + log_std.exp() * torch.randn_like(mean)
    squared_error = (model.decode(latents, states) - actions) ** 2
    reconstruction = 0.5 * squared_error.mean(dim=(1, 2))
    kl = gaussian_kl(mean, log_std, torch.zeros_like(mean), torch.zeros_like(log_std)).mean(-1)
    prior_mean, prior_log_std = model.prior_distribution(states[:, 0])
    prior_kl = gaussian_kl(mean.detach(), log_std.detach(), prior_mean, prior_log_std).mean(-1)
    return {"loss": reconstruction + beta * kl + prior_kl, "action_mse": 2 * reconstruction,
            "kl": kl, "prior_kl": prior_kl}
