"""A circular replay buffer of (state, action, reward, next state, terminated, steps, next steps)
transitions.

For PTGM a transition is one high-level step: the code that was executed, the sum of the env
rewards over its (up to) 10 env steps and the state where it ended. `terminated` is true only
when the task ended the episode (all subtasks done); a time-limit truncation is stored as not
terminated. `steps` and `next_steps` are the env steps of the episode at the transition's start
and end, for critics that know the time left.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch


@dataclass
class Batch:
    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_states: torch.Tensor
    terminated: torch.Tensor
    steps: torch.Tensor
    next_steps: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(**{part.name: getattr(self, part.name).to(device) for part in fields(self)})


class ReplayBuffer:
    def __init__(self, capacity: int, state_dim: int, action_shape: tuple[int, ...],
                 action_dtype: type = np.float32):
        self.capacity = capacity
        self.states = np.zeros((capacity, state_dim), np.float32)
        self.actions = np.zeros((capacity, *action_shape), action_dtype)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_states = np.zeros((capacity, state_dim), np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.steps = np.zeros(capacity, np.float32)
        self.next_steps = np.zeros(capacity, np.float32)
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"states": self.states, "actions": self.actions, "rewards": self.rewards,
                "next_states": self.next_states, "terminated": self.terminated,
                "steps": self.steps, "next_steps": self.next_steps}

    def add(self, states, actions, rewards, next_states, terminated, steps, next_steps) -> None:
        """Add a batch of transitions (leading dimension = number of transitions)."""
        values = (states, actions, rewards, next_states, terminated, steps, next_steps)
        count = len(rewards)
        indices = (self.position + np.arange(count)) % self.capacity
        for array, value in zip(self._arrays().values(), values, strict=True):
            array[indices] = value
        self.position = (self.position + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Uniform minibatch (with replacement, as in SB3 and CleanRL)."""
        indices = rng.integers(0, self.size, size=batch_size)
        return Batch(**{name: torch.from_numpy(array[indices])
                        for name, array in self._arrays().items()})

    def state_dict(self) -> dict:
        """Only the filled part, in insertion-independent storage order."""
        arrays = {name: array[:self.size].copy() for name, array in self._arrays().items()}
        return {"arrays": arrays, "position": self.position, "size": self.size}

    def load_state_dict(self, state: dict) -> None:
        size = state["size"]
        if size > self.capacity:
            raise ValueError(f"replay state holds {size} transitions, capacity {self.capacity}")
        for name, array in self._arrays().items():
            array[:size] = state["arrays"][name]
        self.position, self.size = state["position"], size
