"""Play evaluation episodes with fixed seeds and summarise them.

Episode k (k = 0..n-1) is seeded with `first_seed + k`; env i of the N workers plays episodes
i, i + N, i + 2N, ... The policies act exactly as during training: the high level samples with
`generator`, the workers' executors with their own generators.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptgm_cli.kitchen.tasks import SUBTASKS
from ptgm_cli.rl.agent import SACAgent
from ptgm_cli.rl.discrete_sac import probabilities, sample_codes
from ptgm_cli.rl.hierarchy import Episode, Options, Rollout
from ptgm_cli.rl.skill_sac import gaussian, sample_gaussian, squash
from ptgm_cli.rl.vec_env import EnvSpec, VecKitchenEnv


class PriorActor:
    """Acts by sampling a frozen prior, as a high-level policy that starts as the prior does
    before it learns."""

    def __init__(self, prior: nn.Module):
        self.prior = prior.eval()

    @torch.no_grad()
    def act(self, states: np.ndarray, generator: torch.Generator, warmup: bool) -> np.ndarray:
        device = next(self.prior.parameters()).device
        outputs = self.prior(torch.as_tensor(states, dtype=torch.float32, device=device))
        return self.sample(outputs, generator).cpu().numpy()

    def sample(self, outputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError


class PriorCodes(PriorActor):
    """The goal prior's codes: PTGM's high-level policy before it learns."""

    def sample(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return sample_codes(probabilities(F.log_softmax(logits, -1)), generator)


class PriorSkills(PriorActor):
    """The skill prior's latents, squashed: SPiRL's high-level policy before it learns, and its
    warm-up."""

    def sample(self, outputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mean, log_std = gaussian(outputs)
        return squash(sample_gaussian(mean, log_std, generator))


def play_episodes(envs: VecKitchenEnv, options: Options, agent: SACAgent | PriorActor,
                  episodes: int, first_seed: int, generator: torch.Generator,
                  on_frames: Callable[[list[list[np.ndarray]]], None] | None = None,
                  on_episode: Callable[[], None] = lambda: None) -> list[Episode]:
    """The first `episodes` episodes, ordered by seed; `on_frames` receives each decision's
    frames, per env one per step; `on_episode` is called as each of them ends."""
    n = envs.num_envs
    rollout = Rollout(envs, options, seed_of=lambda i, j: first_seed + j * n + i)
    rollout.start()
    finished: dict[int, Episode] = {}
    while len(finished) < episodes:
        tick = rollout.step(lambda states: agent.act(states, generator, warmup=False),
                            render=on_frames is not None)
        if tick.frames is not None:
            on_frames(tick.frames)
        for episode in tick.episodes:
            if episode.seed - first_seed < episodes:
                finished[episode.seed] = episode
                on_episode()
    return [finished[seed] for seed in sorted(finished)]


def prior_rollouts(options: Options, prior: PriorActor, episodes: int, episode_steps: int,
                   worker_seeds: list[int], seed: int,
                   on_episode: Callable[[], None] = lambda: None) -> dict:
    """A health check of the pre-trained models together: episodes from reset in which a code
    (a skill) sampled from the prior is executed every `options.interval` steps, as PTGM (SPiRL)
    acts before it has learnt anything, with every subtask counted in any order. A subtask that
    the task needs first and that these episodes never complete gives RL no reward to learn
    from."""
    spec = EnvSpec(SUBTASKS, ordered=False, max_episode_steps=episode_steps)
    with options.envs(len(worker_seeds), spec, worker_seeds) as envs:
        played = play_episodes(envs, options, prior, episodes, seed,
                               torch.Generator().manual_seed(seed), on_episode=on_episode)
    return summarise(played, SUBTASKS)


def summarise(episodes: list[Episode], tasks: tuple[str, ...]) -> dict:
    """Mean and standard error of completed subtasks, per-subtask success rates, mean return,
    and the median env step at which each subtask was completed (None if never): with 280 steps
    for four subtasks, how fast they are done decides how many are."""
    completed = np.array([len(episode.completed) for episode in episodes], dtype=float)
    stderr = completed.std(ddof=1) / np.sqrt(len(completed)) if len(completed) > 1 else 0.0
    steps = {task: [step for e in episodes
                    for name, step in zip(e.completed, e.completion_steps, strict=True)
                    if name == task] for task in tasks}
    return {
        "episodes": len(episodes),
        "completed_subtasks_mean": float(completed.mean()),
        "completed_subtasks_stderr": float(stderr),
        "success": {task: float(np.mean([task in e.completed for e in episodes]))
                    for task in tasks},
        "completion_step_median": {task: float(np.median(steps[task])) if steps[task] else None
                                   for task in tasks},
        "return_mean": float(np.mean([episode.episode_return for episode in episodes])),
    }
