"""Minari's `D4RL/kitchen/*` datasets: RPL human demos replayed in FrankaKitchen-v1.

Each episode stores the env's dict observations; its `observation` key is the 59-dim vector
(robot qpos 9 | robot qvel 9 | object qpos 21 | object qvel 20). Minari stores no simulator
state, so `qpos` and `qvel` here are the observed ones, observation noise included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import minari
import numpy as np
from minari.storage import get_dataset_path

from ptgm_cli.data.episodes import Episodes
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import (
    N_ACTION,
    OBS_DIM,
    OBS_OBJECT_QVEL,
    OBS_ROBOT_QVEL,
    qpos_state_from_obs,
)

ROOT_VARIABLE = "MINARI_DATASETS_PATH"  # where minari looks for datasets and downloads to


def load_minari(dataset_id: str, root: Path | None, *,
                info: Callable[[str], None] = lambda message: None) -> Episodes:
    """Episodes of a Minari kitchen dataset under `root` (default: minari's own), downloaded
    from Minari's remote if it is not there (`info` is told)."""
    with _datasets_root(root):
        local = get_dataset_path(dataset_id)
        if not (local / "data").exists():
            _download(dataset_id, info)
        try:
            dataset = minari.load_dataset(dataset_id)
            episodes = [_convert(dataset_id, episode) for episode in dataset.iterate_episodes()]
        except (OSError, KeyError, ValueError) as error:
            raise PtgmError(f"{local}: unreadable Minari dataset ({error}); delete the folder "
                            "and fetch it again") from None
    if not episodes:
        raise PtgmError(f"{local}: the Minari dataset {dataset_id} has no episodes")
    result = Episodes.concatenate(episodes)
    result.validate(f"Minari dataset {dataset_id}")
    return result


@contextmanager
def _datasets_root(root: Path | None) -> Iterator[None]:
    """Point minari at `root` for the duration: it reads its datasets root from the environment
    at each call, and has no argument for it."""
    if root is None:
        yield
        return
    previous = os.environ.get(ROOT_VARIABLE)
    os.environ[ROOT_VARIABLE] = str(root)
    try:
        yield
    finally:
        if previous is None:
            del os.environ[ROOT_VARIABLE]
        else:
            os.environ[ROOT_VARIABLE] = previous


def _download(dataset_id: str, info: Callable[[str], None]) -> None:
    root = get_dataset_path()
    info(f"{dataset_id} is not in {root}; downloading it from Minari's remote")
    local_copy = (f"pass --path with a Minari datasets root that holds {dataset_id}/data "
                  "(copied from a machine that has it)")
    try:
        minari.download_dataset(dataset_id)
    except ImportError:
        raise PtgmError(f"downloading Minari datasets needs huggingface_hub: "
                        f"pip install 'minari[hf]', or {local_copy}") from None
    except Exception as error:  # whatever fails in the remote, the user's fix is the same
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PtgmError(f"could not download {dataset_id}: Minari's remote is unreachable or "
                        f"lacks it ({first_line}); check the network, or {local_copy}") from None


def _convert(dataset_id: str, episode) -> Episodes:
    """One Minari episode as Episodes, with its dims checked."""
    where = f"Minari dataset {dataset_id}, episode {episode.id}"
    if not isinstance(episode.observations, dict) or "observation" not in episode.observations:
        raise PtgmError(f"{where}: observations have no 'observation' key; "
                        "expected a D4RL/kitchen dataset recorded in FrankaKitchen-v1")
    observations = np.asarray(episode.observations["observation"], dtype=np.float64)
    actions = np.asarray(episode.actions, dtype=np.float64)
    n_steps = len(actions)
    for name, array, shape in (("observation", observations, (n_steps + 1, OBS_DIM)),
                               ("actions", actions, (n_steps, N_ACTION))):
        if array.shape != shape:
            raise PtgmError(f"{where}: {name} has shape {array.shape}, expected {shape}; "
                            "expected a D4RL/kitchen dataset recorded in FrankaKitchen-v1")
    return Episodes(
        observations=observations,
        qpos=qpos_state_from_obs(observations),
        qvel=np.concatenate([observations[:, OBS_ROBOT_QVEL], observations[:, OBS_OBJECT_QVEL]],
                            axis=1),
        actions=actions,
        rewards=np.asarray(episode.rewards, dtype=np.float64),
        lengths=np.array([n_steps]),
        subtask_plans=[[]],
    )
