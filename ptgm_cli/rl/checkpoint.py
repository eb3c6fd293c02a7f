"""Checkpoints of a run in progress, each file written atomically (temp file + os.replace).

Two files: `weights.safetensors` (the networks, loadable without this code's pickles) and
`resume.pt`, everything needed to continue the run exactly: networks, optimisers, temperature,
replay buffer, rollout bookkeeping with every worker's simulator state, RNG states and counters.
A run killed at any moment (even while writing) resumes from the last complete checkpoint.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ptgm_cli.errors import PtgmError

WEIGHTS_FILE = "weights.safetensors"
RESUME_FILE = "resume.pt"
# What `resume.pt` holds, by version. 2: the workers play whole options (their saved state
# holds their generators) and the critics are one ensemble.
RESUME_FORMAT = 2


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """`write(temp)` then rename over `path`: readers see the old file or the new one."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_weights(path: Path, weights: dict[str, torch.Tensor]) -> None:
    atomic_write(path, lambda temp: save_file(weights, str(temp)))


def save_resume(path: Path, state: dict) -> None:
    atomic_write(path, lambda temp: torch.save({"format": RESUME_FORMAT, **state}, temp))


def load_resume(path: Path) -> dict:
    """The saved state; one of another format is refused before anything is restored."""
    # Our own file: it holds numpy arrays and RNG states, hence not weights_only. Its tensors
    # come onto the CPU; the agent moves them to its device as it loads them.
    saved = torch.load(path, weights_only=False, map_location="cpu")
    if saved.get("format") != RESUME_FORMAT:
        raise PtgmError(f"{path} was written by another version of ptgm (checkpoint format "
                        f"{saved.get('format', 1)}, this version reads {RESUME_FORMAT}); start "
                        "the run over with --force")
    return saved


def global_rng_states() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state()}


def restore_global_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
