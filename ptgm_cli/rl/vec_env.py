"""Kitchen environments stepped in parallel worker processes, one `KitchenEnv` per process.

The main process talks to each worker over a pipe: `step_async` sends the actions and returns at
once, so the caller can do other work (gradient updates) while the simulators run, and
`step_wait` collects the results. An env that ends its episode resets itself inside the worker
with a seed chosen by the main process, which keeps every episode reproducible from its seed
alone. `get_state`/`set_state` capture a worker's complete simulator state (MuJoCo integration
state including the solver warm start, observation-noise generator, subtask progress), so that a
run resumed from a checkpoint continues bit for bit.

Workers are started with `spawn` and import only numpy and MuJoCo: forking a process that holds
torch's thread pools can deadlock, and a lean worker starts in a fraction of a second.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from multiprocessing.connection import Connection

import mujoco
import numpy as np

from ptgm_cli.kitchen.env import EpisodeProgress, KitchenEnv

INTEGRATION_STATE = mujoco.mjtState.mjSTATE_INTEGRATION


@dataclass(frozen=True)
class EnvSpec:
    """What each worker builds: `KitchenEnv(tasks, ordered, max_episode_steps)`."""

    tasks: tuple[str, ...]
    ordered: bool
    max_episode_steps: int | None = 280


@dataclass
class StepResult:
    """One step of every env. For an env whose episode ended (`terminated | truncated`),
    `observations` is already the first observation of its next episode and `final_observations`
    the last one of the finished episode; elsewhere the two are equal."""

    observations: np.ndarray  # (N, 59)
    final_observations: np.ndarray  # (N, 59)
    rewards: np.ndarray  # (N,)
    terminated: np.ndarray  # (N,) bool: all subtasks done (no bootstrapping)
    truncated: np.ndarray  # (N,) bool: time limit (bootstrap)
    completed: list[list[str]]  # subtasks completed so far in each env's (finished) episode
    frames: list[np.ndarray] | None = None  # rendered after the step, when asked for

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated


def env_state(env: KitchenEnv) -> dict:
    """Everything that determines the env's future given its future actions."""
    integration = np.empty(mujoco.mj_stateSize(env.model, INTEGRATION_STATE))
    mujoco.mj_getState(env.model, env.data, integration, INTEGRATION_STATE)
    return {
        "integration": integration,
        "noise_rng": env.np_random.bit_generator.state,
        "completed": list(env.progress.completed),
        "elapsed_steps": env.elapsed_steps,
        "last_robot_qpos": env._last_robot_qpos.copy(),
    }


def restore_env_state(env: KitchenEnv, state: dict) -> None:
    # No mj_forward here: it would overwrite the solver warm start that the next step relies on.
    mujoco.mj_setState(env.model, env.data, state["integration"], INTEGRATION_STATE)
    env.np_random = np.random.Generator(np.random.PCG64())
    env.np_random.bit_generator.state = state["noise_rng"]
    env.progress = EpisodeProgress(env.tasks, env.ordered, list(state["completed"]))
    env.elapsed_steps = state["elapsed_steps"]
    env._last_robot_qpos = state["last_robot_qpos"].copy()


def _worker(connection: Connection, spec: EnvSpec) -> None:
    """Serve commands until `close` or until the main process goes away (EOF)."""
    env = KitchenEnv(spec.tasks, ordered=spec.ordered, max_episode_steps=spec.max_episode_steps)
    try:
        while True:
            command, payload = connection.recv()
            if command == "step":
                action, reset_seed, render = payload
                observation, reward, terminated, truncated, info = env.step(action)
                final_observation = observation
                if terminated or truncated:
                    observation, _ = env.reset(seed=reset_seed)
                frame = env.render() if render else None
                connection.send((observation, final_observation, reward, terminated, truncated,
                                 info["completed"], frame))
            elif command == "reset":
                connection.send(env.reset(seed=payload)[0])
            elif command == "get_state":
                connection.send(env_state(env))
            elif command == "set_state":
                restore_env_state(env, payload)
                connection.send(None)
            elif command == "close":
                break
    except (EOFError, OSError, KeyboardInterrupt):  # the main process went away
        pass
    finally:
        env.close()
        connection.close()


class VecKitchenEnv:
    """`num_envs` KitchenEnvs in worker processes, stepped in lock step."""

    def __init__(self, num_envs: int, spec: EnvSpec):
        context = mp.get_context("spawn")
        self.num_envs = num_envs
        self._connections = []
        self._processes = []
        for _ in range(num_envs):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, spec), daemon=True)
            process.start()
            child.close()
            self._connections.append(parent)
            self._processes.append(process)
        self._render = False

    def _broadcast(self, command: str, payloads) -> list:
        for connection, payload in zip(self._connections, payloads, strict=True):
            connection.send((command, payload))
        return [connection.recv() for connection in self._connections]

    def reset(self, seeds: list[int]) -> np.ndarray:
        return np.stack(self._broadcast("reset", seeds))

    def step_async(self, actions: np.ndarray, reset_seeds: list[int], render: bool = False):
        """Send one action per env; `reset_seeds[i]` seeds env i's next episode should this step
        end its current one. Returns immediately."""
        self._render = render
        for connection, action, seed in zip(self._connections, actions, reset_seeds, strict=True):
            connection.send(("step", (np.asarray(action, dtype=np.float64), seed, render)))

    def step_wait(self) -> StepResult:
        replies = [connection.recv() for connection in self._connections]
        observations, finals, rewards, terminated, truncated, completed, frames = zip(
            *replies, strict=True)
        return StepResult(
            observations=np.stack(observations),
            final_observations=np.stack(finals),
            rewards=np.array(rewards, dtype=np.float64),
            terminated=np.array(terminated, dtype=bool),
            truncated=np.array(truncated, dtype=bool),
            completed=[list(names) for names in completed],
            frames=list(frames) if self._render else None,
        )

    def get_state(self) -> list[dict]:
        return self._broadcast("get_state", [None] * self.num_envs)

    def set_state(self, states: list[dict]) -> None:
        if len(states) != self.num_envs:
            raise ValueError(f"{len(states)} env states for {self.num_envs} envs")
        self._broadcast("set_state", states)

    def close(self) -> None:
        for connection in self._connections:
            try:
                connection.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        for connection in self._connections:
            connection.close()

    def __enter__(self) -> VecKitchenEnv:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
