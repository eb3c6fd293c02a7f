"""Scripted data generation steps/s next to bare env steps/s, in one process, as JSON.

Generation runs the expert (controller + skills) with `fetch-data`'s default options and records
every state; the bare figures step `FrankaKitchen-v1` and ptgm's KitchenEnv with random actions.
All on one core, so the ratio is the cost of the expert; `ptgm fetch-data` multiplies the
generation rate by its workers.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np

from ptgm_cli.configs import FetchDataConfig
from ptgm_cli.data.scripted_source import episode_seed, generate_episode
from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.kitchen.tasks import SUBTASKS


def bare_rate(env_step, steps: int) -> float:
    actions = np.random.default_rng(0).uniform(-1, 1, size=(steps, 9))
    started = time.perf_counter()
    for action in actions:
        env_step(action)
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=6, help="Scripted episodes to time.")
    parser.add_argument("--bare-steps", type=int, default=2000, help="Bare env steps to time.")
    args = parser.parse_args()

    config = FetchDataConfig()
    env = KitchenEnv(tasks=SUBTASKS, ordered=False, max_episode_steps=None)
    started, steps = time.perf_counter(), 0
    for index in range(args.episodes):
        episode = generate_episode(
            env, episode_seed(config.seed, index), config.subtasks_per_episode,
            config.allow_downstream_sequence, config.max_skill_steps, config.action_noise)
        steps += episode.episodes.n_steps
    scripted = steps / (time.perf_counter() - started)

    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    reference = gym.make("FrankaKitchen-v1", max_episode_steps=10**9).unwrapped
    reference.reset(seed=0)
    env.reset(seed=0)
    bare_reference = bare_rate(reference.step, args.bare_steps)
    bare_project = bare_rate(env.step, args.bare_steps)
    print(json.dumps({
        "scripted_steps": steps,
        "steps_per_s": {
            "scripted_generation": round(scripted, 1),
            "bare_frankakitchen_v1": round(bare_reference, 1),
            "bare_project_env": round(bare_project, 1),
        },
        "scripted_over_bare_frankakitchen_v1": round(scripted / bare_reference, 3),
        "scripted_over_bare_project_env": round(scripted / bare_project, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
