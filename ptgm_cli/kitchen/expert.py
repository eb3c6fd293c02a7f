"""A scripted expert playing the 7 Franka Kitchen subtasks, for the embedded "play" dataset.

Each skill is a short list of phases that the resolved-rate controller executes one env step at a
time: transit to a stand-off pose in front of the handle, approach, grasp (or, for pushes, keep
the fingers closed), drive the mechanism, release and back off. The drive phase is closed loop
on the object's own joint: every step the target is the contact pose carried along by the joint's
motion so far plus a small lead (rotation about the joint axis for hinges and knobs, translation
for the slide), so a slipping grasp never runs away from the handle (DESIGN.md §5).

Human-like variety comes from a `numpy.random.Generator`: stand-off distances, transit heights,
speeds, leads and how far past the completion threshold to drive are drawn per skill. `act`
gives the expert's clean command and `perturbed` the noisy one to execute: recording the first
while executing the second (DART, Laskey et al. 2017) shows the cloned policy how the expert
recovers from the small errors it will itself make. Given the generator the expert is
deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import mujoco
import numpy as np

from ptgm_cli.kitchen.controller import ResolvedRateController
from ptgm_cli.kitchen.tasks import check_subtask_names, subtask_done

OPEN, CLOSE = 1.0, -1.0
# Gripper frame facing the counter: site x = world up, site y = world +x (finger axis),
# site z = world +y (approach axis).
FACING_COUNTER = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
SAFE_DEPTH = 0.36  # transit plane in front of the counter (world y)
SAFE_HEIGHT = 2.05  # transit above the kettle and the stove
# The open hinge door juts out towards the robot at z 2.40-2.80, between the knobs and the slide
# handle, with its own handle sticking out to the right (x up to -0.18). A transit that passes
# it high, to or from the slide cabinet, sweeps it further open (where it blocks the slide handle)
# or pushes it shut. With the door open, such transits cross below it and go up or down right of
# its handle, at y 0.30: further in, going up beside the door folds the wrist against its limit;
# lower, the elbow reaches its limit.
DOOR_OPEN_ANGLE = 0.5
UNDER_DOOR_HEIGHT = 2.32
UNDER_DOOR_DEPTH = 0.30
PULL_BACK_HEIGHT = 2.25  # lower still while backing out from under the door's front edge
RIGHT_OF_DOOR_X = -0.06
# A folded arm posture with the gripper at (-0.30, 0.30, 2.20) facing the counter. Setting the
# kettle down leaves the arm in another kinematic branch, from which reaching up to the cabinets
# fails, so the kettle skill ends by returning here in joint space. So does the bottom burner:
# turning its knob leaves the elbow (J4) and the wrist (J6) at their limits, and a transit up to
# the slide cabinet from there stalls (four times in ten) and drifts into unrecoverable postures.
HOME_POSTURE = np.array([-0.19, -1.54, 1.43, -2.96, 0.26, 1.58, 1.16])
# The kettle is grasped from above by its handle and set down on the top-left burner, as far
# back as the wrist clears the knob panel (the goal is y 0.75; within 0.3 counts).
KETTLE_PITCH = -1.2
KETTLE_GRASP_HEIGHT = 0.012
KETTLE_PLACE = np.array([-0.234, 0.64, 1.90])


def axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix of `angle` radians about the unit vector `axis`."""
    quat = np.empty(4)
    mujoco.mju_axisAngle2Quat(quat, axis, angle)
    rot = np.empty(9)
    mujoco.mju_quat2Mat(rot, quat)
    return rot.reshape(3, 3)


def gripper_rotation(pitch: float = 0.0, roll: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    """Gripper frame facing the counter, tilted up by `pitch`, turned left by `yaw`, and rolled
    about its own approach axis by `roll` (all radians)."""
    world = axis_rotation(np.array([0.0, 0.0, 1.0]), yaw) @ axis_rotation(
        np.array([1.0, 0.0, 0.0]), pitch
    )
    return world @ FACING_COUNTER @ axis_rotation(np.array([0.0, 0.0, 1.0]), roll)


@dataclass
class Pose:
    pos: np.ndarray
    rot: np.ndarray

    @property
    def approach(self) -> np.ndarray:
        return self.rot[:, 2]

    def shifted(self, offset: np.ndarray) -> Pose:
        return Pose(self.pos + offset, self.rot)


@dataclass
class Phase:
    """One segment of a skill: where to go, with which gripper command, and when to stop.

    `target` is called every step, so a phase can follow a moving object; `is_done` may look at
    the simulator state. A phase also ends after `max_steps`.
    """

    target: Callable[[], Pose]
    gripper: float
    is_done: Callable[[], bool]
    max_steps: int
    speed: float = 0.03
    min_steps: int = 0
    joints: np.ndarray | None = None  # move in joint space to this arm posture instead


@dataclass(frozen=True)
class Articulation:
    """A subtask driven by moving one object joint: open a door, turn a knob, push a switch."""

    joint: str
    contact: np.ndarray  # end-effector site position at contact with the handle
    grasp: bool  # close the fingers on the handle, or push with closed fingers
    pitch: float = 0.0
    roll: float = 0.0
    yaw: float = 0.0
    drive_to: tuple[float, float] = (0.0, 0.0)  # range the joint is driven to (drawn per skill)
    lead: tuple[float, float] = (0.10, 0.15)  # how far the target runs ahead of the joint
    standoff: tuple[float, float] = (0.08, 0.14)
    # How close (m) the approach must come to the contact pose. The fingers stop on a burner knob
    # 2-4 cm short of it; waiting there for 8 mm cost about 30 steps per knob turn.
    contact_tol: float = 0.008
    turn_fraction: float = 1.0  # how much of a hinge's rotation the gripper orientation follows
    clear_point: tuple[float, float, float] | None = None  # where to leave the arm, if it blocks
    return_home: bool = False  # end in HOME_POSTURE, if the final posture hampers later transits


ARTICULATIONS: dict[str, Articulation] = {
    "microwave": Articulation(
        joint="microwave", contact=np.array([-0.642, 0.485, 1.792]), grasp=True, pitch=-0.5,
        drive_to=(-0.62, -0.55), turn_fraction=0.0,
    ),
    "bottom burner": Articulation(
        joint="knob_Joint_2", contact=np.array([-0.256, 0.612, 2.226]), grasp=True,
        pitch=-0.1, roll=0.3, yaw=-0.15, drive_to=(-0.85, -0.75), lead=(0.15, 0.25),
        contact_tol=0.025, return_home=True,
    ),
    "top burner": Articulation(
        # The open hinge door hangs just above this knob: grip the bar low, from below and from
        # the left, so the turning hand stays under the door instead of pushing it further open.
        joint="knob_Joint_4", contact=np.array([-0.256, 0.612, 2.320]), grasp=True,
        pitch=0.3, roll=0.3, yaw=-0.7, drive_to=(-0.85, -0.75), lead=(0.15, 0.25),
        contact_tol=0.045,
    ),
    "light switch": Articulation(
        joint="light_switch", contact=np.array([-0.316, 0.580, 2.280]), grasp=False,
        drive_to=(-0.52, -0.45), lead=(0.3, 0.4),
    ),
    "slide cabinet": Articulation(
        # Rolled so the narrow side of the hand faces the open hinge door, and turned left so the
        # hand comes in from the right, clear of the door's handle.
        joint="slide_cabinet", contact=np.array([-0.148, 0.560, 2.600]), grasp=False,
        roll=np.pi / 2, yaw=0.25, drive_to=(0.25, 0.32), lead=(0.03, 0.06),
    ),
    "hinge cabinet": Articulation(
        # Opened just past the completion angle (1.15): wider, the door blocks the slide handle.
        joint="right_hinge_cabinet", contact=np.array([-0.526, 0.580, 2.600]), grasp=True,
        drive_to=(1.22, 1.28), lead=(0.08, 0.12), turn_fraction=0.0,
        clear_point=(-0.12, 0.28, 2.25),  # below the open door, which juts out at z > 2.4
    ),
}

# With the hinge door open, its handle sticks out next to the slide handle and the wrist of a hand
# coming in as above pushes the door shut: turn further left and push a little further right.
# (With the door closed this approach misses the slide handle more often.)
SLIDE_BESIDE_OPEN_DOOR = replace(
    ARTICULATIONS["slide cabinet"], contact=np.array([-0.140, 0.560, 2.600]), yaw=0.45
)


class ScriptedExpert:
    """Plays one subtask at a time from whatever state the kitchen is in.

    `act` reads the true simulator state from `data`; call `start(subtask)` to begin a skill and
    step the env with `act()` until `skill_finished`. Every phase has a step limit, so a skill
    that cannot complete (a missed grasp, a blocked path) still finishes, unsuccessfully.
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator,
                 action_noise: float):
        self.model = model
        self.data = data
        self.rng = rng
        self.action_noise = action_noise
        self.controller = ResolvedRateController(model, data)
        self.subtask: str | None = None
        self._phases: list[Phase] = []
        self._phase_steps = 0
        self._gripper = OPEN
        self._succeeded = False
        self._kettle_site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "kettle_site")
        self._door_handle_site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "hinge_site2")
        door_joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "right_hinge_cabinet")
        self._door_qpos = model.jnt_qposadr[door_joint]

    def start(self, subtask: str) -> None:
        """Begin the skill for `subtask` from the current state."""
        check_subtask_names([subtask])
        self.subtask = subtask
        self._succeeded = False
        self._phase_steps = 0
        builder = self._kettle_phases if subtask == "kettle" else self._articulation_phases
        self._phases = builder(subtask)

    def act(self) -> np.ndarray:
        """The expert's next 9-dim command for the current state, in [-1, 1]."""
        self._advance()
        if self._phases:
            phase = self._phases[0]
            self._phase_steps += 1
            self._gripper = phase.gripper
            if phase.joints is not None:
                action = self.controller.joint_action(phase.joints, phase.gripper)
            else:
                pose = phase.target()
                action = self.controller.action(pose.pos, pose.rot, phase.gripper, phase.speed)
        else:  # skill over: hold still
            action = self.controller.action(self.controller.ee_pos, self.controller.ee_rot,
                                            self._gripper)
        return np.clip(action, -1.0, 1.0)

    def perturbed(self, action: np.ndarray) -> np.ndarray:
        """`action` plus Gaussian noise of std `action_noise`, the command to execute."""
        noise = self.action_noise * self.rng.standard_normal(action.shape)
        return np.clip(action + noise, -1.0, 1.0)

    @property
    def skill_finished(self) -> bool:
        self._advance()
        return not self._phases

    @property
    def skill_succeeded(self) -> bool:
        self._advance()
        return self._succeeded

    def _advance(self) -> None:
        """Record completion of the subtask and drop the phases that have ended."""
        if self.subtask is not None and subtask_done(self.data.qpos, self.subtask):
            self._succeeded = True
        while self._phases and self._phase_finished(self._phases[0]):
            self._phases.pop(0)
            self._phase_steps = 0

    def _phase_finished(self, phase: Phase) -> bool:
        if self._phase_steps < phase.min_steps:
            return False
        return self._phase_steps >= phase.max_steps or phase.is_done()

    def _reached(self, pose: Pose | Callable[[], Pose], pos_tol: float, rot_tol: float = 0.1):
        def is_done() -> bool:
            target = pose() if callable(pose) else pose
            pos_err, rot_err = self.controller.pose_error(target.pos, target.rot)
            return pos_err < pos_tol and rot_err < rot_tol

        return is_done

    def _move(self, pose: Pose, gripper: float, pos_tol: float, max_steps: int, speed: float,
              rot_tol: float = 0.1, min_steps: int = 0) -> Phase:
        return Phase(lambda: pose, gripper, self._reached(pose, pos_tol, rot_tol), max_steps,
                     speed, min_steps)

    def _transit(self, standoff: Pose, gripper: float, speed: float) -> list[Phase]:
        """Move to a stand-off pose without sweeping through the counter: back off to a transit
        plane in front of the kitchen, move across it above the stove, then go in. With the hinge
        door open, a move from or to above its lower edge crosses below the door instead."""
        depth = SAFE_DEPTH + self.rng.uniform(-0.04, 0.04)
        height = SAFE_HEIGHT + self.rng.uniform(0.0, 0.1)
        start = self.controller.ee_pos
        waypoints = []
        goal = standoff.pos
        if self._door_open() and max(start[2], goal[2]) > UNDER_DOOR_HEIGHT + 0.03:
            waypoints.extend(self._under_door(start, goal))
        elif start[1] > depth + 0.03:
            waypoints.append(np.array([start[0], depth, max(start[2], min(height, goal[2]))]))
        waypoints.append(np.array([goal[0], min(depth, goal[1]), max(height, goal[2])]))
        phases = [
            self._move(Pose(point, standoff.rot), gripper, pos_tol=0.06, max_steps=40,
                       speed=speed, rot_tol=0.6)
            for point in waypoints
        ]
        phases.append(self._move(standoff, gripper, pos_tol=0.02, max_steps=50, speed=speed,
                                 rot_tol=0.08))
        return phases

    def _door_open(self) -> bool:
        return self.data.qpos[self._door_qpos] > DOOR_OPEN_ANGLE

    def _under_door(self, start: np.ndarray, goal: np.ndarray) -> list[np.ndarray]:
        """Waypoints below the open hinge door: back and down (right of the door's handle if the
        move starts there), across, and on to below the goal, from where the transit goes up."""
        down_x = start[0]
        if start[0] > self.data.site_xpos[self._door_handle_site][0]:
            down_x = min(start[0], RIGHT_OF_DOOR_X)
        return [
            np.array([down_x, UNDER_DOOR_DEPTH, min(start[2], PULL_BACK_HEIGHT)]),
            np.array([goal[0], UNDER_DOOR_DEPTH, UNDER_DOOR_HEIGHT]),
        ]

    # ---- skills --------------------------------------------------------------------------------

    def _articulation_phases(self, subtask: str) -> list[Phase]:
        spec = ARTICULATIONS[subtask]
        if subtask == "slide cabinet" and self._door_open():
            spec = SLIDE_BESIDE_OPEN_DOOR
        rng = self.rng
        speed = rng.uniform(0.022, 0.034)
        jitter = rng.uniform(-0.004, 0.004, size=3)
        contact = Pose(spec.contact + jitter, gripper_rotation(spec.pitch, spec.roll, spec.yaw))
        standoff = contact.shifted(-rng.uniform(*spec.standoff) * contact.approach)
        approach_gripper = OPEN if spec.grasp else CLOSE

        joint_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, spec.joint)
        qpos_index = self.model.jnt_qposadr[joint_id]
        is_hinge = self.model.jnt_type[joint_id] == mujoco.mjtJoint.mjJNT_HINGE
        drive_to = rng.uniform(*spec.drive_to)
        lead = rng.uniform(*spec.lead)
        joint_start = {}

        def carried_pose() -> Pose:
            """The contact pose moved along with the joint, plus the lead towards the goal."""
            if not joint_start:
                joint_start["q"] = self.data.qpos[qpos_index]
            q = self.data.qpos[qpos_index]
            delta = q - joint_start["q"] + np.sign(drive_to - joint_start["q"]) * lead
            axis = self.data.xaxis[joint_id]
            if is_hinge:
                rotation = axis_rotation(axis, delta)
                anchor = self.data.xanchor[joint_id]
                turn = axis_rotation(axis, spec.turn_fraction * delta)
                return Pose(anchor + rotation @ (contact.pos - anchor), turn @ contact.rot)
            return contact.shifted(delta * axis)

        def driven() -> bool:
            """The joint has passed `drive_to`, coming from where the drive started."""
            if not joint_start:
                return False
            q = self.data.qpos[qpos_index]
            return (q - drive_to) * np.sign(drive_to - joint_start["q"]) >= 0.0

        phases = self._transit(standoff, approach_gripper, speed)
        phases.append(self._move(contact, approach_gripper, pos_tol=spec.contact_tol, max_steps=40,
                                 speed=0.5 * speed, rot_tol=0.06))
        if spec.grasp:
            phases.append(self._move(contact, CLOSE, pos_tol=1.0, max_steps=8, speed=speed,
                                     min_steps=6, rot_tol=10.0))
        phases.append(Phase(carried_pose, CLOSE, driven, max_steps=180, speed=speed))
        phases.extend(self._release(open_fingers=spec.grasp, speed=speed))
        if spec.clear_point is not None:
            clear = Pose(np.array(spec.clear_point) + rng.uniform(-0.02, 0.02, size=3), contact.rot)
            phases.append(self._move(clear, OPEN, pos_tol=0.04, max_steps=30, speed=speed,
                                     rot_tol=1.0))
        if spec.return_home:
            phases.append(self._return_home(OPEN if spec.grasp else CLOSE))
        return phases

    def _release(self, open_fingers: bool, speed: float) -> list[Phase]:
        """Open the fingers where they are, then back off along the approach axis."""
        phases = []
        held = {}

        def release_pose() -> Pose:
            if not held:
                held["pose"] = Pose(self.controller.ee_pos, self.controller.ee_rot)
            return held["pose"]

        if open_fingers:
            phases.append(Phase(release_pose, OPEN, lambda: self.data.qpos[7] > 0.03,
                                max_steps=8, speed=speed, min_steps=3))
        backoff = self.rng.uniform(0.08, 0.14)

        def backed_off() -> Pose:
            pose = release_pose()
            return pose.shifted(-backoff * pose.approach)

        phases.append(Phase(backed_off, OPEN if open_fingers else CLOSE,
                            self._reached(backed_off, 0.02, 0.2), max_steps=25, speed=speed))
        return phases

    def _kettle_phases(self, subtask: str) -> list[Phase]:
        """Top-down grasp of the handle, lift, carry to the top-left burner, set down."""
        rng = self.rng
        speed = rng.uniform(0.022, 0.030)
        handle = self.data.site_xpos[self._kettle_site].copy()
        rot = gripper_rotation(pitch=KETTLE_PITCH + rng.uniform(-0.1, 0.1), roll=np.pi / 2)
        grasp = Pose(handle + np.array([0.0, 0.0, KETTLE_GRASP_HEIGHT]), rot)
        above = grasp.shifted(np.array([0.0, 0.0, rng.uniform(0.08, 0.12)]))
        place = Pose(KETTLE_PLACE + rng.uniform([-0.02, -0.02, 0.0], [0.02, 0.01, 0.0]), rot)
        carry_height = rng.uniform(0.06, 0.10)
        lifted = grasp.shifted(np.array([0.0, 0.0, carry_height]))
        over_place = place.shifted(np.array([0.0, 0.0, carry_height]))

        phases = self._transit(above, OPEN, speed)
        phases.append(self._move(grasp, OPEN, pos_tol=0.008, max_steps=30, speed=0.6 * speed))
        phases.append(self._move(grasp, CLOSE, pos_tol=1.0, max_steps=10, speed=speed,
                                 min_steps=8, rot_tol=10.0))
        phases.append(self._move(lifted, CLOSE, pos_tol=0.02, max_steps=30, speed=0.7 * speed))
        phases.append(self._move(over_place, CLOSE, pos_tol=0.02, max_steps=60, speed=speed))
        phases.append(self._move(place, CLOSE, pos_tol=0.01, max_steps=30, speed=0.5 * speed))
        phases.extend(self._release(open_fingers=True, speed=speed))
        phases.append(self._return_home(OPEN))
        return phases

    def _return_home(self, gripper: float) -> Phase:
        """Move in joint space to near HOME_POSTURE, a posture every transit starts well from."""
        home = HOME_POSTURE + self.rng.uniform(-0.1, 0.1, size=7)
        at_home = lambda: np.abs(self.data.qpos[:7] - home).max() < 0.15  # noqa: E731
        current = lambda: Pose(self.controller.ee_pos, self.controller.ee_rot)  # noqa: E731
        return Phase(current, gripper, at_home, max_steps=40, joints=home)
