"""Named layout of the Franka Kitchen state and the goal-dimension presets.

The simulator's qpos has 30 entries: 9 robot joints (7 arm + 2 fingers) then 21 object joints.
The 59-dim `FrankaKitchen-v1` observation is robot qpos (9) | robot qvel (9) | object qpos (21) |
object qvel (20): the kettle is a free joint, 7 position entries but 6 velocity entries.
"""

from __future__ import annotations

import numpy as np

ROBOT_QPOS_NAMES = (
    "arm_joint1", "arm_joint2", "arm_joint3", "arm_joint4", "arm_joint5", "arm_joint6",
    "arm_joint7", "finger_left", "finger_right",
)
OBJECT_QPOS_NAMES = (
    "knob1", "bottom_right_burner", "knob2", "bottom_left_burner", "knob3", "top_right_burner",
    "knob4", "top_left_burner", "light_switch", "light", "slide_cabinet", "left_hinge",
    "right_hinge", "microwave", "kettle_x", "kettle_y", "kettle_z", "kettle_qw", "kettle_qx",
    "kettle_qy", "kettle_qz",
)
QPOS_NAMES = ROBOT_QPOS_NAMES + OBJECT_QPOS_NAMES
N_ROBOT_QPOS = len(ROBOT_QPOS_NAMES)
N_QPOS = len(QPOS_NAMES)
N_QVEL = 29
N_ACTION = 9
OBS_DIM = 59

# Slices of the 59-dim observation.
OBS_ROBOT_QPOS = slice(0, 9)
OBS_ROBOT_QVEL = slice(9, 18)
OBS_OBJECT_QPOS = slice(18, 39)
OBS_OBJECT_QVEL = slice(39, 59)

GOAL_DIM_PRESETS: dict[str, tuple[int, ...]] = {
    # The paper's 21 dims: robot joints + bottom burner + light switch + microwave + kettle.
    "paper21": (0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 17, 18, 22, 23, 24, 25, 26, 27, 28, 29),
    "objects21": tuple(range(9, 30)),
    "robot9": tuple(range(9)),
    "qpos30": tuple(range(30)),
}


def goal_indices(preset: str) -> tuple[int, ...]:
    """Indices into the 30-dim qpos state of a named goal-dims preset."""
    return GOAL_DIM_PRESETS[preset]


def goal_names(preset: str) -> list[str]:
    return [QPOS_NAMES[i] for i in GOAL_DIM_PRESETS[preset]]


def qpos_state_from_obs(observations: np.ndarray) -> np.ndarray:
    """The 30-dim qpos state (robot qpos ++ object qpos) of 59-dim observations, any batch shape."""
    return np.concatenate(
        [observations[..., OBS_ROBOT_QPOS], observations[..., OBS_OBJECT_QPOS]], axis=-1
    )
