"""The models' state input, and the dataset layout it is computed from.

`qpos30` (robot + object positions) is the state every data source has: the paper's 60-dim
Kitchen input held exactly this information plus a constant task goal. `obs59` adds the
velocities of the full `FrankaKitchen-v1` observation.
"""

from __future__ import annotations

import numpy as np

from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import (
    OBJECT_QPOS_NAMES,
    OBS_DIM,
    QPOS_NAMES,
    ROBOT_QPOS_NAMES,
    qpos_state_from_obs,
)

# Object velocities: one per hinge or slide joint, six for the kettle's free joint.
OBJECT_QVEL_NAMES = tuple(f"{name}_vel" for name in OBJECT_QPOS_NAMES[:14]) + (
    "kettle_vx", "kettle_vy", "kettle_vz", "kettle_wx", "kettle_wy", "kettle_wz",
)
OBS_NAMES = (
    ROBOT_QPOS_NAMES + tuple(f"{name}_vel" for name in ROBOT_QPOS_NAMES) + OBJECT_QPOS_NAMES
    + OBJECT_QVEL_NAMES
)
assert len(OBS_NAMES) == OBS_DIM
FEATURE_NAMES: dict[str, tuple[str, ...]] = {"qpos30": QPOS_NAMES, "obs59": OBS_NAMES}


def feature_names(state_features: str) -> list[str]:
    return list(FEATURE_NAMES[state_features])


def state_features(observations: np.ndarray, state_features: str) -> np.ndarray:
    """The model input of 59-dim observations, any batch shape, as float32."""
    observations = np.asarray(observations, dtype=np.float32)
    if state_features == "qpos30":
        return qpos_state_from_obs(observations)
    return observations


def check_state_names(kind: str, name: str, recorded: list[str] | None, expected: list[str],
                      fix: str) -> None:
    """Refuse an artifact built on a different state layout than this code computes."""
    if recorded != expected:
        raise PtgmError(
            f"{kind} {name!r} was built for a different state layout "
            f"({len(recorded or [])} dims, expected {len(expected)}: {', '.join(expected[:3])}, "
            f"...); {fix}"
        )
