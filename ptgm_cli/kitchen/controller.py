"""Resolved-rate control of the Franka arm in `FrankaKitchen-v1`, emitting the env's own actions.

The env turns an action `a` in [-1, 1]^9 into position-actuator targets
`ctrl = q_obs + 0.16 * a` (velocity 2 rad/s times dt 0.08 s) and runs 40 physics substeps. The
actuators are stiff springs against heavy joint damping (kp 870 / 120, damping 100 / 10), so
over one env step a joint covers only a fraction `g = 1 - exp(-dt * kp / damping)` of the
commanded offset, and gravity pulls it back by `qfrc_bias / kp`. Hence, for a wanted joint
step `dq`,

    a = dq / (0.16 * g) + qfrc_bias / (0.16 * kp)          (DESIGN.md §5)

The wanted joint step comes from damped least squares on the 6-D end-effector error,
`dq = J^T (J J^T + lambda^2 I)^-1 dx`, plus a posture term projected into the null space of J,
with each joint kept inside its limits.
"""

from __future__ import annotations

import mujoco
import numpy as np

N_ARM_JOINTS = 7
EE_SITE = "end_effector"
ACTION_SCALE = 0.16  # action -> joint-target offset per env step (2 rad/s * 0.08 s)
ENV_DT = 0.08

# Joint limits the env enforces: the model's ranges intersected with the env's own position
# bounds (J6 targets are clipped at 0, J4 at -0.4 by the model).
ARM_LOWER = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, 0.0, -2.8973])
ARM_UPPER = np.array([2.8973, 1.7628, 2.8973, -0.4, 2.8973, 2.1127, 2.8973])
LIMIT_MARGIN = 0.05

# A comfortable arm posture facing the counter; the null-space term pulls towards it.
REST_POSTURE = np.array([-1.2, -1.0, 1.7, -2.0, 0.0, 1.3, 1.5])


def rotation_error(target_rot: np.ndarray, current_rot: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame) that turns `current_rot` into `target_rot`."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, (target_rot @ current_rot.T).ravel())
    rotvec = np.empty(3)
    mujoco.mju_quat2Vel(rotvec, quat, 1.0)
    return rotvec


class ResolvedRateController:
    """Drives the `end_effector` site towards a target pose, one env step at a time."""

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        dls_damping: float = 0.05,
        posture_gain: float = 0.05,
    ):
        self.model = model
        self.data = data
        self.dls_damping = dls_damping
        self.posture_gain = posture_gain
        self.site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, EE_SITE)
        kp = model.actuator_gainprm[:N_ARM_JOINTS, 0]
        damping = model.dof_damping[:N_ARM_JOINTS]
        self.step_fraction = 1.0 - np.exp(-ENV_DT * kp / damping)
        self.kp = kp
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    @property
    def ee_pos(self) -> np.ndarray:
        return self.data.site_xpos[self.site_id].copy()

    @property
    def ee_rot(self) -> np.ndarray:
        return self.data.site_xmat[self.site_id].reshape(3, 3).copy()

    def pose_error(self, target_pos: np.ndarray, target_rot: np.ndarray) -> tuple[float, float]:
        """Position (m) and orientation (rad) distance of the end effector to a target pose."""
        pos_err = np.linalg.norm(target_pos - self.data.site_xpos[self.site_id])
        rot_err = np.linalg.norm(rotation_error(target_rot, self.ee_rot))
        return float(pos_err), float(rot_err)

    def joint_step(
        self,
        target_pos: np.ndarray,
        target_rot: np.ndarray,
        max_linear_step: float = 0.03,
        max_angular_step: float = 0.12,
        gain: float = 0.6,
    ) -> np.ndarray:
        """Wanted arm joint displacement over the next env step (7,).

        The pose error is scaled by `gain` (the fraction to close per step) and capped, so far
        targets are approached in straight lines at a bounded speed.
        """
        linear = gain * (target_pos - self.data.site_xpos[self.site_id])
        angular = gain * rotation_error(target_rot, self.ee_rot)
        linear *= min(1.0, max_linear_step / (np.linalg.norm(linear) + 1e-9))
        angular *= min(1.0, max_angular_step / (np.linalg.norm(angular) + 1e-9))
        twist = np.concatenate([linear, angular])

        mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
        jac = np.vstack([self._jacp[:, :N_ARM_JOINTS], self._jacr[:, :N_ARM_JOINTS]])
        jac_pinv = jac.T @ np.linalg.inv(jac @ jac.T + self.dls_damping**2 * np.eye(6))

        q = self.data.qpos[:N_ARM_JOINTS]
        null_space = np.eye(N_ARM_JOINTS) - jac_pinv @ jac
        dq = jac_pinv @ twist + null_space @ (self.posture_gain * (REST_POSTURE - q))
        return np.clip(q + dq, ARM_LOWER + LIMIT_MARGIN, ARM_UPPER - LIMIT_MARGIN) - q

    def joint_action(
        self, target_q: np.ndarray, gripper: float, max_step: float = 0.08
    ) -> np.ndarray:
        """The env action (9,) moving the arm joints straight towards `target_q` (7,)."""
        dq = np.clip(target_q - self.data.qpos[:N_ARM_JOINTS], -max_step, max_step)
        return self._to_action(dq, gripper)

    def _to_action(self, dq: np.ndarray, gripper: float) -> np.ndarray:
        gravity = self.data.qfrc_bias[:N_ARM_JOINTS] / (ACTION_SCALE * self.kp)
        arm = dq / (ACTION_SCALE * self.step_fraction) + gravity
        return np.clip(np.concatenate([arm, [gripper, gripper]]), -1.0, 1.0)

    def action(
        self,
        target_pos: np.ndarray,
        target_rot: np.ndarray,
        gripper: float,
        max_linear_step: float = 0.03,
        max_angular_step: float = 0.12,
        gain: float = 0.6,
    ) -> np.ndarray:
        """The env action (9,) moving towards the target pose; `gripper` +1 opens, -1 closes."""
        dq = self.joint_step(target_pos, target_rot, max_linear_step, max_angular_step, gain)
        return self._to_action(dq, gripper)
