"""The Franka Kitchen environment: `FrankaKitchen-v1`'s simulation with lean bookkeeping.

`FrankaKitchen-v1` spends about a third of its step time in Python bookkeeping (joint look-ups by
name, dict observations, task sets). This class loads the very same MuJoCo model and robot
configuration from gymnasium-robotics and performs the same control law, physics substeps and
observation noise draws, so with the same seed and actions it produces the same states; the
observation is the env's 59-dim vector and task completion follows the paper's ordered protocol.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import mujoco
import numpy as np

from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, N_ROBOT_QPOS
from ptgm_cli.kitchen.tasks import DOWNSTREAM_TASKS, check_subtask_names, subtask_done

FRAME_SKIP = 40
MAX_EPISODE_STEPS = 280
# FrankaKitchen-v1's reset pose (robot 9 + objects 21).
INIT_QPOS = np.array([
    1.48388023e-01, -1.76848573e00, 1.84390296e00, -2.47685760e00, 2.60252026e-01,
    7.12533105e-01, 1.59515394e00, 4.79267505e-02, 3.71350919e-02, -2.66279850e-04,
    -5.18043486e-05, 3.12877220e-05, -4.51199853e-05, -3.90842156e-06, -4.22629655e-05,
    6.28065475e-05, 4.04984708e-05, 4.62730939e-04, -2.26906415e-04, -4.65501369e-04,
    -6.44129196e-03, -1.77048263e-03, 1.08009684e-03, -2.69397440e-01, 3.50383255e-01,
    1.61944683e00, 1.00618764e00, 4.06395120e-03, -6.62095997e-03, -2.68278933e-04,
])
# Free camera of FrankaKitchen-v1.
CAMERA = {"distance": 2.2, "azimuth": 70.0, "elevation": -35.0, "lookat": (-0.2, 0.5, 2.0)}


def _assets_dir() -> Path:
    """gymnasium-robotics' kitchen assets, located without importing the package (whose import
    registers and announces dozens of unrelated environments)."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or spec.origin is None:
        raise PtgmError("gymnasium-robotics is not installed; run `make setup`")
    return Path(spec.origin).parent / "envs" / "assets" / "kitchen_franka"


@dataclass(frozen=True)
class RobotSpec:
    """Joint bounds and observation-noise amplitudes from gymnasium-robotics' franka_config.xml."""

    pos_bound: np.ndarray  # (nv, 2)
    vel_bound: np.ndarray  # (nv, 2)
    pos_noise_amp: np.ndarray  # (nv,)
    vel_noise_amp: np.ndarray  # (nv,)

    @classmethod
    def load(cls, nv: int) -> RobotSpec:
        root = ElementTree.parse(_assets_dir() / "franka_assets" / "franka_config.xml").getroot()

        def read(key: str) -> np.ndarray:
            return np.array([root.find(f"qpos{i}").get(key).split() for i in range(nv)], float)

        return cls(read("pos_bound"), read("vel_bound"), read("pos_noise_amp")[:, 0],
                   read("vel_noise_amp")[:, 0])


def load_kitchen_model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(
        str(_assets_dir() / "kitchen_assets" / "kitchen_env_model.xml")
    )


@dataclass
class EpisodeProgress:
    """Which of the episode's subtasks are done, under the ordered or any-order protocol."""

    tasks: tuple[str, ...]
    ordered: bool
    completed: list[str] = field(default_factory=list)

    def update(self, qpos: np.ndarray) -> list[str]:
        """Mark subtasks completed by state `qpos`; returns the newly completed ones."""
        newly = []
        for task in self.tasks:
            if task in self.completed:
                continue
            if subtask_done(qpos, task):
                self.completed.append(task)
                newly.append(task)
            elif self.ordered:
                break  # a subtask only counts once the ones before it are done
        return newly

    @property
    def all_done(self) -> bool:
        return len(self.completed) == len(self.tasks)


class KitchenEnv:
    """Franka Kitchen with the paper's task protocol: +1 per subtask, 280 steps, ends when all done.

    Observations are the 59-dim `FrankaKitchen-v1` vectors; actions are 9 joint velocities in
    [-1, 1]. `reset(seed=)` seeds the observation noise exactly as `FrankaKitchen-v1` does.
    """

    def __init__(
        self,
        tasks: tuple[str, ...] | list[str] = DOWNSTREAM_TASKS,
        ordered: bool = True,
        max_episode_steps: int | None = MAX_EPISODE_STEPS,
        robot_noise_ratio: float = 0.01,
        object_noise_ratio: float = 0.0005,
    ):
        self.model = load_kitchen_model()
        self.data = mujoco.MjData(self.model)
        self.spec = RobotSpec.load(self.model.nv)
        self.tasks = check_subtask_names(tasks)
        self.ordered = ordered
        self.max_episode_steps = max_episode_steps
        self.dt = self.model.opt.timestep * FRAME_SKIP
        n = N_ROBOT_QPOS
        self._ctrl_low, self._ctrl_high = self.spec.pos_bound[:n, 0], self.spec.pos_bound[:n, 1]
        self._vel_low, self._vel_high = self.spec.vel_bound[:n, 0], self.spec.vel_bound[:n, 1]
        # Noise scales in FrankaKitchen-v1's order (its object qpos reuses amplitudes from index 8).
        self._noise_scales = (
            robot_noise_ratio * self.spec.pos_noise_amp[:n],
            robot_noise_ratio * self.spec.vel_noise_amp[:n],
            object_noise_ratio * self.spec.pos_noise_amp[n - 1:],
            object_noise_ratio * self.spec.vel_noise_amp[n:],
        )
        self.np_random = np.random.default_rng()
        self.progress = EpisodeProgress(self.tasks, ordered)
        self.elapsed_steps = 0
        self._last_robot_qpos = INIT_QPOS[:n].copy()
        self._renderer = None

    def reset(self, *, seed: int | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self.np_random = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = INIT_QPOS
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)
        self.progress = EpisodeProgress(self.tasks, self.ordered)
        self.elapsed_steps = 0
        return self._observe(), {"completed": []}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Velocity command: ctrl = clip(last observed robot qpos + 2 * a * dt, joint bounds)."""
        velocity = np.clip(np.clip(action, -1.0, 1.0) * 2.0, self._vel_low, self._vel_high)
        self.data.ctrl[:] = np.clip(
            self._last_robot_qpos + velocity * self.dt, self._ctrl_low, self._ctrl_high
        )
        mujoco.mj_step(self.model, self.data, nstep=FRAME_SKIP)
        observation = self._observe()
        newly_completed = self.progress.update(self.data.qpos)
        self.elapsed_steps += 1
        terminated = self.progress.all_done
        truncated = (
            self.max_episode_steps is not None and self.elapsed_steps >= self.max_episode_steps
        )
        info = {"completed": list(self.progress.completed), "newly_completed": newly_completed}
        return observation, float(len(newly_completed)), terminated, truncated, info

    def _observe(self) -> np.ndarray:
        """59-dim observation with FrankaKitchen-v1's noise, drawn in its order."""
        n = N_ROBOT_QPOS
        qpos, qvel = self.data.qpos, self.data.qvel
        uniform = self.np_random.uniform
        robot_qpos = qpos[:n] + self._noise_scales[0] * uniform(-1.0, 1.0, n)
        robot_qvel = qvel[:n] + self._noise_scales[1] * uniform(-1.0, 1.0, n)
        object_qpos = qpos[n:] + self._noise_scales[2] * uniform(-1.0, 1.0, qpos.size - n)
        object_qvel = qvel[n:] + self._noise_scales[3] * uniform(-1.0, 1.0, qvel.size - n)
        self._last_robot_qpos = robot_qpos
        return np.concatenate((robot_qpos, robot_qvel, object_qpos, object_qvel))

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Restore a simulator state (e.g. from a dataset); returns the new observation."""
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)
        return self._observe()

    def render(self, width: int = 480, height: int = 480) -> np.ndarray:
        """An RGB frame from the env's free camera, with shadows and reflections off for speed."""
        if self._renderer is None:
            self.model.vis.global_.offwidth = max(width, self.model.vis.global_.offwidth)
            self.model.vis.global_.offheight = max(height, self.model.vis.global_.offheight)
            self._renderer = mujoco.Renderer(self.model, height=height, width=width)
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
            self._camera = mujoco.MjvCamera()
            self._camera.distance = CAMERA["distance"]
            self._camera.azimuth = CAMERA["azimuth"]
            self._camera.elevation = CAMERA["elevation"]
            self._camera.lookat[:] = CAMERA["lookat"]
        self._renderer.update_scene(self.data, camera=self._camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    @property
    def action_dim(self) -> int:
        return N_ACTION
