"""What the two SAC variants share: soft target updates and their persistent state.

An agent exposes its networks (`modules`), optimisers, the temperature `log_alpha` and an update
counter; that is everything a checkpoint must hold to continue learning exactly. They live on the
agent's `device`; what it hands out for saving is on the CPU, so a checkpoint loads anywhere.
"""

from __future__ import annotations

import torch
from torch import nn

from ptgm_cli.errors import PtgmError
from ptgm_cli.models.mlp import short_list, weight_mismatches


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging: target <- tau * source + (1 - tau) * target."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


def on_cpu(state):
    """`state` (nested dicts, lists and tuples) with every tensor moved to the CPU."""
    if isinstance(state, torch.Tensor):
        return state.cpu()
    if isinstance(state, dict):
        return {key: on_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(on_cpu(value) for value in state)
    return state


class SACAgent:
    log_alpha: torch.Tensor
    updates: int
    device: torch.device

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    @property
    def alpha(self) -> float:
        return self.log_alpha.exp().item()

    def weights(self) -> dict[str, torch.Tensor]:
        """Flat name -> tensor map of every network, for safetensors."""
        return {
            f"{name}.{key}": tensor.detach().cpu().contiguous()
            for name, module in self.modules().items()
            for key, tensor in module.state_dict().items()
        } | {"log_alpha": self.log_alpha.detach().clone().cpu()}

    def load_weights(self, weights: dict[str, torch.Tensor], source: str = "the checkpoint",
                     fix: str = "start the run over with --force") -> None:
        """Weights as `weights()` names them, from `source`; any that do not fit these networks
        are refused before anything is loaded."""
        problems = weight_mismatches(self.weights(), weights)
        if problems:
            raise PtgmError(f"{source} does not fit the networks its config describes "
                            f"({short_list(problems)}); {fix}")
        for name, module in self.modules().items():
            prefix = f"{name}."
            module.load_state_dict(
                {key[len(prefix):]: value for key, value in weights.items()
                 if key.startswith(prefix)}
            )
        with torch.no_grad():
            self.log_alpha.copy_(weights["log_alpha"])

    def state_dict(self) -> dict:
        return {
            "weights": self.weights(),
            "optimizers": {name: on_cpu(opt.state_dict())
                           for name, opt in self.optimizers().items()},
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict) -> None:
        self.load_weights(state["weights"])
        for name, optimizer in self.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.updates = state["updates"]


class PolicyCriticAgent(SACAgent):
    """A high-level agent with a `policy` network, twin `critics` and their targets, and an
    optimiser for each learner (PTGM's discrete SAC, SPiRL's SAC over skills): their networks
    and optimisers, under the names checkpoints store them."""

    policy: nn.Module
    critics: nn.Module
    target_critics: nn.Module
    policy_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer
    alpha_optimizer: torch.optim.Optimizer

    def modules(self) -> dict[str, nn.Module]:
        return {"policy": self.policy, "critics": self.critics,
                "target_critics": self.target_critics}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"policy": self.policy_optimizer, "critic": self.critic_optimizer,
                "alpha": self.alpha_optimizer}
