"""`ptgm train-rl`: learn the downstream task with PTGM's high-level SAC (§4.3) or a baseline.

Each lock-step of the parallel envs:
  1. every env whose option has ended gets a new decision from the agent (a code; for flat SAC
     an action), and the executor turns the decisions into env actions (for PTGM the frozen
     low-level policy towards the code's goal);
  2. while the workers simulate, the learner takes its due gradient steps: one per high-level
     transition collected after warm-up, at most ceil(num_envs / hl_interval) per lock-step so
     the work is spread evenly over the steps;
  3. finished options go into the replay buffer, finished episodes into the logs;
  4. every `checkpoint_every` env steps the whole run state is saved; `--resume` continues from
     it exactly, as if the run had never stopped.
The run lives in `<workspace>/rl/.runs/<name>/` and becomes the `rl` artifact at the end.
"""

from __future__ import annotations

import fcntl
import math
import shutil
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ptgm_cli import report
from ptgm_cli.configs import TrainRLConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION
from ptgm_cli.machine import cpu_count
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.models.training import seed_everything
from ptgm_cli.plotting import plot_runs
from ptgm_cli.rl import checkpoint
from ptgm_cli.rl.build import build
from ptgm_cli.rl.evaluation import play_episodes, summarise
from ptgm_cli.rl.hierarchy import Episode, Rollout
from ptgm_cli.rl.logger import METRICS_FILE, TENSORBOARD_DIR, RunLogger
from ptgm_cli.rl.replay import ReplayBuffer
from ptgm_cli.rl.vec_env import EnvSpec, VecKitchenEnv
from ptgm_cli.workspace import Artifact, Workspace, check_name

RUNS_DIR = ".runs"
CURVES_FILE = "curves.png"
LOSS_LOG_EVERY = 100  # gradient steps between loss records
RECENT_EPISODES = 20  # episodes averaged in the progress bar
EVAL_FIRST_SEED = 1_000_000  # periodic evaluations replay the same episodes every time
# Settings that may change on --resume: they do not alter what the run learns.
RESUMABLE_CHANGES = {"resume", "env_steps", "checkpoint_every", "eval_every", "eval_episodes",
                     "wandb"}


def seed_from(*entropy: int) -> int:
    """A 63-bit seed derived from integers (the run seed and what the seed is for)."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(2, np.uint64)[0] >> 1)


# Purposes of derived seeds.
ACTING, LEARNING, REPLAY, EPISODES, EVALUATION = range(5)


def learner_threads(num_envs: int) -> int:
    """Cores not taken by the env workers (at least one): the learner must not starve them."""
    return max(1, cpu_count() - num_envs)


@dataclass
class Counters:
    env_steps: int = 0
    transitions: int = 0
    pending_updates: int = 0
    episodes: int = 0
    evaluations: int = 0


def run(config: TrainRLConfig, workspace: Workspace, force: bool = False) -> Artifact:
    name = check_name(config.run_name)
    run_dir = workspace.root / "rl" / RUNS_DIR / name
    with _exclusive(run_dir):
        if workspace.exists("rl", name) and not force:
            raise PtgmError(f"rl {name!r} already exists in {workspace.root}; pass --force to "
                            "replace it or choose another --name")
        saved = _open_run_folder(run_dir, config, force)
        return _train(config, workspace, name, run_dir, saved, force)


@contextmanager
def _exclusive(run_dir: Path) -> Iterator[None]:
    """Hold the run's lock while it trains: a second process on the same run (say, `make
    reproduce` started twice) would write over its folder. The lock file sits beside the
    folder, which starting over deletes."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.with_name(f"{run_dir.name}.lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PtgmError(f"run {run_dir.name!r} is training in another process; wait for it to "
                            "finish or stop it") from None
        yield


def _train(config: TrainRLConfig, workspace: Workspace, name: str, run_dir: Path,
           saved: dict | None, force: bool) -> Artifact:
    seed_everything(config.seed)
    torch.set_num_threads(learner_threads(config.num_envs))

    setup = build(config, workspace)
    agent = setup.agent
    replay = ReplayBuffer(config.buffer_size, len(setup.state_names), agent.action_shape,
                          agent.action_dtype)
    act_generator = torch.Generator().manual_seed(seed_from(config.seed, ACTING))
    learn_generator = torch.Generator().manual_seed(seed_from(config.seed, LEARNING))
    replay_rng = np.random.default_rng(seed_from(config.seed, REPLAY))
    counters = Counters()
    recent: deque[int] = deque(maxlen=RECENT_EPISODES)
    updates_per_step = math.ceil(config.num_envs / setup.options.interval)
    env_spec = EnvSpec.of(config)
    wandb_run = ({"project": "ptgm", "name": name, "id": name,
                  "config": config.model_dump(mode="json")} if config.wandb else None)

    with RunLogger(run_dir, saved and saved["logger"], wandb_run) as logger, \
            VecKitchenEnv(config.num_envs, env_spec) as envs:
        rollout = Rollout(envs, setup.options,
                          seed_of=lambda i, j: seed_from(config.seed, EPISODES, i, j))
        if saved:
            agent.load_state_dict(saved["agent"])
            replay.load_state_dict(saved["replay"])
            rollout.load_state_dict(saved["rollout"])
            act_generator.set_state(saved["rng"]["act"])
            learn_generator.set_state(saved["rng"]["learn"])
            replay_rng.bit_generator.state = saved["rng"]["replay"]
            checkpoint.restore_global_rng_states(saved["rng"]["global"])
            counters = Counters(**saved["counters"])
            recent.extend(saved["recent"])
            report.info(f"resuming {name!r} at env step {counters.env_steps:,}")
        else:
            rollout.start()

        def choose(states: np.ndarray) -> np.ndarray:
            return agent.act(states, act_generator, counters.transitions < config.warmup)

        def learn(max_updates: int) -> None:
            for _ in range(min(counters.pending_updates, max_updates)):
                metrics = agent.update(replay.sample(config.batch_size, replay_rng),
                                       learn_generator)
                counters.pending_updates -= 1
                if (agent.updates - 1) % LOSS_LOG_EVERY == 0:  # the first, then every 100th
                    logger.log(counters.env_steps, metrics)

        def save_checkpoint() -> None:
            logger.flush()  # before resume.pt: the records it counts must be on disk first
            checkpoint.save_weights(run_dir / checkpoint.WEIGHTS_FILE, agent.weights())
            checkpoint.save_resume(run_dir / checkpoint.RESUME_FILE, {
                "config": config.model_dump(mode="json"),
                "agent": agent.state_dict(),
                "replay": replay.state_dict(),
                "rollout": rollout.state_dict(),
                "rng": {"act": act_generator.get_state(), "learn": learn_generator.get_state(),
                        "replay": replay_rng.bit_generator.state,
                        "global": checkpoint.global_rng_states()},
                "counters": asdict(counters),
                "recent": list(recent),
                "logger": logger.state(counters.env_steps),
            })

        def evaluate() -> dict:
            """Fixed-seed episodes on the workers, whose training episodes then carry on."""
            snapshot = envs.get_state()
            generator = torch.Generator().manual_seed(
                seed_from(config.seed, EVALUATION, counters.evaluations))
            episodes = play_episodes(envs, setup.options, agent, config.eval_episodes,
                                     EVAL_FIRST_SEED, generator)
            envs.set_state(snapshot)
            counters.evaluations += 1
            summary = summarise(episodes, config.tasks)
            logger.log(counters.env_steps, {
                "eval/completed_subtasks": summary["completed_subtasks_mean"],
                **{f"eval/success/{task}": rate for task, rate in summary["success"].items()},
            })
            return summary

        started, steps_at_start = time.perf_counter(), counters.env_steps
        with report.progress(config.env_steps, f"train-rl {name}", counters.env_steps) as bar:
            while counters.env_steps < config.env_steps:
                tick = rollout.step(choose, act_generator,
                                    while_stepping=lambda: learn(updates_per_step))
                previous = counters.env_steps
                counters.env_steps += config.num_envs
                replay.add(tick.transitions.states, tick.transitions.decisions,
                           tick.transitions.rewards, tick.transitions.next_states,
                           tick.transitions.terminated, tick.transitions.steps,
                           tick.transitions.next_steps)
                counters.transitions += len(tick.transitions)
                counters.pending_updates += min(
                    len(tick.transitions), max(0, counters.transitions - config.warmup))
                steps_per_s = (counters.env_steps - steps_at_start) / (
                    time.perf_counter() - started)
                for episode in tick.episodes:
                    counters.episodes += 1
                    recent.append(len(episode.completed))
                    logger.log(counters.env_steps, {
                        **episode_scalars(episode, config.tasks),
                        "charts/steps_per_s": steps_per_s,
                    })
                if config.eval_episodes and crossed(previous, counters.env_steps,
                                                    config.eval_every):
                    evaluate()
                if crossed(previous, counters.env_steps, config.checkpoint_every):
                    save_checkpoint()
                bar.advance(config.num_envs, steps_per_s=round(steps_per_s),
                            subtasks=float(np.mean(recent)) if recent else 0.0,
                            alpha=agent.alpha)
            learn(counters.pending_updates)
            elapsed = time.perf_counter() - started
            save_checkpoint()
        final_eval = evaluate() if config.eval_episodes else None

    manifest = Manifest(
        kind="rl", name=name, parents=setup.parents, config=config.model_dump(mode="json"),
        seed=config.seed,
        shapes=Shapes(state_names=setup.state_names, n_codes=setup.n_codes, action_dim=N_ACTION),
        metrics={
            "env_steps": counters.env_steps, "episodes": counters.episodes,
            "gradient_steps": agent.updates, "transitions": counters.transitions,
            "recent_completed_subtasks": float(np.mean(recent)) if recent else 0.0,
            "final_eval": final_eval,
        },
        timings={"train_seconds": elapsed,
                 "steps_per_second": (counters.env_steps - steps_at_start) / elapsed},
    )
    with workspace.publish(manifest, overwrite=force) as staging:
        shutil.copy(run_dir / checkpoint.WEIGHTS_FILE, staging.file(checkpoint.WEIGHTS_FILE))
        shutil.copy(run_dir / METRICS_FILE, staging.file(METRICS_FILE))
        shutil.copytree(run_dir / TENSORBOARD_DIR, staging.file(TENSORBOARD_DIR))
        plot_runs([run_dir / METRICS_FILE], staging.file(CURVES_FILE), labels=[name])
    shutil.rmtree(run_dir)
    if final_eval is not None:
        report.info(f"{name}: {final_eval['completed_subtasks_mean']:.2f} ± "
                    f"{final_eval['completed_subtasks_stderr']:.2f} subtasks "
                    f"over {final_eval['episodes']} eval episodes")
    return workspace.load("rl", name)


def crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return after // every > before // every


def episode_scalars(episode: Episode, tasks: tuple[str, ...]) -> dict[str, float]:
    return {
        "charts/completed_subtasks": len(episode.completed),
        "charts/return": episode.episode_return,
        "charts/episode_length": episode.length,
        **{f"charts/success/{task}": float(task in episode.completed) for task in tasks},
    }


def _open_run_folder(run_dir: Path, config: TrainRLConfig, force: bool) -> dict | None:
    """The saved state to resume from, or None after preparing an empty run folder."""
    resume_file = run_dir / checkpoint.RESUME_FILE
    if config.resume:
        if not resume_file.is_file():
            raise PtgmError(f"no checkpoint of run {config.run_name!r} in {run_dir}; "
                            "start it without --resume")
        saved = checkpoint.load_resume(resume_file)
        started_with = TrainRLConfig.of_run(saved["config"]).model_dump(mode="json")
        changed = sorted(
            key for key, value in config.model_dump(mode="json").items()
            if key not in RESUMABLE_CHANGES and started_with[key] != value
        )
        if changed:
            options = ", ".join("--" + key.replace("_", "-") for key in changed)
            raise PtgmError(f"run {config.run_name!r} was started with other {options}; "
                            "resume it with its original settings")
        return saved
    if resume_file.exists() and not force:
        raise PtgmError(f"run {config.run_name!r} has a checkpoint in {run_dir}; pass --resume "
                        "to continue it or --force to start over")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    return None
