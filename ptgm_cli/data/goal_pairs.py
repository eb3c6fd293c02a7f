"""Goal-conditioned training pairs and the episode-wise train/validation split.

A pair is a state s_t and the goal of a later state s_{t+h}, h in min_horizon..horizon (1..10 by
default), both in the same episode (DESIGN.md §1). The paper's loader drew an end index j and
paired each of s_{j-10..j-1} with goal(s_j); taking every (t, h) once gives the same pairs, each
exactly once per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptgm_cli.data.episodes import Episodes
from ptgm_cli.errors import PtgmError


@dataclass(frozen=True)
class Split:
    """Episode indices for training and validation, disjoint and sorted."""

    train: np.ndarray
    validation: np.ndarray


def split_episodes(n_episodes: int, validation_fraction: float, seed: int) -> Split:
    """Hold out whole episodes, so validation states never neighbour training states."""
    if n_episodes < 2:
        raise PtgmError(
            f"the dataset has {n_episodes} episode; a train/validation split needs at least 2, "
            "make a bigger one with `ptgm fetch-data --episodes N`"
        )
    n_validation = min(max(1, round(n_episodes * validation_fraction)), n_episodes - 1)
    order = np.random.default_rng(seed).permutation(n_episodes)
    return Split(train=np.sort(order[n_validation:]), validation=np.sort(order[:n_validation]))


@dataclass(frozen=True)
class GoalPairs:
    """Rows into the flat state arrays (state, goal) and action arrays of an `Episodes`."""

    state_rows: np.ndarray
    goal_rows: np.ndarray
    action_rows: np.ndarray

    def __len__(self) -> int:
        return len(self.state_rows)


def goal_pairs(episodes: Episodes, episode_indices: np.ndarray, horizon: int,
               min_horizon: int = 1) -> GoalPairs:
    """Every (s_t, s_{t+h}) with min_horizon <= h <= horizon within the given episodes.

    s_t always has an action (t < T_e, since t + h <= T_e), the one the policy imitates.
    """
    state_rows, goal_rows, action_rows = [], [], []
    state_starts, action_starts = episodes.state_starts, episodes.action_starts
    for episode in episode_indices:
        length = int(episodes.lengths[episode])
        for h in range(min_horizon, min(horizon, length) + 1):
            steps = np.arange(length - h + 1)
            state_rows.append(state_starts[episode] + steps)
            goal_rows.append(state_starts[episode] + steps + h)
            action_rows.append(action_starts[episode] + steps)
    if not state_rows:
        return GoalPairs(*(np.zeros(0, dtype=np.int64) for _ in range(3)))
    return GoalPairs(*(np.concatenate(rows).astype(np.int64)
                       for rows in (state_rows, goal_rows, action_rows)))


@dataclass(frozen=True)
class SplitPairs:
    """The episode split and the goal pairs on each side of it."""

    split: Split
    train: GoalPairs
    validation: GoalPairs
    seed: int

    def manifest_metrics(self) -> dict:
        """What a model's manifest records of its data, so evaluations can reuse the split."""
        return {
            "train_pairs": len(self.train), "validation_pairs": len(self.validation),
            "split": {"seed": self.seed, "validation_episodes": self.split.validation.tolist()},
        }


def split_goal_pairs(episodes: Episodes, validation_fraction: float, seed: int,
                     horizon: int, min_horizon: int = 1) -> SplitPairs:
    split = split_episodes(episodes.n_episodes, validation_fraction, seed)
    return SplitPairs(split, goal_pairs(episodes, split.train, horizon, min_horizon),
                      goal_pairs(episodes, split.validation, horizon, min_horizon), seed)
