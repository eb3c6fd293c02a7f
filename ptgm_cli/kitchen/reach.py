"""How close robot poses bring the fingertips to the handles the expert grasps (forward kinematics).

A goal-reaching policy commanded with codes can only grasp a handle that some code's pose
reaches, so the codebook records, per subtask, its nearest code's fingertip distance.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ptgm_cli.kitchen.env import INIT_QPOS, load_kitchen_model
from ptgm_cli.kitchen.layout import N_ROBOT_QPOS

# Handles that are grasped; the light switch and the slide cabinet are pushed, not grasped.
GRASP_SITES = {
    "microwave": "microhandle_site",
    "kettle": "kettle_site",
    "bottom burner": "knob2_site",
    "top burner": "knob4_site",
    "hinge cabinet": "hinge_site2",
}
FINGERTIP_OFFSET = 0.05  # metres along the end-effector site's approach (z) axis, DESIGN.md §5


def handle_distances(robot_qpos: np.ndarray) -> dict[str, np.ndarray]:
    """Fingertip-to-handle distance in metres for robot poses (N, 9), the objects at reset."""
    model = load_kitchen_model()
    data = mujoco.MjData(model)
    end_effector = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "end_effector")
    data.qpos[:] = INIT_QPOS
    mujoco.mj_kinematics(model, data)
    handles = {task: data.site_xpos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)].copy()
               for task, site in GRASP_SITES.items()}
    fingertips = np.empty((len(robot_qpos), 3))
    for row, pose in enumerate(robot_qpos):
        data.qpos[:N_ROBOT_QPOS] = pose
        mujoco.mj_kinematics(model, data)
        approach = data.site_xmat[end_effector].reshape(3, 3)[:, 2]
        fingertips[row] = data.site_xpos[end_effector] + FINGERTIP_OFFSET * approach
    return {task: np.linalg.norm(fingertips - handle, axis=1) for task, handle in handles.items()}
