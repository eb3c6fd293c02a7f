"""Env steps/s of the project's KitchenEnv, the bare FrankaKitchen-v1 and raw MuJoCo physics.

The three are measured in interleaved rounds in one process (same machine load for each) and
the median round is reported, as JSON. Raw physics is `mj_step(model, data, nstep=40)` on the
same model: the limit any wrapper can reach.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import gymnasium as gym
import mujoco
import numpy as np

from ptgm_cli.kitchen.env import FRAME_SKIP, KitchenEnv


def steps_per_second(step, actions: np.ndarray) -> float:
    started = time.perf_counter()
    for action in actions:
        step(action)
    return len(actions) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300, help="Steps per round.")
    parser.add_argument("--rounds", type=int, default=7, help="Interleaved rounds.")
    args = parser.parse_args()

    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
    bare = gym.make("FrankaKitchen-v1", max_episode_steps=10**9).unwrapped
    project = KitchenEnv(max_episode_steps=None)
    raw_model, raw_data = project.model, mujoco.MjData(project.model)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(args.steps, 9))

    def raw_step(action):
        raw_data.ctrl[:] = raw_data.qpos[:9] + 0.16 * action
        mujoco.mj_step(raw_model, raw_data, nstep=FRAME_SKIP)

    rates = {"project_env": [], "bare_frankakitchen_v1": [], "raw_mj_step_40": []}
    for round_index in range(args.rounds):
        bare.reset(seed=round_index)
        project.reset(seed=round_index)
        project.set_state(project.data.qpos, project.data.qvel)
        raw_data.qpos[:] = project.data.qpos
        raw_data.qvel[:] = 0.0
        rates["project_env"].append(steps_per_second(project.step, actions))
        rates["bare_frankakitchen_v1"].append(steps_per_second(bare.step, actions))
        rates["raw_mj_step_40"].append(steps_per_second(raw_step, actions))
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(json.dumps({
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "steps_per_s": {name: round(value, 1) for name, value in median.items()},
        "project_over_raw": round(median["project_env"] / median["raw_mj_step_40"], 3),
        "bare_over_raw": round(median["bare_frankakitchen_v1"] / median["raw_mj_step_40"], 3),
        "project_over_bare": round(median["project_env"] / median["bare_frankakitchen_v1"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
