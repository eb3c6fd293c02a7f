"""Temporally extended decisions: the high-level step of PTGM and the rollout of parallel envs.

A decision is taken every `interval` env steps (PTGM: a code every 10 steps; flat SAC: an action
every step) and executed until the interval is over or the episode ends. The high-level
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
from ptgm_cli.rl.vec_env import StepResult, VecKitchenEnv

# (59-dim observations) -> decision-level states
Features = Callable[[np.ndarray], np.ndarray]
# (observations, decisions, generator) -> env actions
Execute = Callable[[np.ndarray, np.ndarray, torch.Generator], np.ndarray]
# (states) -> decisions
Choose = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Options:
    """How decisions become env actions: the decision state, the executor and its interval."""

    interval: int
    features: Features
    execute: Execute
    decision_shape: tuple[int, ...]
    decision_dtype: type


class GoalReaching:
    """PTGM's executor: the frozen low-level policy reaching the chosen code's goal. One batched
    forward pass serves all envs (small batches: the MLP costs ~0.1 ms, far below a sim step).
    `sample` draws actions from pi(a | s, g) as the paper does; otherwise it takes the mean."""

    def __init__(self, policy: GoalPolicy, codebook: Codebook, sample: bool):
        self.policy = policy.eval()
        self.goals = torch.as_tensor(codebook.codes, dtype=torch.float32)
        self.sample = sample

    def __call__(self, observations: np.ndarray, codes: np.ndarray,
                 generator: torch.Generator) -> np.ndarray:
        states = torch.from_numpy(self.policy.features(observations))
        return self.policy.act(states, self.goals[codes], self.sample, generator).numpy()


def goal_options(policy: GoalPolicy, codebook: Codebook, features: Features,
                 interval: int, sample: bool) -> Options:
    return Options(interval, features, GoalReaching(policy, codebook, sample), (), np.int64)


def flat_options(action_dim: int) -> Options:
    """One decision per env step, the decision being the action itself."""
    return Options(
        1, lambda observations: np.asarray(observations, dtype=np.float32),
        lambda observations, actions, generator: actions, (action_dim,), np.float32,
    )


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
    """What one lock-step of all envs produced."""

    transitions: Transitions
    episodes: list[Episode]
    frames: list[np.ndarray] | None


@dataclass
class RolloutState:
    """Per-env bookkeeping of the current option and episode."""

    observations: np.ndarray  # (N, 59) the envs' current observations
    episode_index: np.ndarray  # (N,) episodes started so far in each env, minus one
    option_steps: np.ndarray  # (N,) env steps into the current option (0: decide now)
    start_states: np.ndarray  # (N, state_dim) states at the current option's decision
    decisions: np.ndarray  # (N, *decision_shape) the decision being executed
    option_rewards: np.ndarray  # (N,) rewards summed over the current option
    episode_returns: np.ndarray  # (N,)
    episode_lengths: np.ndarray  # (N,)
    completion_steps: list[list[int]]  # per env: the steps at which its subtasks completed


class Rollout:
    """Parallel envs driven by options. Env i's episode j is seeded with `seed_of(i, j)`, so every
    episode can be replayed from its seed alone."""

    def __init__(self, envs: VecKitchenEnv, options: Options, seed_of: Callable[[int, int], int]):
        self.envs, self.options, self.seed_of = envs, options, seed_of

    def start(self) -> None:
        n = self.envs.num_envs
        observations = self.envs.reset([self.seed_of(i, 0) for i in range(n)])
        state_dim = self.options.features(observations).shape[-1]
        self.state = RolloutState(
            observations=observations,
            episode_index=np.zeros(n, np.int64),
            option_steps=np.zeros(n, np.int64),
            start_states=np.zeros((n, state_dim), np.float32),
            decisions=np.zeros((n, *self.options.decision_shape), self.options.decision_dtype),
            option_rewards=np.zeros(n),
            episode_returns=np.zeros(n),
            episode_lengths=np.zeros(n, np.int64),
            completion_steps=[[] for _ in range(n)],
        )

    def step(self, choose: Choose, generator: torch.Generator,
             while_stepping: Callable[[], None] = lambda: None, render: bool = False) -> Tick:
        """Decide where an option ends, step every env once, and collect what ended.
        `while_stepping` runs in this process while the workers simulate."""
        state = self.state
        deciding = state.option_steps == 0
        if deciding.any():
            states = self.options.features(state.observations[deciding])
            state.start_states[deciding] = states
            state.decisions[deciding] = choose(states)
        actions = self.options.execute(state.observations, state.decisions, generator)
        reset_seeds = [self.seed_of(i, j + 1) for i, j in enumerate(state.episode_index)]
        self.envs.step_async(actions, reset_seeds, render=render)
        while_stepping()
        result = self.envs.step_wait()
        return Tick(self._record_options(result), self._record_episodes(result), result.frames)

    def _record_options(self, result: StepResult) -> Transitions:
        state = self.state
        state.option_rewards += result.rewards
        state.option_steps += 1
        ended = np.flatnonzero(result.done | (state.option_steps >= self.options.interval))
        # episode_lengths does not count this step yet (`_record_episodes` runs next).
        next_steps = state.episode_lengths[ended] + 1
        transitions = Transitions(
            states=state.start_states[ended].copy(),
            decisions=state.decisions[ended].copy(),
            rewards=state.option_rewards[ended].astype(np.float32),
            next_states=self.options.features(result.final_observations[ended]),
            terminated=result.terminated[ended].astype(np.float32),
            steps=(next_steps - state.option_steps[ended]).astype(np.float32),
            next_steps=next_steps.astype(np.float32),
        )
        state.option_steps[ended] = 0
        state.option_rewards[ended] = 0.0
        state.observations = result.observations
        return transitions

    def _record_episodes(self, result: StepResult) -> list[Episode]:
        state = self.state
        state.episode_returns += result.rewards
        state.episode_lengths += 1
        for i in np.flatnonzero(result.rewards > 0).tolist():  # +1 per subtask completed now
            steps = state.completion_steps[i]
            steps += [int(state.episode_lengths[i])] * (len(result.completed[i]) - len(steps))
        episodes = []
        for i in np.flatnonzero(result.done).tolist():
            episodes.append(Episode(
                seed=int(self.seed_of(i, int(state.episode_index[i]))),
                completed=tuple(result.completed[i]),
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
