"""`ptgm eval-policy`: does the low-level policy reach the goals it is given, in the simulator?

Two tests from held-out states (the policy's own validation episodes), each next to a zero-action
policy that shows how far things get without control:
1. goal reaching: restore a state s_t, command goal(s_{t+horizon}), act `horizon` steps; report
   final / initial distance to the goal, in the codebook's standardised goal space.
2. subtask codes: restore a state 10-20 steps before a subtask first completes, command the code
   nearest that completed state (among the codes with the subtask done), act `subtask_steps`
   steps; report how often the subtask completes, which the high-level policy will rely on.
3. the prior's rollouts (a health check of the pre-trained models as a whole): from reset, a code
   sampled from the goal prior every 10 steps and executed by the policy, as PTGM acts before it
   has learnt anything; report how often each subtask gets done. A subtask that must come first
   and that these rollouts never complete gives PTGM no reward to learn from.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import torch
from rich.table import Table
from torch import nn

from ptgm_cli import report
from ptgm_cli.artifacts import load_codebook, load_dataset, load_policy, load_prior
from ptgm_cli.configs import EvalPolicyConfig, TrainRLConfig
from ptgm_cli.data.episodes import Episodes
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.kitchen.layout import N_ACTION, qpos_state_from_obs
from ptgm_cli.kitchen.tasks import SUBTASKS, subtask_done
from ptgm_cli.manifests import Manifest
from ptgm_cli.models.codebook import Codebook
from ptgm_cli.models.policy import GoalPolicy
from ptgm_cli.models.training import seed_everything
from ptgm_cli.rl.evaluation import PriorCodes, prior_rollouts
from ptgm_cli.rl.hierarchy import goal_options
from ptgm_cli.rl.seeds import worker_seeds
from ptgm_cli.workspace import Artifact, Workspace

# (59-dim observation, goal) -> action
Actor = Callable[[np.ndarray, np.ndarray], np.ndarray]
# Subtask trials start this many steps before the subtask first completes (inclusive range).
LEAD_STEPS = (10, 20)
PRIOR_ROLLOUT_ENVS = 2


def run(config: EvalPolicyConfig, workspace: Workspace, force: bool = False) -> Artifact:
    workspace.check_can_publish("eval", config.name, force)
    seed_everything(config.seed)
    codebook, codebook_artifact = load_codebook(workspace, config.codebook)
    policy, policy_artifact = load_policy(workspace, config.policy, codebook)
    episodes, dataset = load_dataset(workspace, config.dataset)
    if policy_artifact.manifest.parent("dataset") != dataset.ref:
        raise PtgmError(
            f"policy {config.policy!r} was not trained on dataset {config.dataset!r}, so its "
            f"held-out episodes are unknown there; pass --dataset "
            f"{policy_artifact.manifest.parent('dataset').name}"
        )
    held_out = np.array(policy_artifact.manifest.metrics["split"]["validation_episodes"])
    if episodes.qvel is None:
        report.warn(f"dataset {config.dataset!r} has no velocities; states restart at rest")
    rng = np.random.default_rng(config.seed)
    actors = {"policy": policy_actor(policy, torch.Generator().manual_seed(config.seed),
                                       config.low_level_actions == "sample"),
              "zero action": zero_actor}
    env = KitchenEnv(tasks=SUBTASKS, ordered=False, max_episode_steps=None)
    env.reset(seed=config.seed)

    starts = reach_starts(episodes, held_out, config.horizon, config.states, rng)
    trials = subtask_trials(episodes, held_out, codebook, config.subtask_trials, rng)
    parents = [policy_artifact.ref, codebook_artifact.ref, dataset.ref]
    prior = None
    if config.prior_episodes:
        prior, prior_artifact = load_prior(workspace, config.prior, codebook)
        parents.append(prior_artifact.ref)
    manifest = Manifest(kind="eval", name=config.name, seed=config.seed, parents=parents,
                        config=config.model_dump(mode="json"))
    with workspace.publish(manifest, overwrite=force) as staging:
        total = len(actors) * (len(starts) + sum(len(rows) for rows, _ in trials.values()))
        with report.progress(total, "eval-policy") as bar:
            ratios = {label: goal_distance_ratios(env, actor, episodes, codebook, starts,
                                                  config.horizon, bar)
                      for label, actor in actors.items()}
            completions = {label: {task: subtask_completions(env, actor, episodes, codebook,
                                                             rows, codes, task,
                                                             config.subtask_steps, bar)
                                   for task, (rows, codes) in trials.items()}
                           for label, actor in actors.items()}
        staging.manifest.metrics = summarise(ratios, completions, trials)
        if prior is not None:
            staging.manifest.metrics["prior_rollouts"] = health_check(config, policy, codebook,
                                                                      prior)
        staging.file("results.json").write_text(json.dumps({
            "start_rows": starts.tolist(),
            "distance_ratios": {label: values.tolist() for label, values in ratios.items()},
            "subtask_completions": {label: {task: done.tolist() for task, done in by_task.items()}
                                    for label, by_task in completions.items()},
        }))
    report.results.print(_table(config, staging.manifest.metrics, trials))
    return workspace.load("eval", config.name)


def health_check(config: EvalPolicyConfig, policy: GoalPolicy, codebook: Codebook,
                 prior: nn.Module) -> dict:
    """Test 3, the prior's rollouts (`rl.evaluation.prior_rollouts`)."""
    options = goal_options(policy, codebook, prior.features, TrainRLConfig().hl_interval,
                           sample=config.low_level_actions == "sample")
    with report.progress(config.prior_episodes, "prior rollouts") as bar:
        return prior_rollouts(options, PriorCodes(prior), config.prior_episodes,
                              config.episode_steps, worker_seeds(config.seed, PRIOR_ROLLOUT_ENVS),
                              config.seed, on_episode=lambda: bar.advance(1))


def policy_actor(policy: GoalPolicy, generator: torch.Generator, sample: bool) -> Actor:
    """The policy acting as `train-rl --low-level-actions` executes it."""
    def act(observation: np.ndarray, goal: np.ndarray) -> np.ndarray:
        states = policy.features(observation[None])
        return policy.act(states, goal[None], sample, generator)[0].numpy()

    return act


def zero_actor(observation: np.ndarray, goal: np.ndarray) -> np.ndarray:
    return np.zeros(N_ACTION)


def rollout(env: KitchenEnv, actor: Actor, episodes: Episodes, row: int, goal: np.ndarray,
            steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Restore dataset state `row`, act `steps` steps; observations and true qpos, (steps+1, .)."""
    qvel = np.zeros(env.model.nv) if episodes.qvel is None else episodes.qvel[row]
    observations = [env.set_state(episodes.qpos[row], qvel)]
    qpos = [env.data.qpos.copy()]
    for _ in range(steps):
        observations.append(env.step(actor(observations[-1], goal))[0])
        qpos.append(env.data.qpos.copy())
    return np.array(observations), np.array(qpos)


def held_out_rows(episodes: Episodes, held_out: np.ndarray, last_offset: int) -> np.ndarray:
    """State rows of held-out episodes with at least `last_offset` states after them."""
    starts = episodes.state_starts
    return np.concatenate([
        starts[e] + np.arange(max(int(episodes.lengths[e]) + 1 - last_offset, 0))
        for e in held_out])


def reach_starts(episodes: Episodes, held_out: np.ndarray, horizon: int, count: int,
                 rng: np.random.Generator) -> np.ndarray:
    candidates = held_out_rows(episodes, held_out, horizon)
    if len(candidates) == 0:
        raise PtgmError(f"no held-out episode is longer than {horizon} steps; lower --horizon")
    return np.sort(rng.choice(candidates, size=min(count, len(candidates)), replace=False))


def goal_distance_ratios(env: KitchenEnv, actor: Actor, episodes: Episodes, codebook: Codebook,
                         starts: np.ndarray, horizon: int, bar) -> np.ndarray:
    """Final over initial distance to goal(s_{t+horizon}), per start state."""
    goals = codebook.goals_of(episodes.qpos_states()[starts + horizon])
    ratios = np.empty(len(starts))
    for index, (row, goal) in enumerate(zip(starts, goals, strict=True)):
        observations, _ = rollout(env, actor, episodes, int(row), goal, horizon)
        reached = codebook.standardise(codebook.goals_of(qpos_state_from_obs(observations)))
        distances = np.linalg.norm(reached[[0, -1]] - codebook.standardise(goal), axis=-1)
        ratios[index] = distances[1] / max(distances[0], 1e-8)
        bar.advance(1)
    return ratios


def subtask_trials(episodes: Episodes, held_out: np.ndarray, codebook: Codebook, count: int,
                   rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per subtask the codebook can command: (start rows, commanded codes) of `count` trials.

    A trial starts 10-20 steps before the subtask first completes in a held-out episode and
    commands, of the codes in which the subtask is done, the one nearest (euclidean,
    standardised) to the goal of that completed state. Nearest among all codes would often be a
    code just short of completion: the state where a subtask first completes lies on the
    completion threshold.
    """
    completed, qpos_states = episodes.completed, episodes.qpos_states()
    trials = {}
    for task, code_done in codebook.subtasks_done().items():
        done_codes = np.flatnonzero(code_done)
        if len(done_codes) == 0:
            report.warn(f"no code of the codebook has {task} done; its test is skipped")
            continue
        column = SUBTASKS.index(task)
        events = []
        for episode in held_out:
            rows, _ = episodes.episode_slices(int(episode))
            done = completed[rows, column]
            if not done[0] and done.any():
                events.append(rows.start + int(np.argmax(done)))
        if not events:
            continue
        chosen = rng.choice(np.array(events), size=count)
        leads = rng.integers(LEAD_STEPS[0], LEAD_STEPS[1] + 1, size=count)
        episode_starts = episodes.state_starts[np.searchsorted(episodes.state_starts, chosen,
                                                               side="right") - 1]
        starts = np.maximum(chosen - leads, episode_starts)
        done_codebook = dataclasses.replace(codebook, codes=codebook.codes[done_codes])
        nearest = done_codebook.assign(codebook.goals_of(qpos_states[chosen]), "euclidean")
        trials[task] = (starts, done_codes[nearest])
    return trials


def subtask_completions(env: KitchenEnv, actor: Actor, episodes: Episodes, codebook: Codebook,
                        starts: np.ndarray, codes: np.ndarray, task: str, steps: int,
                        bar) -> np.ndarray:
    """Whether the subtask is done at any step of each trial, (trials,) bool."""
    done = np.empty(len(starts), dtype=bool)
    for index, (row, code) in enumerate(zip(starts, codes, strict=True)):
        _, qpos = rollout(env, actor, episodes, int(row), codebook.codes[code], steps)
        done[index] = subtask_done(qpos, task).any()
        bar.advance(1)
    return done


def summarise(ratios: dict[str, np.ndarray], completions: dict[str, dict[str, np.ndarray]],
              trials: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    metrics = {}
    for label, prefix in (("policy", ""), ("zero action", "zero_action_")):
        q1, median, q3 = np.percentile(ratios[label], [25, 50, 75])
        metrics |= {f"{prefix}ratio_median": median, f"{prefix}ratio_q1": q1,
                    f"{prefix}ratio_q3": q3}
    for label, prefix in (("policy", ""), ("zero action", "zero_action_")):
        metrics[f"{prefix}subtask_success"] = {
            task: float(done.mean()) for task, done in completions[label].items()}
    metrics["commanded_codes"] = {task: sorted(set(codes.tolist()))
                                  for task, (_, codes) in trials.items()}
    metrics["states"] = len(ratios["policy"])
    return metrics


def _table(config: EvalPolicyConfig, metrics: dict, trials: dict) -> Table:
    table = Table(title=f"eval-policy {config.policy!r}")
    for column in ("test", "policy", "zero action"):
        table.add_column(column, justify="right" if column != "test" else "left")

    def ratio(prefix: str) -> str:
        return (f"{metrics[prefix + 'ratio_median']:.3f} ({metrics[prefix + 'ratio_q1']:.2f}-"
                f"{metrics[prefix + 'ratio_q3']:.2f})")

    table.add_row(f"goal distance ratio after {config.horizon} steps, median (quartiles), "
                  f"{metrics['states']} states", ratio(""), ratio("zero_action_"))
    for task in trials:
        table.add_row(
            f"{task} done within {config.subtask_steps} steps ({config.subtask_trials} trials)",
            f"{metrics['subtask_success'][task]:.0%}",
            f"{metrics['zero_action_subtask_success'][task]:.0%}")
    rollouts = metrics.get("prior_rollouts")
    if rollouts is not None:
        for task, rate in rollouts["success"].items():
            table.add_row(f"{task} done by the prior's codes from reset ({rollouts['episodes']} "
                          f"episodes of {config.episode_steps} steps)", f"{rate:.0%}", "")
    return table
