"""`ptgm fetch-data`: make (scripted expert) or load (Minari, D4RL) a dataset artifact."""

from __future__ import annotations

import time
from collections import Counter

from rich.table import Table

from ptgm_cli import report
from ptgm_cli.configs import FetchDataConfig
from ptgm_cli.data.episodes import Episodes, write_episodes
from ptgm_cli.data.statistics import dataset_statistics
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, QPOS_NAMES
from ptgm_cli.kitchen.tasks import SUBTASKS
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.workspace import Artifact, Workspace


def run(config: FetchDataConfig, workspace: Workspace, force: bool = False) -> Artifact:
    workspace.check_can_publish("dataset", config.name, force)
    started = time.perf_counter()
    metrics: dict = {"source": config.source}
    if config.source == "scripted":
        episodes, metrics["scripted"] = scripted_dataset(config)
    elif config.source == "minari":
        from ptgm_cli.data.minari_source import load_minari

        episodes = load_minari(config.dataset_id, config.path, info=report.info)
    else:
        if config.path is None and config.url is None:
            raise PtgmError("--source d4rl needs --path FILE.hdf5 or --url URL")
        from ptgm_cli.data.d4rl_source import load_d4rl

        episodes = load_d4rl(config.path, config.url, info=report.info, warn=report.warn)
    elapsed = time.perf_counter() - started
    metrics.update(dataset_statistics(episodes))
    manifest = Manifest(
        kind="dataset", name=config.name, config=config.model_dump(mode="json"),
        shapes=Shapes(state_names=list(QPOS_NAMES), action_dim=N_ACTION),
        seed=config.seed if config.source == "scripted" else None,
        metrics=metrics,
        timings={"fetch_s": round(elapsed, 2),
                 "steps_per_s": round(episodes.n_steps / max(elapsed, 1e-9), 1)},
    )
    with workspace.publish(manifest, overwrite=force) as staging:
        write_episodes(staging.file("episodes.h5"), episodes, attrs={"source": config.source})
    report.results.print(summary_table(config.name, metrics))
    return workspace.load("dataset", config.name)


def scripted_dataset(config: FetchDataConfig) -> tuple[Episodes, dict]:
    """Generate episodes with the scripted expert; keep failed ones only if asked."""
    from ptgm_cli.data.scripted_source import generate_scripted

    kept, attempts, successes, skill_steps = [], Counter(), Counter(), Counter()
    generated = generate_scripted(
        config.episodes, config.seed, config.workers, config.subtasks_per_episode,
        config.allow_downstream_sequence, config.max_skill_steps, config.action_noise,
    )
    with report.progress(config.episodes, "scripted episodes") as bar:
        for episode in generated:
            for subtask, success, steps in episode.attempts:
                attempts[subtask] += 1
                successes[subtask] += success
                skill_steps[subtask] += steps
            if episode.succeeded or config.keep_failures:
                kept.append(episode.episodes)
            rate = sum(successes.values()) / max(sum(attempts.values()), 1)
            bar.advance(1, skill_success=rate)
    if not kept:
        raise PtgmError("every scripted episode had a failed skill; nothing to keep "
                        "(pass --keep-failures to keep them anyway)")
    skills = {
        task: {"attempts": attempts[task], "successes": successes[task],
               "success_rate": round(successes[task] / attempts[task], 4) if attempts[task]
               else None,
               "mean_steps": round(skill_steps[task] / attempts[task], 1) if attempts[task]
               else None}
        for task in SUBTASKS
    }
    return Episodes.concatenate(kept), {
        "episodes_generated": config.episodes,
        "episodes_kept": len(kept),
        "skills": skills,
    }


def summary_table(name: str, metrics: dict) -> Table:
    table = Table(title=f"dataset {name!r}: {metrics['episodes']} episodes, "
                        f"{metrics['steps']} steps ({metrics['source']})")
    table.add_column("subtask")
    table.add_column("in episodes", justify="right")
    skills = metrics.get("scripted", {}).get("skills")
    if skills:
        for column in ("skill attempts", "successes", "success rate", "mean steps"):
            table.add_column(column, justify="right")
    for task in SUBTASKS:
        row = [task, f"{metrics['subtask_episode_fraction'][task]:.1%}"]
        if skills:
            skill = skills[task]
            rate = skill["success_rate"]
            row += [str(skill["attempts"]), str(skill["successes"]),
                    "-" if rate is None else f"{rate:.1%}", str(skill["mean_steps"] or "-")]
        table.add_row(*row)
    return table


def order_table(metrics: dict) -> Table:
    """How often each subtask is done first, second, third, fourth."""
    positions = metrics["subtask_at_position"]
    table = Table(title=f"completion order ({metrics['subtasks_per_episode']} subtasks per "
                        f"episode on average)")
    table.add_column("subtask")
    for k in range(len(positions)):
        table.add_column(f"#{k + 1}", justify="right")
    for task in SUBTASKS:
        table.add_row(task, *(str(counts.get(task, 0)) for counts in positions))
    return table


def sequences_table(metrics: dict) -> Table:
    table = Table(title="commonest completion sequences")
    table.add_column("episodes", justify="right")
    table.add_column("sequence")
    for entry in metrics["top_sequences"]:
        table.add_row(str(entry["episodes"]), " -> ".join(entry["sequence"]))
    return table
