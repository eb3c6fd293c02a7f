"""What a dataset covers: subtask frequencies and the order in which subtasks get done.

Computed from the states themselves, so the figures mean the same for every source.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ptgm_cli.data.episodes import Episodes
from ptgm_cli.kitchen.tasks import SUBTASKS


def completion_orders(episodes: Episodes) -> list[tuple[str, ...]]:
    """Per episode, the subtasks newly done during the episode, in order of first completion.

    Subtasks already done in the first state do not count.
    """
    completed = episodes.completed
    orders = []
    for episode in range(episodes.n_episodes):
        states, _ = episodes.episode_slices(episode)
        done = completed[states]
        first_step = {}
        for task_index, task in enumerate(SUBTASKS):
            steps = np.flatnonzero(done[:, task_index])
            if len(steps) and not done[0, task_index]:
                first_step[task] = int(steps[0])
        orders.append(tuple(sorted(first_step, key=first_step.get)))
    return orders


def dataset_statistics(episodes: Episodes, top_sequences: int = 5) -> dict:
    orders = completion_orders(episodes)
    n = episodes.n_episodes
    frequency = Counter(task for order in orders for task in order)
    by_position = [Counter(order[k] for order in orders if len(order) > k) for k in range(4)]
    return {
        "episodes": n,
        "steps": episodes.n_steps,
        "mean_episode_steps": round(episodes.n_steps / n, 1),
        "subtasks_per_episode": round(sum(map(len, orders)) / n, 3),
        "subtask_episode_fraction": {task: round(frequency[task] / n, 4) for task in SUBTASKS},
        "subtask_at_position": [
            {task: counts[task] for task in SUBTASKS if counts[task]} for counts in by_position
        ],
        "top_sequences": [
            {"sequence": list(order), "episodes": count}
            for order, count in Counter(orders).most_common(top_sequences)
        ],
    }
