"""The episode store: every source's episodes in one flat HDF5 layout.

Episode e has T_e actions and T_e + 1 states. State arrays (observations, qpos, qvel, completed)
are concatenated over episodes, N_s = sum(T_e + 1) rows; step arrays (actions, rewards) have
N_a = sum(T_e) rows. Flat arrays load in one read, which training needs; the episode boundaries
follow from `lengths`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, N_QPOS, N_QVEL, OBS_DIM, qpos_state_from_obs
from ptgm_cli.kitchen.tasks import SUBTASKS, completed_mask

FORMAT_VERSION = 1
STATE_ARRAYS = {"observations": OBS_DIM, "qpos": N_QPOS, "qvel": N_QVEL}
STEP_ARRAYS = {"actions": N_ACTION}


@dataclass
class Episodes:
    """Episodes in flat arrays. `qvel` is None for sources without velocities (D4RL)."""

    observations: np.ndarray  # (N_s, 59) as observed, noise included
    qpos: np.ndarray  # (N_s, 30) simulator qpos (scripted); the observed qpos where a source
    #                   stores no simulator state (Minari, D4RL)
    qvel: np.ndarray | None  # (N_s, 29) likewise; None where a source has none (D4RL)
    actions: np.ndarray  # (N_a, 9) the actions actually sent
    rewards: np.ndarray  # (N_a,)
    lengths: np.ndarray  # (E,) actions per episode
    subtask_plans: list[list[str]] = field(default_factory=list)  # per episode, may be empty
    episode_seeds: np.ndarray | None = None  # (E,)

    @property
    def n_episodes(self) -> int:
        return len(self.lengths)

    @property
    def n_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def state_starts(self) -> np.ndarray:
        """Row of each episode's first state in the state arrays, shape (E + 1,)."""
        return np.concatenate([[0], np.cumsum(self.lengths + 1)])

    @property
    def action_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)])

    @property
    def completed(self) -> np.ndarray:
        """(N_s, 7) which subtasks are done in each state, in `SUBTASKS` order."""
        return completed_mask(self.qpos)

    def qpos_states(self) -> np.ndarray:
        """The 30-dim qpos state as observed, (N_s, 30): the common state of every source."""
        return qpos_state_from_obs(self.observations)

    def episode_slices(self, episode: int) -> tuple[slice, slice]:
        """(state rows, action rows) of one episode."""
        s, a = self.state_starts[episode], self.action_starts[episode]
        length = int(self.lengths[episode])
        return slice(s, s + length + 1), slice(a, a + length)

    def select(self, episode_indices: np.ndarray) -> Episodes:
        """A new Episodes holding only the given episodes, in the given order."""
        state_rows, action_rows = [], []
        for episode in episode_indices:
            states, actions = self.episode_slices(int(episode))
            state_rows.append(np.arange(states.start, states.stop))
            action_rows.append(np.arange(actions.start, actions.stop))
        states = np.concatenate(state_rows) if state_rows else np.zeros(0, int)
        actions = np.concatenate(action_rows) if action_rows else np.zeros(0, int)
        return Episodes(
            observations=self.observations[states], qpos=self.qpos[states],
            qvel=None if self.qvel is None else self.qvel[states],
            actions=self.actions[actions], rewards=self.rewards[actions],
            lengths=self.lengths[episode_indices],
            subtask_plans=[self.subtask_plans[i] for i in episode_indices]
            if self.subtask_plans else [],
            episode_seeds=None if self.episode_seeds is None
            else self.episode_seeds[episode_indices],
        )

    @classmethod
    def concatenate(cls, parts: list[Episodes]) -> Episodes:
        def cat(name):
            arrays = [getattr(part, name) for part in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        return cls(
            observations=cat("observations"), qpos=cat("qpos"), qvel=cat("qvel"),
            actions=cat("actions"), rewards=cat("rewards"), lengths=cat("lengths"),
            subtask_plans=[plan for part in parts for plan in part.subtask_plans],
            episode_seeds=cat("episode_seeds"),
        )

    def validate(self, origin: str) -> None:
        """Raise a one-line PtgmError if shapes disagree, an episode is empty or values are bad."""
        if self.n_episodes == 0:
            raise PtgmError(f"{origin}: no episodes")
        if (self.lengths <= 0).any():
            raise PtgmError(f"{origin}: {int((self.lengths <= 0).sum())} empty episode(s)")
        expected = {"observations": (self.state_starts[-1], OBS_DIM),
                    "qpos": (self.state_starts[-1], N_QPOS),
                    "actions": (self.n_steps, N_ACTION), "rewards": (self.n_steps,)}
        if self.qvel is not None:
            expected["qvel"] = (self.state_starts[-1], N_QVEL)
        for name, shape in expected.items():
            array = getattr(self, name)
            if array.shape != tuple(shape):
                raise PtgmError(
                    f"{origin}: {name} has shape {array.shape}, expected {tuple(shape)}"
                )
            if not np.isfinite(array).all():
                bad = int((~np.isfinite(array)).any(axis=-1).sum()) if array.ndim > 1 else int(
                    (~np.isfinite(array)).sum())
                raise PtgmError(f"{origin}: {name} has {bad} row(s) with NaN or inf values")


def write_episodes(path: Path, episodes: Episodes, attrs: dict | None = None) -> None:
    episodes.validate(str(path))
    with h5py.File(path, "w") as handle:
        handle.attrs["format_version"] = FORMAT_VERSION
        handle.attrs["subtasks"] = list(SUBTASKS)
        for key, value in (attrs or {}).items():
            handle.attrs[key] = value
        for name in ("observations", "qpos", "qvel", "actions", "rewards", "lengths"):
            array = getattr(episodes, name)
            if array is not None:
                handle.create_dataset(name, data=array)
        handle.create_dataset("completed", data=episodes.completed)
        handle.create_dataset(
            "subtask_plans", data=np.array([",".join(p) for p in episodes.subtask_plans],
                                           dtype=h5py.string_dtype()))
        if episodes.episode_seeds is not None:
            handle.create_dataset("episode_seeds", data=episodes.episode_seeds)


def read_episodes(path: Path) -> Episodes:
    """Read and validate an episode store; any defect is a one-line PtgmError."""
    try:
        with h5py.File(path, "r") as handle:
            if handle.attrs.get("format_version") != FORMAT_VERSION:
                raise PtgmError(f"{path}: not a ptgm episode file (format version "
                                f"{handle.attrs.get('format_version')})")
            plans = [p.decode() if isinstance(p, bytes) else p for p in handle["subtask_plans"]]
            episodes = Episodes(
                observations=handle["observations"][()], qpos=handle["qpos"][()],
                qvel=handle["qvel"][()] if "qvel" in handle else None,
                actions=handle["actions"][()], rewards=handle["rewards"][()],
                lengths=handle["lengths"][()],
                subtask_plans=[p.split(",") if p else [] for p in plans],
                episode_seeds=handle["episode_seeds"][()] if "episode_seeds" in handle else None,
            )
    except (OSError, KeyError) as error:
        raise PtgmError(f"{path}: unreadable or truncated episode file ({error})") from None
    episodes.validate(str(path))
    return episodes
