import numpy as np
import pytest

from ptgm_cli.kitchen.env import INIT_QPOS, KitchenEnv
from ptgm_cli.kitchen.tasks import (
    SUBTASKS,
    check_subtask_names,
    completed_mask,
    subtask_done,
)


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_subtask_done_on_hand_set_states(subtask, state_with):
    assert not subtask_done(INIT_QPOS, subtask)
    assert subtask_done(state_with(subtask), subtask)
    assert subtask_done(state_with(subtask, 0.29), subtask)
    assert not subtask_done(state_with(subtask, 0.31), subtask)
    mask = completed_mask(state_with(subtask))
    assert mask.tolist() == [name == subtask for name in SUBTASKS]


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_subtask_done_in_the_simulator(subtask, state_with):
    """A goal state set in the real simulator still counts after a zero-ish step of physics."""
    env = KitchenEnv(tasks=[subtask])
    env.reset(seed=0)
    env.set_state(state_with(subtask), np.zeros(env.model.nv))
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert reward == 1.0 and terminated and info["completed"] == [subtask]


def test_unknown_subtask_is_rejected():
    with pytest.raises(ValueError, match="unknown subtask"):
        check_subtask_names(["microwave", "toaster"])
