"""D4RL's kitchen files `kitchen_{mixed,partial,complete}-v0.hdf5`.

One flat table of N rows: `observations` (N, 60) = robot qpos 9 | object qpos 21 | a constant
30-dim task goal, `actions` (N, 9), `rewards`, `terminals`, `timeouts`; an episode ends at a row
where `terminals | timeouts` is set, or at the end of the file. Row i holds state i and the action
taken in it, and no next state, so an episode of K rows gives K states and K - 1 actions: the last
action's outcome was never recorded.

D4RL has no velocities: `qvel` is None, and the 59-dim observation the other sources share gets
the qpos in its slots and zeros in its velocity slots.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from ptgm_cli.data.episodes import Episodes
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import (
    N_ACTION,
    N_QPOS,
    N_ROBOT_QPOS,
    OBS_DIM,
    OBS_OBJECT_QPOS,
    OBS_ROBOT_QPOS,
)

D4RL_OBS_DIM = 60  # qpos 30 + goal 30
KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
DOWNLOAD_TIMEOUT_S = 60


def load_d4rl(path: Path | None, url: str | None, *,
              info: Callable[[str], None] = lambda message: None,
              warn: Callable[[str], None] = lambda message: None) -> Episodes:
    """Episodes of a D4RL kitchen file at `path`, or downloaded from `url` first (to `path` if
    given, else to a cache file reused on the next call). `info` is told of the download, `warn`
    of what differs from the other sources and of dropped episodes."""
    if url is not None:
        path = _download(url, path or _cache_file(url), info)
    elif path is None:
        raise PtgmError("--source d4rl needs --path with a kitchen_*-v0.hdf5 file or --url")
    columns = _read(path)
    warn("D4RL kitchen was recorded with the older simulator (mujoco-py), so its dynamics "
         "differ from FrankaKitchen-v1's; it has no velocities, the observation's velocity "
         "slots are zero")
    episodes = _split(columns, warn)
    episodes.validate(str(path))
    return episodes


def _cache_file(url: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = Path(urllib.parse.urlparse(url).path).name or "kitchen.hdf5"
    return cache / "ptgm" / "d4rl" / name


def _download(url: str, destination: Path, info: Callable[[str], None]) -> Path:
    """Fetch `url` to `destination` unless it is there; a partial download never takes its name."""
    if destination.exists():
        info(f"using {destination}, downloaded before from {url}")
        return destination
    info(f"downloading {url} to {destination}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                partial.open("wb") as handle:
            shutil.copyfileobj(response, handle)
    except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise PtgmError(f"could not download {url} ({reason}); check the URL, or download the "
                        "file yourself and pass it with --path") from None
    os.replace(partial, destination)
    return destination


def _read(path: Path) -> dict[str, np.ndarray]:
    """The five columns, with their dims checked; any defect is a one-line PtgmError."""
    if not path.is_file():
        raise PtgmError(f"{path}: no such file; pass --path with a kitchen_*-v0.hdf5 file")
    try:
        with h5py.File(path, "r") as handle:
            missing = [key for key in KEYS if key not in handle]
            if missing:
                raise PtgmError(f"{path}: missing {', '.join(missing)}; expected a D4RL kitchen "
                                "file with keys " + ", ".join(KEYS))
            columns = {key: handle[key][()] for key in KEYS}
    except OSError as error:
        raise PtgmError(f"{path}: unreadable or truncated HDF5 file ({error})") from None
    n_rows = len(columns["observations"])
    expected = {"observations": (n_rows, D4RL_OBS_DIM), "actions": (n_rows, N_ACTION),
                "rewards": (n_rows,), "terminals": (n_rows,), "timeouts": (n_rows,)}
    for key, shape in expected.items():
        if columns[key].shape != shape:
            raise PtgmError(f"{path}: {key} has shape {columns[key].shape}, expected {shape} "
                            "as in D4RL's kitchen files")
    if n_rows == 0:
        raise PtgmError(f"{path}: the file holds no steps")
    return columns


def _split(columns: dict[str, np.ndarray], warn: Callable[[str], None]) -> Episodes:
    """Cut the rows into episodes; 1-row fragments hold no transition and are dropped."""
    n_rows = len(columns["observations"])
    ends = np.flatnonzero(columns["terminals"].astype(bool) | columns["timeouts"].astype(bool)) + 1
    bounds = np.unique(np.concatenate([[0], ends, [n_rows]]))
    starts, stops = bounds[:-1], bounds[1:]
    keep = stops - starts >= 2
    if not keep.all():
        warn(f"dropping {int((~keep).sum())} one-step episode(s): they hold no transition")
    in_kept = np.repeat(keep, stops - starts)
    last = np.zeros(n_rows, bool)
    last[stops - 1] = True
    state_rows, action_rows = np.flatnonzero(in_kept), np.flatnonzero(in_kept & ~last)
    lengths = (stops - starts - 1)[keep]
    qpos = columns["observations"][state_rows, :N_QPOS].astype(np.float64)
    observations = np.zeros((len(qpos), OBS_DIM))
    observations[:, OBS_ROBOT_QPOS] = qpos[:, :N_ROBOT_QPOS]
    observations[:, OBS_OBJECT_QPOS] = qpos[:, N_ROBOT_QPOS:]
    return Episodes(
        observations=observations, qpos=qpos, qvel=None,
        actions=columns["actions"][action_rows].astype(np.float64),
        rewards=columns["rewards"][action_rows].astype(np.float64),
        lengths=lengths,
        subtask_plans=[[] for _ in lengths],
    )
