"""Env steps/s of the `train-rl` loop next to bare env stepping, with the same number of envs.

Bare: the same worker processes stepped with uniform random actions and nothing else. The loop
is measured twice on the default network sizes: during warm-up (collection with the frozen
low-level policy only) and while learning (one gradient step per high-level transition, batch
256, 5x256 critics); one gradient step is also timed alone, which bounds the learning loop: at
one gradient step per `hl_interval` env steps it can go no faster than `hl_interval` env steps
per gradient step's time, even if the envs cost nothing. Prints JSON. Pre-trained models come
from `--workspace` (read only: the artifacts are linked into a scratch workspace), or tiny ones
are trained first.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ptgm_cli.algorithms import build, env_spec
from ptgm_cli.configs import (
    BuildCodebookConfig,
    FetchDataConfig,
    TrainPolicyConfig,
    TrainPriorConfig,
    TrainRLConfig,
)
from ptgm_cli.machine import cpu_count
from ptgm_cli.rl.vec_env import VecKitchenEnv
from ptgm_cli.workspace import Workspace

PRETRAINED_KINDS = ("dataset", "codebook", "policy", "prior")


def bare_steps_per_second(num_envs: int, env_steps: int) -> float:
    rng = np.random.default_rng(0)
    with VecKitchenEnv(num_envs, env_spec(TrainRLConfig())) as envs:
        envs.reset(list(range(num_envs)))
        ticks = env_steps // num_envs
        started = time.perf_counter()
        for tick in range(ticks):
            envs.step_async(rng.uniform(-1, 1, (num_envs, 9)), [tick] * num_envs)
            envs.step_wait()
        return ticks * num_envs / (time.perf_counter() - started)


def loop_steps_per_second(workspace: Workspace, name: str, **overrides) -> float:
    from ptgm_cli.stages import train_rl

    config = TrainRLConfig(name=name, eval_episodes=0, checkpoint_every=10**9, **overrides)
    artifact = train_rl.run(config, workspace, force=True)
    return artifact.manifest.timings["steps_per_second"]


def update_milliseconds(workspace: Workspace, codebook: str, prior: str,
                        updates: int = 100) -> float:
    """One learner gradient step alone, on random transitions, with the loop's torch threads."""
    from ptgm_cli.rl.replay import ReplayBuffer

    config = TrainRLConfig(codebook=codebook, prior=prior)
    setup = build(config, workspace)
    agent, rng = setup.agent, np.random.default_rng(0)
    n, state_dim = 4 * config.batch_size, len(setup.state_names)
    replay = ReplayBuffer(n, state_dim, agent.action_shape, agent.action_dtype)
    replay.add(rng.normal(size=(n, state_dim)).astype(np.float32),
               rng.integers(0, setup.n_codes, n), np.zeros(n, np.float32),
               rng.normal(size=(n, state_dim)).astype(np.float32), np.zeros(n, np.float32),
               np.zeros(n, np.float32), np.full(n, 10, np.float32))
    generator = torch.Generator().manual_seed(0)
    batches = [replay.sample(config.batch_size, rng) for _ in range(updates + 10)]
    for batch in batches[:10]:  # warm-up
        agent.update(batch, generator)
    started = time.perf_counter()
    for batch in batches[10:]:
        agent.update(batch, generator)
    return (time.perf_counter() - started) / updates * 1000


def scratch_workspace(source: Path | None, folder: Path) -> Workspace:
    """Link the pre-trained artifacts of `source` in, or train tiny ones."""
    workspace = Workspace(folder)
    if source is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for kind in PRETRAINED_KINDS:
            os.symlink(source.resolve() / kind, folder / kind)
        return workspace
    from ptgm_cli.stages import build_codebook, fetch_data, train_policy, train_prior

    fetch_data.run(FetchDataConfig(episodes=4, workers=1), workspace)
    build_codebook.run(BuildCodebookConfig(subsample=1), workspace)
    train_policy.run(TrainPolicyConfig(epochs=1), workspace)
    train_prior.run(TrainPriorConfig(epochs=1), workspace)
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, help="Workspace with pre-trained models.")
    parser.add_argument("--num-envs", type=int, default=2)
    parser.add_argument("--env-steps", type=int, default=4000, help="Env steps per measurement.")
    parser.add_argument("--codebook", default="default", help="Codebook name in --workspace.")
    parser.add_argument("--prior", default="default", help="Prior name in --workspace.")
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")

    with tempfile.TemporaryDirectory() as scratch:
        workspace = scratch_workspace(args.workspace, Path(scratch) / "workspace")
        common = {"num_envs": args.num_envs, "env_steps": args.env_steps,
                  "codebook": args.codebook, "prior": args.prior}
        bare = bare_steps_per_second(args.num_envs, args.env_steps)
        collecting = loop_steps_per_second(workspace, "bench-warmup",
                                           warmup_transitions=10**9, **common)
        # Learning from the first transitions on: every transition costs a gradient step.
        learning = loop_steps_per_second(workspace, "bench-learning", warmup_transitions=0,
                                         **common)
        from ptgm_cli.stages.train_rl import learner_threads

        torch.set_num_threads(learner_threads(args.num_envs))
        update_ms = update_milliseconds(workspace, args.codebook, args.prior)
        learner_bound = TrainRLConfig().hl_interval * 1000 / update_ms
    print(json.dumps({
        "num_envs": args.num_envs,
        "cpu_count": cpu_count(),
        "load_average": os.getloadavg()[0],
        "env_steps_per_measurement": args.env_steps,
        "codebook": args.codebook,
        "steps_per_s": {"bare_envs_random_actions": round(bare, 1),
                        "train_rl_warmup": round(collecting, 1),
                        "train_rl_learning": round(learning, 1)},
        "learner_ms_per_gradient_step": round(update_ms, 1),
        "learner_bound_steps_per_s": round(learner_bound, 1),
        "warmup_over_bare": round(collecting / bare, 3),
        "learning_over_bare": round(learning / bare, 3),
        "learner_bound_over_bare": round(learner_bound / bare, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
