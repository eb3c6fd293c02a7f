"""`ptgm train-rl`: learn the downstream task with PTGM's high-level SAC (§4.3) or a baseline.

Each lock-step of the parallel envs:
  1. every env gets a decision from the agent (a code; for flat SAC an action) and its worker
     executes it (for PTGM the frozen low-level policy reaching the code's goal for 10 steps);
  2. while the workers play, the learner takes its due gradient steps: one per high-level
     transition collected after warm-up, the transitions of the previous lock-step;
  3. finished options go into the replay buffer, finished episodes into the logs;
  4. every `checkpoint_every` env steps the whole run state is saved; `--resume` continues from
     it exactly, as if the run had never stopped.
The run lives in `<workspace>/rl/.runs/<name>/` and becomes the `rl` artifact at the end.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from ptgm_cli import report
from ptgm_cli.algorithms import RLSetup, build, env_spec
from ptgm_cli.config import flag
from ptgm_cli.configs import TrainRLConfig, applies_to
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, OBS_DIM
from ptgm_cli.machine import cpu_count
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.models.mlp import check_finite
from ptgm_cli.models.training import resolve_device, seed_everything
from ptgm_cli.plotting import plot_runs
from ptgm_cli.rl import checkpoint
from ptgm_cli.rl.agent import SACAgent
from ptgm_cli.rl.evaluation import play_episodes, prior_rollouts, summarise
from ptgm_cli.rl.hierarchy import Episode, Rollout, Transitions
from ptgm_cli.rl.logger import METRICS_FILE, TENSORBOARD_DIR, RunLogger
from ptgm_cli.rl.replay import ReplayBuffer
from ptgm_cli.rl.seeds import (
    ACTING,
    EPISODES,
    EVALUATION,
    HEALTH,
    LEARNING,
    REPLAY,
    seed_from,
    worker_seeds,
)
from ptgm_cli.rl.vec_env import VecKitchenEnv
from ptgm_cli.studies.results import HealthCheck, health_checks, models_check
from ptgm_cli.workspace import Artifact, Workspace, check_name

RUNS_DIR = ".runs"
CURVES_FILE = "curves.png"
LOSS_LOG_EVERY = 100  # gradient steps between loss records
RECENT_EPISODES = 20  # episodes averaged in the progress bar
EVAL_FIRST_SEED = 1_000_000  # periodic evaluations replay the same episodes every time
# Settings that may change on --resume: they do not alter what the run learns.
# --device too: a checkpoint holds CPU tensors, which load onto any device; --health-episodes
# only counts the check made before a run starts, on workers of its own.
RESUMABLE_CHANGES = {"resume", "env_steps", "checkpoint_every", "eval_every", "eval_episodes",
                     "wandb", "device", "health_episodes"}


def learner_threads(num_envs: int) -> int:
    """Cores not taken by the env workers (at least one): the learner must not starve them."""
    return max(1, cpu_count() - num_envs)


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for listeners such as `ptgm sweep`'s table."""

    env_steps: int
    total_env_steps: int
    steps_per_s: float
    recent_completed_subtasks: float


ProgressListener = Callable[[Progress], None]


@dataclass
class Counters:
    env_steps: int = 0
    transitions: int = 0
    pending_updates: int = 0  # gradient steps due but not yet taken
    episodes: int = 0
    evaluations: int = 0
    recent: list[int] = field(default_factory=list)  # completed subtasks, last episodes

    def record_episode(self, completed_subtasks: int) -> None:
        self.episodes += 1
        self.recent = [*self.recent, completed_subtasks][-RECENT_EPISODES:]

    @property
    def recent_completed_subtasks(self) -> float:
        return float(np.mean(self.recent)) if self.recent else 0.0

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, saved: dict) -> None:
        for name, value in saved.items():
            setattr(self, name, value)


@dataclass
class RandomStreams:
    """The run's generators, each seeded for its purpose, and the global ones."""

    act: torch.Generator
    learn: torch.Generator
    replay: np.random.Generator

    @classmethod
    def seeded(cls, seed: int) -> RandomStreams:
        return cls(act=torch.Generator().manual_seed(seed_from(seed, ACTING)),
                   learn=torch.Generator().manual_seed(seed_from(seed, LEARNING)),
                   replay=np.random.default_rng(seed_from(seed, REPLAY)))

    def state_dict(self) -> dict:
        return {"act": self.act.get_state(), "learn": self.learn.get_state(),
                "replay": self.replay.bit_generator.state,
                "global": checkpoint.global_rng_states()}

    def load_state_dict(self, saved: dict) -> None:
        self.act.set_state(saved["act"])
        self.learn.set_state(saved["learn"])
        self.replay.bit_generator.state = saved["replay"]
        checkpoint.restore_global_rng_states(saved["global"])


@dataclass
class RunState:
    """Everything that changes while a run trains. A checkpoint saves it whole and `--resume`
    restores it whole, so a resumed run continues as if it had never stopped."""

    agent: SACAgent
    replay: ReplayBuffer
    rollout: Rollout
    rng: RandomStreams
    counters: Counters

    def state_dict(self) -> dict:
        return {part.name: getattr(self, part.name).state_dict() for part in fields(self)}

    def load_state_dict(self, saved: dict) -> None:
        for part in fields(self):
            getattr(self, part.name).load_state_dict(saved[part.name])


def preflight(config: TrainRLConfig) -> None:
    """Checks of this machine that need no workspace, made before anything is written."""
    resolve_device(config.device)
    check_replay_fits_in_memory(config.buffer_transitions)


def run(config: TrainRLConfig, workspace: Workspace, force: bool = False,
        on_progress: ProgressListener | None = None) -> Artifact:
    """Train, checkpoint and publish the run; `on_progress` hears of every lock-step of the
    envs (`ptgm sweep` shows it)."""
    preflight(config)
    name = check_name(config.run_name)
    run_dir = workspace.root / "rl" / RUNS_DIR / name
    with _exclusive(run_dir):
        workspace.check_can_publish("rl", name, force)
        saved = _open_run_folder(run_dir, config, force)
        return _train(config, workspace, name, run_dir, saved, force, on_progress)


def check_replay_fits_in_memory(transitions: int) -> None:
    """Refuse a replay buffer larger than this machine's memory now, not when it is allocated or
    fills up hours later. A transition is counted at its widest: two 59-dim observations, a
    9-dim action and four scalars, all float32 (`ReplayBuffer`)."""
    needed = transitions * 4 * (2 * OBS_DIM + N_ACTION + 4)
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > memory:
        raise PtgmError(f"--buffer-transitions {transitions:,} needs {needed / 2**30:,.1f} GiB of "
                        f"replay memory, more than this machine's {memory / 2**30:,.1f} GiB; "
                        "lower it")


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
           saved: dict | None, force: bool, on_progress: ProgressListener | None) -> Artifact:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    torch.set_num_threads(learner_threads(config.num_envs))
    setup = build(config, workspace, device)
    replay = ReplayBuffer(config.buffer_transitions, len(setup.state_names),
                          setup.agent.action_shape, setup.agent.action_dtype)
    rng = RandomStreams.seeded(config.seed)
    wandb_run = ({"project": "ptgm", "name": name, "id": name, "config": config.recorded()}
                 if config.wandb else None)

    if setup.prior is not None and config.algo in applies_to("health_episodes") \
            and config.health_episodes and not saved:
        check_pretraining(config, setup, workspace)
    with RunLogger(run_dir, saved and saved["logger"], wandb_run) as logger, \
            setup.options.envs(config.num_envs, env_spec(config),
                               worker_seeds(config.seed, config.num_envs)) as envs:
        rollout = Rollout(envs, setup.options,
                          seed_of=lambda i, j: seed_from(config.seed, EPISODES, i, j))
        state = RunState(setup.agent, replay, rollout, rng, Counters())
        if saved:
            state.load_state_dict(saved["state"])
            report.info(f"resuming {name!r} at env step {state.counters.env_steps:,}")
        else:
            rollout.start()
        trainer = Trainer(config, run_dir, setup, state, logger, envs, on_progress)
        elapsed, steps_per_s = trainer.train(name)
        final_eval = trainer.evaluate() if config.eval_episodes else None

    counters = state.counters
    manifest = Manifest(
        kind="rl", name=name, parents=setup.parents, config=config.recorded(), seed=config.seed,
        shapes=Shapes(state_names=setup.state_names, n_codes=setup.n_codes, action_dim=N_ACTION,
                      latent_dim=setup.latent_dim),
        metrics={
            "env_steps": counters.env_steps, "episodes": counters.episodes,
            "gradient_steps": setup.agent.updates, "transitions": counters.transitions,
            "recent_completed_subtasks": counters.recent_completed_subtasks,
            "final_eval": final_eval, "device": device.type,
        },
        timings={"train_seconds": elapsed, "steps_per_second": steps_per_s},
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


class Trainer:
    """The loop of one run over its `RunState`: act, learn while the envs step, record."""

    def __init__(self, config: TrainRLConfig, run_dir: Path, setup: RLSetup, state: RunState,
                 logger: RunLogger, envs: VecKitchenEnv,
                 on_progress: ProgressListener | None = None):
        self.config, self.run_dir, self.setup = config, run_dir, setup
        self.state, self.logger, self.envs = state, logger, envs
        self.on_progress = on_progress

    def train(self, name: str) -> tuple[float, float]:
        """Run to `env_steps`, then checkpoint; returns the seconds taken and env steps/s."""
        config, counters = self.config, self.state.counters
        started, steps_at_start = time.perf_counter(), counters.env_steps
        with report.progress(config.env_steps, f"train-rl {name}", counters.env_steps) as bar:
            while counters.env_steps < config.env_steps:
                tick = self.state.rollout.step(
                    self.choose, while_playing=functools.partial(self.learn, config.num_envs))
                previous = counters.env_steps
                counters.env_steps += tick.env_steps
                self.store(tick.transitions)
                steps_per_s = (counters.env_steps - steps_at_start) / (
                    time.perf_counter() - started)
                for episode in tick.episodes:
                    counters.record_episode(len(episode.completed))
                    self.logger.log(counters.env_steps, {
                        **episode_scalars(episode, config.tasks),
                        "charts/steps_per_s": steps_per_s,
                    })
                if config.eval_episodes and crossed(previous, counters.env_steps,
                                                    config.eval_every):
                    self.evaluate()
                if crossed(previous, counters.env_steps, config.checkpoint_every):
                    self.save_checkpoint()
                bar.advance(tick.env_steps, steps_per_s=round(steps_per_s),
                            subtasks=counters.recent_completed_subtasks,
                            alpha=self.state.agent.alpha)
                if self.on_progress is not None:
                    self.on_progress(Progress(counters.env_steps, config.env_steps, steps_per_s,
                                              counters.recent_completed_subtasks))
            self.learn(counters.pending_updates)
            elapsed = time.perf_counter() - started
            self.save_checkpoint()
        return elapsed, (counters.env_steps - steps_at_start) / elapsed

    def choose(self, states: np.ndarray) -> np.ndarray:
        warmup = self.state.counters.transitions < self.config.warmup_transitions
        return self.state.agent.act(states, self.state.rng.act, warmup)

    def store(self, transitions: Transitions) -> None:
        """Into the replay buffer; each transition after warm-up earns one gradient step."""
        counters = self.state.counters
        self.state.replay.add(transitions.states, transitions.decisions, transitions.rewards,
                              transitions.next_states, transitions.terminated, transitions.steps,
                              transitions.next_steps)
        counters.transitions += len(transitions)
        counters.pending_updates += min(
            len(transitions), max(0, counters.transitions - self.config.warmup_transitions))

    def learn(self, max_updates: int) -> None:
        state = self.state
        for _ in range(min(state.counters.pending_updates, max_updates)):
            batch = state.replay.sample(self.config.batch_size, state.rng.replay)
            metrics = state.agent.update(batch.to(state.agent.device), state.rng.learn)
            state.counters.pending_updates -= 1
            self.check_finite(metrics, f"at gradient step {state.agent.updates} its losses")
            if (state.agent.updates - 1) % LOSS_LOG_EVERY == 0:  # the first, then every 100th
                self.logger.log(state.counters.env_steps, metrics)

    def evaluate(self) -> dict:
        """Fixed-seed episodes on the workers, whose training episodes then carry on."""
        counters = self.state.counters
        snapshot = self.envs.get_state()
        generator = torch.Generator().manual_seed(
            seed_from(self.config.seed, EVALUATION, counters.evaluations))
        episodes = play_episodes(self.envs, self.setup.options, self.state.agent,
                                 self.config.eval_episodes, EVAL_FIRST_SEED, generator)
        self.envs.set_state(snapshot)
        counters.evaluations += 1
        summary = summarise(episodes, self.config.tasks)
        self.logger.log(counters.env_steps, {
            "eval/completed_subtasks": summary["completed_subtasks_mean"],
            **{f"eval/success/{task}": rate for task, rate in summary["success"].items()},
        })
        return summary

    def check_finite(self, values: dict, what: str) -> None:
        """Stop a diverged run at once, keeping its last checkpoint (written before it
        diverged) and its folder for inspection; it is never published."""
        config = self.config
        change = "lower --lr or check" if config.algo in applies_to("lr") else "check"
        target = ("target_divergence" if config.algo in applies_to("target_divergence")
                  else "target_entropy")
        check_finite(values, f"run {config.run_name!r} diverged: {what}",
                     f"{change} {flag(target)} and start it over with --force (its folder "
                     f"{self.run_dir} stays for inspection)")

    def save_checkpoint(self) -> None:
        weights = self.state.agent.weights()
        self.check_finite(weights, "its weights")
        self.logger.flush()  # before resume.pt: the records it counts must be on disk first
        checkpoint.save_weights(self.run_dir / checkpoint.WEIGHTS_FILE, weights)
        checkpoint.save_resume(self.run_dir / checkpoint.RESUME_FILE, {
            "config": self.config.recorded(),
            "state": self.state.state_dict(),
            "logger": self.logger.state(self.state.counters.env_steps),
        })


def check_pretraining(config: TrainRLConfig, setup: RLSetup, workspace: Workspace) -> None:
    """Print the pre-trained models' health check: how often the prior's codes (skills) complete
    each subtask from reset (`rl.evaluation.prior_rollouts`). The recorded check of these very
    models (`recorded_check`) is printed where there is one; otherwise it plays
    `health_episodes`, on workers of their own."""
    decisions, command = (("codes", "eval-policy") if config.algo == "ptgm"
                          else ("skills", "eval-skills"))
    recorded = recorded_check(config, setup, workspace)
    if recorded is not None:
        health = recorded.rollouts
        source = f"`ptgm {command} --name {recorded.name}`"
    else:
        seeds = worker_seeds(config.seed, config.num_envs, HEALTH)
        health = prior_rollouts(setup.options, setup.prior, config.health_episodes,
                                config.episode_steps, seeds, seed_from(config.seed, HEALTH))
        source = "played now"
    rates = ", ".join(f"{task} {rate:.0%}" for task, rate in health["success"].items())
    report.info(f"the prior's {decisions} from reset, {health['episodes']} episodes "
                f"({source}): {rates}")
    firsts = config.tasks if config.any_order else config.tasks[:1]
    if not any(health["success"][task] for task in firsts):
        more = ("" if recorded is not None else f"; `ptgm {command} --prior-episodes 100` "
                "measures it in more episodes, and this command then prints that")
        report.warn(f"the prior's {decisions} never completed {' or '.join(firsts)}, which the "
                    f"task needs first, in {health['episodes']} episodes: the run may get no "
                    f"reward to learn from{more}")


def recorded_check(config: TrainRLConfig, setup: RLSetup,
                   workspace: Workspace) -> HealthCheck | None:
    """`ptgm eval-policy`'s (`eval-skills`') check of exactly these models, played as this run
    will act (episode length; for ptgm, low-level acting and a code every 10 steps, eval-policy's
    interval), with at least `health_episodes` episodes; None when there is none."""
    if config.algo == "ptgm" and config.hl_interval != TrainRLConfig().hl_interval:
        return None
    check = models_check(health_checks(workspace), setup.parents, config.episode_steps,
                         config.low_level_actions if config.algo == "ptgm" else None)
    if check is None or check.rollouts["episodes"] < config.health_episodes:
        return None
    return check


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
        started_with, now = saved["config"], config.recorded()
        changed = sorted(
            key for key in started_with.keys() | now.keys()
            if key not in RESUMABLE_CHANGES and started_with.get(key) != now.get(key)
        )
        if changed:
            options = ", ".join(flag(key) for key in changed)
            raise PtgmError(f"run {config.run_name!r} was started with other {options}; "
                            "resume it with its original settings")
        return saved
    if resume_file.exists() and not force:
        raise PtgmError(f"run {config.run_name!r} has a checkpoint in {run_dir}; pass --resume "
                        "to continue it or --force to start over")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    return None
