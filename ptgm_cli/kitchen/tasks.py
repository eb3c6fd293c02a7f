"""The 7 kitchen subtasks and their completion, computed from the 30-dim qpos state.

Completion is computed here rather than read from the simulator wrapper: the wrapper knows no
order and earlier releases did not reset its task list between episodes.
"""

from __future__ import annotations

import numpy as np

SUBTASKS = (
    "microwave", "kettle", "bottom burner", "top burner", "light switch", "slide cabinet",
    "hinge cabinet",
)
# The paper's downstream task, in its required order.
DOWNSTREAM_TASKS = ("microwave", "kettle", "bottom burner", "light switch")

SUBTASK_QPOS_INDICES: dict[str, tuple[int, ...]] = {
    "bottom burner": (11, 12),
    "top burner": (15, 16),
    "light switch": (17, 18),
    "slide cabinet": (19,),
    "hinge cabinet": (20, 21),
    "microwave": (22,),
    "kettle": (23, 24, 25, 26, 27, 28, 29),
}
SUBTASK_GOALS: dict[str, np.ndarray] = {
    "bottom burner": np.array([-0.88, -0.01]),
    "top burner": np.array([-0.92, -0.01]),
    "light switch": np.array([-0.69, -0.05]),
    "slide cabinet": np.array([0.37]),
    "hinge cabinet": np.array([0.0, 1.45]),
    "microwave": np.array([-0.75]),
    "kettle": np.array([-0.23, 0.75, 1.62, 0.99, 0.0, 0.0, -0.06]),
}
COMPLETION_THRESHOLD = 0.3


def check_subtask_names(names) -> tuple[str, ...]:
    """Validate subtask names; raises ValueError naming the valid ones."""
    unknown = [name for name in names if name not in SUBTASKS]
    if unknown:
        raise ValueError(f"unknown subtask(s) {unknown}; choose from {list(SUBTASKS)}")
    return tuple(names)


def subtask_distance(qpos: np.ndarray, subtask: str) -> np.ndarray:
    """L2 distance of the subtask's object joints to their goal values (any leading shape)."""
    values = qpos[..., list(SUBTASK_QPOS_INDICES[subtask])]
    return np.linalg.norm(values - SUBTASK_GOALS[subtask], axis=-1)


def subtask_done(qpos: np.ndarray, subtask: str) -> np.ndarray | bool:
    """True where the subtask's objects are within 0.3 (L2) of their goal (DESIGN.md §1)."""
    return subtask_distance(qpos, subtask) < COMPLETION_THRESHOLD


def completed_mask(qpos: np.ndarray) -> np.ndarray:
    """Boolean completion of all 7 subtasks, in `SUBTASKS` order, shape (..., 7)."""
    return np.stack([subtask_done(qpos, name) for name in SUBTASKS], axis=-1)
