import numpy as np
import pytest

from ptgm_cli.kitchen.env import INIT_QPOS, KitchenEnv
from ptgm_cli.kitchen.tasks import (
    SUBTASK_GOALS,
    SUBTASK_QPOS_INDICES,
    SUBTASKS,
    check_subtask_names,
    completed_mask,
    subtask_done,
)


def state_with(subtask: str, distance: float = 0.0) -> np.ndarray:
    """The reset state with the subtask's objects at `distance` from their goal, on the line
    from their reset values to the goal."""
    qpos = INIT_QPOS.copy()
    indices = list(SUBTASK_QPOS_INDICES[subtask])
    offset = qpos[indices] - SUBTASK_GOALS[subtask]
    qpos[indices] = SUBTASK_GOALS[subtask] + offset * distance / np.linalg.norm(offset)
    return qpos


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_subtask_done_on_hand_set_states(subtask):
    assert not subtask_done(INIT_QPOS, subtask)
    assert subtask_done(state_with(subtask), subtask)
    assert subtask_done(state_with(subtask, 0.29), subtask)
    assert not subtask_done(state_with(subtask, 0.31), subtask)
    mask = completed_mask(state_with(subtask))
    assert mask.tolist() == [name == subtask for name in SUBTASKS]


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_subtask_done_in_the_simulator(subtask):
    """A goal state set in the real simulator still counts after a zero-ish step of physics."""
    env = KitchenEnv(tasks=[subtask])
    env.reset(seed=0)
    env.set_state(state_with(subtask), np.zeros(env.model.nv))
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert reward == 1.0 and terminated and info["completed"] == [subtask]


def test_unknown_subtask_is_rejected():
    with pytest.raises(ValueError, match="unknown subtask"):
        check_subtask_names(["microwave", "toaster"])
