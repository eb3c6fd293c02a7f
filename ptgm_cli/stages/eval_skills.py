"""`ptgm eval-skills`: do SPiRL's skills work in the simulator, as `eval-policy` checks PTGM's
low-level policy?

1. reproduction of held-out demonstrations: restore the first state of a segment of the skills'
   validation episodes, encode the segment's actions into z (the posterior's mean) and play the
   decoded skill (closed-loop: an action from each state reached; open-loop: the decoded
   actions); report the final over the initial distance to the segment's last state, in the
   dataset's standardised 30-dim qpos space, next to zero actions and to replaying the
   demonstration's own actions (recorded without the expert's execution noise).
2. the skill prior's rollouts (a health check of the pre-trained skills as a whole): from reset, a
   skill sampled from the skill prior at every skill start, as SPiRL acts before it has learnt
   anything; report how often each subtask gets done, next to zero actions.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import torch
from rich.table import Table

from ptgm_cli import report
from ptgm_cli.artifacts import load_dataset, load_skills
from ptgm_cli.configs import EvalSkillsConfig
from ptgm_cli.data.episodes import Episodes
from ptgm_cli.data.skill_segments import skill_segments
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.kitchen.layout import N_ACTION, qpos_state_from_obs
from ptgm_cli.kitchen.tasks import SUBTASKS
from ptgm_cli.manifests import Manifest
from ptgm_cli.models.mlp import MIN_INPUT_STD
from ptgm_cli.models.skills import SkillModel
from ptgm_cli.models.training import seed_everything
from ptgm_cli.rl.evaluation import PriorSkills, prior_rollouts
from ptgm_cli.rl.hierarchy import flat_options, skill_options
from ptgm_cli.rl.seeds import worker_seeds
from ptgm_cli.workspace import Artifact, Workspace

# (59-dim observation, step of the segment) -> action
SegmentPlayer = Callable[[np.ndarray, int], np.ndarray]
PLAYERS = ("skill", "zero action", "demonstration")
ROLLOUT_ENVS = 2


class ZeroActions:
    """Acts with zero actions, one decision per env step: how far the kitchen gets alone."""

    @staticmethod
    def act(states: np.ndarray, generator: torch.Generator, warmup: bool) -> np.ndarray:
        return np.zeros((len(states), N_ACTION), np.float32)


def run(config: EvalSkillsConfig, workspace: Workspace, force: bool = False) -> Artifact:
    workspace.check_can_publish("eval", config.name, force)
    seed_everything(config.seed)
    model, skills = load_skills(workspace, config.skills)
    episodes, dataset = load_dataset(workspace, config.dataset)
    if skills.manifest.parent("dataset") != dataset.ref:
        raise PtgmError(
            f"skills {config.skills!r} were not trained on dataset {config.dataset!r}, so their "
            f"held-out episodes are unknown there; pass --dataset "
            f"{skills.manifest.parent('dataset').name}")
    held_out = np.array(skills.manifest.metrics["split"]["validation_episodes"])
    segments = skill_segments(episodes, held_out, model.skill_length)
    if not len(segments):
        raise PtgmError(f"no held-out episode of dataset {config.dataset!r} has a "
                        f"{model.skill_length}-step segment to replay")
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.choice(len(segments), min(config.segments, len(segments)),
                                replace=False))
    manifest = Manifest(kind="eval", name=config.name, seed=config.seed,
                        parents=[skills.ref, dataset.ref], config=config.model_dump(mode="json"))
    with workspace.publish(manifest, overwrite=force) as staging:
        env = KitchenEnv(tasks=SUBTASKS, ordered=False, max_episode_steps=None)
        env.reset(seed=config.seed)
        with report.progress(len(chosen), "eval-skills: demonstrations") as bar:
            ratios, action_mse = reproduce_segments(
                env, model, episodes, segments.state_rows[chosen],
                segments.action_rows[chosen], on_segment=lambda: bar.advance(1))
        metrics = {"segments": len(chosen), "action_mse": float(np.mean(action_mse))}
        for player, values in ratios.items():
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            metrics[player] = {"ratio_median": median, "ratio_q1": q1, "ratio_q3": q3}
        if config.prior_episodes:
            metrics["prior_rollouts"], metrics["zero_action_rollouts"] = health_check(
                config, model)
        staging.manifest.metrics = metrics
        staging.file("results.json").write_text(json.dumps({
            "state_rows": segments.state_rows[chosen, 0].tolist(),
            "distance_ratios": {player: values.tolist() for player, values in ratios.items()},
            "action_mse": action_mse.tolist(),
        }))
    report.results.print(_table(config, metrics))
    return workspace.load("eval", config.name)


def reproduce_segments(env: KitchenEnv, model: SkillModel, episodes: Episodes,
                       state_rows: np.ndarray, action_rows: np.ndarray,
                       on_segment: Callable[[], None]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Test 1: per segment and player, the final over the initial distance to the segment's
    last state; and the mean squared difference of the skill's executed actions from the
    demonstration's."""
    qpos_states = episodes.qpos_states()
    scale = np.maximum(qpos_states.std(axis=0), MIN_INPUT_STD)
    ratios = {player: np.empty(len(state_rows)) for player in PLAYERS}
    action_mse = np.empty(len(state_rows))
    for index, (rows, actions) in enumerate(zip(state_rows, action_rows, strict=True)):
        demonstration = episodes.actions[actions]
        players = segment_players(model, episodes, rows, demonstration)
        target = qpos_states[rows[-1]] / scale
        for player, act in players.items():
            reached, executed = play_segment(env, episodes, int(rows[0]), act, len(actions))
            distances = np.linalg.norm(
                np.stack([qpos_states[rows[0]], reached]) / scale - target, axis=-1)
            ratios[player][index] = distances[1] / max(distances[0], 1e-8)
            if player == "skill":
                action_mse[index] = np.mean((executed - demonstration) ** 2)
        on_segment()
    return ratios, action_mse


def segment_players(model: SkillModel, episodes: Episodes, rows: np.ndarray,
                    demonstration: np.ndarray) -> dict[str, SegmentPlayer]:
    """Who plays a demonstration segment: its decoded skill, zero actions, its own actions."""
    return {"skill": skill_player(model, episodes, rows, demonstration),
            "zero action": lambda observation, step: np.zeros(N_ACTION),
            "demonstration": lambda observation, step: demonstration[step]}


@torch.no_grad()
def skill_player(model: SkillModel, episodes: Episodes, rows: np.ndarray,
                 actions: np.ndarray) -> SegmentPlayer:
    """The decoded skill of a demonstration segment, z being the posterior's mean."""
    states = torch.from_numpy(model.features(episodes.observations[rows]))[None]
    latent, _ = model.posterior(states, torch.from_numpy(actions.astype(np.float32))[None])
    if not model.closed_loop:
        plan = model.decode(latent)[0].numpy()
        return lambda observation, step: plan[step]

    def act(observation: np.ndarray, step: int) -> np.ndarray:
        with torch.no_grad():
            state = torch.from_numpy(model.features(observation[None]))
            return model.decode_step(state, latent)[0].numpy()
    return act


def play_segment(env: KitchenEnv, episodes: Episodes, row: int, act: SegmentPlayer,
                 steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Restore dataset state `row` and act `steps` steps: the 30-dim qpos state reached and the
    actions taken."""
    qvel = np.zeros(env.model.nv) if episodes.qvel is None else episodes.qvel[row]
    observation = env.set_state(episodes.qpos[row], qvel)
    executed = []
    for step in range(steps):
        executed.append(np.asarray(act(observation, step), np.float64))
        observation = env.step(executed[-1])[0]
    return qpos_state_from_obs(observation), np.array(executed)


def health_check(config: EvalSkillsConfig, model: SkillModel) -> tuple[dict, dict]:
    """Test 2: the skill prior's rollouts from reset (`rl.evaluation.prior_rollouts`), and zero
    actions in the same episodes."""
    seeds = worker_seeds(config.seed, ROLLOUT_ENVS)
    results = []
    for label, options, actor in (
            ("prior's skills", skill_options(model), PriorSkills(model.prior)),
            ("zero actions", flat_options(N_ACTION), ZeroActions())):
        with report.progress(config.prior_episodes, f"eval-skills: {label} from reset") as bar:
            results.append(prior_rollouts(options, actor, config.prior_episodes,
                                          config.episode_steps, seeds, config.seed,
                                          on_episode=lambda: bar.advance(1)))
    return results[0], results[1]


def _table(config: EvalSkillsConfig, metrics: dict) -> Table:
    table = Table(title=f"eval-skills {config.skills!r}", caption=(
        f"reproduction: {metrics['segments']} held-out segments, final over initial distance "
        "to the segment's end, median (quartiles); from reset: "
        f"{config.prior_episodes} episodes of {config.episode_steps} steps, a skill sampled "
        "from the skill prior at every skill start"))
    for column in ("test", *PLAYERS):
        table.add_column(column, justify="right" if column != "test" else "left")
    table.add_row(
        "reproduction: distance ratio",
        *(f"{metrics[p]['ratio_median']:.3f} ({metrics[p]['ratio_q1']:.2f}-"
          f"{metrics[p]['ratio_q3']:.2f})" for p in PLAYERS))
    table.add_row("reproduction: action squared error", f"{metrics['action_mse']:.4f}", "", "")
    rollouts = metrics.get("prior_rollouts")
    if rollouts is not None:
        zero = metrics["zero_action_rollouts"]
        for task, rate in rollouts["success"].items():
            table.add_row(f"from reset: {task}", f"{rate:.0%}", f"{zero['success'][task]:.0%}",
                          "")
    return table
