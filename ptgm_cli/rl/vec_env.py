"""Kitchen environments stepped in parallel worker processes, one `KitchenEnv` per process.

The main process talks to each worker over a pipe. `play_async` sends each worker a decision,
which the worker executes itself for up to `interval` env steps (an option: the frozen low-level
policy turning PTGM's code into actions), so the main process exchanges one message per
decision, not per env step; it returns at once, so the caller can learn while the simulators
run, and `play_wait` collects the results. `step_async`/`step_wait` step every env once with
given actions. An env that ends its episode resets itself inside the worker
with a seed chosen by the main process, which keeps every episode reproducible from its seed
alone. `get_state`/`set_state` capture a worker's complete simulator state (MuJoCo integration
state including the solver warm start, observation-noise generator, subtask progress), so that a
run resumed from a checkpoint continues bit for bit.

Workers are started with `spawn`: forking a process that holds torch's thread pools can
deadlock. A worker without an executor imports only numpy and MuJoCo and starts in a fraction of
a second; one with an executor also imports torch, runs it on one thread and keeps its own
generator for sampled actions, part of its saved state.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from dataclasses import dataclass, field
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


# (observations (N, 59), decisions (N, ...), generator, step of the option from 0) -> env actions
Executor = Callable[[np.ndarray, np.ndarray, object, int], np.ndarray]


@dataclass
class OptionResult:
    """One env's execution of one decision: up to `interval` steps, fewer if its episode ended.
    `observation` is the next decision's observation (the first of a new episode if this one
    ended), `final_observation` the one the option ended in."""

    observation: np.ndarray
    final_observation: np.ndarray
    rewards: np.ndarray  # (steps,) one per env step taken
    terminated: bool
    truncated: bool
    completed: list[str]  # subtasks completed so far in the (finished) episode
    completion_offsets: list[int]  # the option's step (1-based) at which each new one completed
    frames: list[np.ndarray] = field(default_factory=list)  # after each step, when asked for

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


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


class _Worker:
    """One env and, when options are played here, the executor and its generator."""

    def __init__(self, spec: EnvSpec, executor: Executor | None, interval: int, seed: int):
        self.env = KitchenEnv(spec.tasks, ordered=spec.ordered,
                              max_episode_steps=spec.max_episode_steps)
        self.executor, self.interval, self.generator = executor, interval, None
        if executor is not None:
            import torch  # only workers that run a policy pay for torch

            torch.set_num_threads(1)  # one core per worker: the workers share the machine
            self.generator = torch.Generator().manual_seed(seed)

    def step(self, action: np.ndarray, reset_seed: int, render: bool) -> tuple:
        observation, reward, terminated, truncated, info = self.env.step(action)
        final_observation = observation
        if terminated or truncated:
            observation, _ = self.env.reset(seed=reset_seed)
        frame = self.env.render() if render else None
        return (observation, final_observation, reward, terminated, truncated, info["completed"],
                frame)

    def play(self, observation: np.ndarray, decision: np.ndarray, reset_seed: int,
             render: bool) -> OptionResult:
        rewards, offsets, frames = [], [], []
        for offset in range(1, self.interval + 1):
            action = np.asarray(self.executor(observation[None], decision[None], self.generator,
                                              offset - 1)[0], np.float64)
            observation, reward, terminated, truncated, info = self.env.step(action)
            rewards.append(reward)
            offsets += [offset] * len(info["newly_completed"])
            if render:
                frames.append(self.env.render())
            if terminated or truncated:
                break
        final_observation = observation
        if terminated or truncated:
            observation, _ = self.env.reset(seed=reset_seed)
        return OptionResult(observation, final_observation, np.array(rewards), terminated,
                            truncated, info["completed"], offsets, frames)

    def get_state(self) -> dict:
        state = env_state(self.env)
        if self.generator is not None:
            state["executor_rng"] = self.generator.get_state()
        return state

    def set_state(self, state: dict) -> None:
        restore_env_state(self.env, state)
        if self.generator is not None:
            self.generator.set_state(state["executor_rng"])


def _serve(connection: Connection, spec: EnvSpec, executor: Executor | None, interval: int,
           seed: int) -> None:
    """Serve commands until `close` or until the main process goes away (EOF)."""
    worker = _Worker(spec, executor, interval, seed)
    try:
        while True:
            command, payload = connection.recv()
            if command == "step":
                connection.send(worker.step(*payload))
            elif command == "play":
                connection.send(worker.play(*payload))
            elif command == "reset":
                connection.send(worker.env.reset(seed=payload)[0])
            elif command == "get_state":
                connection.send(worker.get_state())
            elif command == "set_state":
                worker.set_state(payload)
                connection.send(None)
            elif command == "close":
                break
    except (EOFError, OSError, KeyboardInterrupt):  # the main process went away
        pass
    finally:
        worker.env.close()
        connection.close()


class VecKitchenEnv:
    """`num_envs` KitchenEnvs in worker processes, stepped in lock step. Each worker executes
    decisions with `executor` for up to `interval` steps (`play_async`); worker i samples with a
    generator seeded `seeds[i]`."""

    def __init__(self, num_envs: int, spec: EnvSpec, executor: Executor | None = None,
                 interval: int = 1, seeds: list[int] | None = None):
        context = mp.get_context("spawn")
        self.num_envs = num_envs
        self._connections = []
        self._processes = []
        seeds = seeds if seeds is not None else list(range(num_envs))
        for seed in seeds:
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, spec, executor, interval, seed),
                                      daemon=True)
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

    def play_async(self, observations: np.ndarray, decisions: np.ndarray,
                   reset_seeds: list[int], render: bool = False) -> None:
        """Send each env its decision to execute from its current observation; `reset_seeds[i]`
        seeds env i's next episode should this option end its current one. Returns
        immediately."""
        for connection, *payload in zip(self._connections, observations, decisions, reset_seeds,
                                        strict=True):
            connection.send(("play", (*payload, render)))

    def play_wait(self) -> list[OptionResult]:
        return [connection.recv() for connection in self._connections]

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
