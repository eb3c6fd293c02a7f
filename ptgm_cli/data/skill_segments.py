"""Skill segments for SPiRL's skill model: `length` consecutive actions and the `length + 1`
states around them, from one episode. SPiRL crops them at random from its episodes; taking
every window once gives the same segments, each exactly once per epoch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptgm_cli.data.episodes import Episodes


@dataclass(frozen=True)
class SkillSegments:
    """Rows into the flat state arrays, (N, length + 1), and action arrays, (N, length)."""

    state_rows: np.ndarray
    action_rows: np.ndarray

    def __len__(self) -> int:
        return len(self.action_rows)


def skill_segments(episodes: Episodes, episode_indices: np.ndarray, length: int) -> SkillSegments:
    """Every window of `length` actions within the given episodes (shorter episodes give none)."""
    state_rows, action_rows = [], []
    offsets = np.arange(length + 1)
    for episode in episode_indices:
        windows = np.arange(int(episodes.lengths[episode]) - length + 1)[:, None]
        state_rows.append(episodes.state_starts[episode] + windows + offsets)
        action_rows.append(episodes.action_starts[episode] + windows + offsets[:-1])
    if not action_rows:
        return SkillSegments(np.zeros((0, length + 1), np.int64), np.zeros((0, length), np.int64))
    return SkillSegments(np.concatenate(state_rows).astype(np.int64),
                         np.concatenate(action_rows).astype(np.int64))
