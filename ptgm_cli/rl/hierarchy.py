"""Temporally extended decisions: the high-level step of PTGM and the rollout of parallel envs.

A decision is taken every `interval` env steps (PTGM: a code every 10 steps; flat SAC: an action
every step) and executed until the interval is over or the episode ends. The env workers execute
the decisions themselves (`VecKitchenEnv.play_async`): the executor, for PTGM the frozen
low-level policy, travels to each worker once, and each decision costs one message. The high-level
transition it yields is (state at the decision, the decision that was actually executed, sum of
the env rewards, state where it ended, terminated). The paper's code stored the *next* decision's
index as the action of a transition; here each env keeps the decision it is executing, so the
stored one is always the executed one. A time-limit truncation ends the option without setting
`terminated`, so the critic bootstraps from the truncated state, unless it knows the time: each
transition also records how many env steps of its episode had passed at its start and at its end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ptgm_cli.models.codebook import Codebook
from ptgm_cli.models.policy import GoalPolicy
from ptgm_cli.models.skills import SkillModel
from ptgm_cli.rl.vec_env import EnvSpec, Executor, OptionResult, VecKitchenEnv

# (59-dim observations) -> decision-level states
Features = Callable[[np.ndarray], np.ndarray]
# (states) -> decisions
Choose = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Options:
    """How decisions become env actions: the decision state, the executor (run in the env
    workers, so it must pickle) and its interval."""

    interval: int
    features: Features
    execute: Executor
    decision_shape: tuple[int, ...]
    decision_dtype: type

    def envs(self, num_envs: int, spec: EnvSpec, seeds: list[int]) -> VecKitchenEnv:
        """Workers that execute these options; worker i samples actions with seed `seeds[i]`."""
        return VecKitchenEnv(num_envs, spec, self.execute, self.interval, seeds)


class GoalReaching:
    """PTGM's executor: the frozen low-level policy reaching the chosen code's goal. One batched
    forward pass serves all envs (small batches: the MLP costs ~0.1 ms, far below a sim step).
    `sample` draws actions from pi(a | s, g) as the paper does; otherwise it takes the mean."""

    def __init__(self, policy: GoalPolicy, codebook: Codebook, sample: bool):
        self.policy = policy.eval()
        self.goals = torch.as_tensor(codebook.codes, dtype=torch.float32)
        self.sample = sample

    @torch.no_grad()
    def __call__(self, observations: np.ndarray, codes: np.ndarray, generator: torch.Generator,
                 step: int) -> np.ndarray:
        states = torch.from_numpy(self.policy.features(observations))
        return self.policy.act(states, self.goals[codes], self.sample, generator).numpy()


def goal_options(policy: GoalPolicy, codebook: Codebook, features: Features,
                 interval: int, sample: bool) -> Options:
    return Options(interval, features, GoalReaching(policy, codebook, sample), (), np.int64)


class SkillDecoding:
    """SPiRL's executor: the frozen skill decoder. Closed-loop (SPiRL-cl), an action from the
    state reached and z at every step; open-loop (SPiRL), the skill's actions decoded from z when
    it starts and played in order."""

    def __init__(self, model: SkillModel):
        self.model = model.eval()
        self.plan: np.ndarray | None = None  # open-loop: the current skill's actions

    @torch.no_grad()
    def __call__(self, observations: np.ndarray, latents: np.ndarray, generator: torch.Generator,
                 step: int) -> np.ndarray:
        latents = torch.as_tensor(latents, dtype=torch.float32)
        if self.model.closed_loop:
            states = torch.from_numpy(self.model.features(observations))
            return self.model.decode_step(states, latents).numpy()
        if step == 0:
            self.plan = self.model.decode(latents).numpy()
        return self.plan[:, step]


def skill_options(model: SkillModel) -> Options:
    """A skill (a point in the latent space) every `skill_length` steps, decoded by `model`."""
    return Options(model.skill_length, model.features, SkillDecoding(model),
                   (model.latent_dim,), np.float32)


def observations_as_states(observations: np.ndarray) -> np.ndarray:
    return np.asarray(observations, dtype=np.float32)


def actions_as_given(observations: np.ndarray, actions: np.ndarray, generator,
                     step: int) -> np.ndarray:
    return actions


def flat_options(action_dim: int) -> Options:
    """One decision per env step, the decision being the action itself."""
    return Options(1, observations_as_states, actions_as_given, (action_dim,), np.float32)


@dataclass
class Transitions:
    states: np.ndarray
    decisions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    terminated: np.ndarray
    steps: np.ndarray  # env steps of the episode before the decision
    next_steps: np.ndarray  # env steps of the episode when the option ended

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass(frozen=True)
class Episode:
    seed: int
    completed: tuple[str, ...]
    episode_return: float
    length: int
    completion_steps: tuple[int, ...]  # the env step (1-based) at which each subtask completed


@dataclass
class Tick:
    """What one decision of every env produced."""

    transitions: Transitions
    episodes: list[Episode]
    env_steps: int  # taken by all envs together
    frames: list[list[np.ndarray]] | None  # per env, one per step, when rendering


@dataclass
class RolloutState:
    """Per-env bookkeeping of the current episode."""

    observations: np.ndarray  # (N, 59) the envs' current observations
    episode_index: np.ndarray  # (N,) episodes started so far in each env, minus one
    episode_returns: np.ndarray  # (N,)
    episode_lengths: np.ndarray  # (N,)
    completion_steps: list[list[int]]  # per env: the steps at which its subtasks completed


class Rollout:
    """Parallel envs driven by options, in lock step: every env takes a decision, every worker
    executes it, and the next decisions wait for all of them. Env i's episode j is seeded with
    `seed_of(i, j)`, so every episode can be replayed from its seed alone."""

    def __init__(self, envs: VecKitchenEnv, options: Options, seed_of: Callable[[int, int], int]):
        self.envs, self.options, self.seed_of = envs, options, seed_of

    def start(self) -> None:
        n = self.envs.num_envs
        self.state = RolloutState(
            observations=self.envs.reset([self.seed_of(i, 0) for i in range(n)]),
            episode_index=np.zeros(n, np.int64),
            episode_returns=np.zeros(n),
            episode_lengths=np.zeros(n, np.int64),
            completion_steps=[[] for _ in range(n)],
        )

    def step(self, choose: Choose, while_playing: Callable[[], None] = lambda: None,
             render: bool = False) -> Tick:
        """Every env decides and executes its decision; `while_playing` runs in this process
        while the workers play."""
        state = self.state
        states = self.options.features(state.observations)
        decisions = np.asarray(choose(states), self.options.decision_dtype)
        reset_seeds = [self.seed_of(i, j + 1) for i, j in enumerate(state.episode_index)]
        self.envs.play_async(state.observations, decisions, reset_seeds, render=render)
        while_playing()
        results = self.envs.play_wait()
        lengths = np.array([len(result.rewards) for result in results])
        transitions = Transitions(
            states=states,
            decisions=decisions,
            rewards=np.array([result.rewards.sum() for result in results], np.float32),
            next_states=self.options.features(
                np.stack([result.final_observation for result in results])),
            terminated=np.array([result.terminated for result in results], np.float32),
            steps=state.episode_lengths.astype(np.float32),
            next_steps=(state.episode_lengths + lengths).astype(np.float32),
        )
        episodes = self._record_episodes(results)
        state.observations = np.stack([result.observation for result in results])
        frames = [result.frames for result in results] if render else None
        return Tick(transitions, episodes, int(lengths.sum()), frames)

    def _record_episodes(self, results: list[OptionResult]) -> list[Episode]:
        state = self.state
        episodes = []
        for i, result in enumerate(results):
            state.completion_steps[i] += [int(state.episode_lengths[i]) + offset
                                          for offset in result.completion_offsets]
            state.episode_returns[i] += result.rewards.sum()
            state.episode_lengths[i] += len(result.rewards)
            if not result.done:
                continue
            episodes.append(Episode(
                seed=int(self.seed_of(i, int(state.episode_index[i]))),
                completed=tuple(result.completed),
                episode_return=float(state.episode_returns[i]),
                length=int(state.episode_lengths[i]),
                completion_steps=tuple(state.completion_steps[i]),
            ))
            state.episode_index[i] += 1
            state.episode_returns[i] = 0.0
            state.episode_lengths[i] = 0
            state.completion_steps[i] = []
        return episodes

    def state_dict(self) -> dict:
        """The rollout's bookkeeping and the simulator state of every env."""
        return {"bookkeeping": asdict(self.state), "envs": self.envs.get_state()}

    def load_state_dict(self, saved: dict) -> None:
        self.state = RolloutState(**saved["bookkeeping"])
        self.envs.set_state(saved["envs"])
