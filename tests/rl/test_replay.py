import numpy as np
import torch

from ptgm_cli.rl.replay import ReplayBuffer


def fill(buffer: ReplayBuffer, start: int, count: int) -> None:
    values = np.arange(start, start + count, dtype=np.float32)
    buffer.add(np.repeat(values[:, None], 3, 1), values.astype(np.int64), values,
               np.repeat(values[:, None] + 1, 3, 1), np.zeros(count), values, values + 10)


def test_circular_overwrite_keeps_the_newest():
    buffer = ReplayBuffer(5, 3, (), np.int64)
    fill(buffer, 0, 4)
    fill(buffer, 4, 3)
    assert len(buffer) == 5 and buffer.position == 2
    assert sorted(buffer.rewards.tolist()) == [2, 3, 4, 5, 6]


def test_sample_keeps_transitions_together():
    buffer = ReplayBuffer(100, 3, (), np.int64)
    fill(buffer, 0, 50)
    batch = buffer.sample(32, np.random.default_rng(0))
    assert batch.states.shape == (32, 3) and batch.actions.dtype == torch.int64
    assert torch.equal(batch.states[:, 0], batch.rewards)
    assert torch.equal(batch.next_states[:, 0], batch.rewards + 1)
    assert torch.equal(batch.actions.float(), batch.rewards)
    assert torch.equal(batch.steps, batch.rewards) and torch.equal(batch.next_steps,
                                                                  batch.rewards + 10)


def test_state_dict_round_trip():
    buffer = ReplayBuffer(10, 3, (), np.int64)
    fill(buffer, 0, 13)
    copy = ReplayBuffer(10, 3, (), np.int64)
    copy.load_state_dict(buffer.state_dict())
    for replay in (buffer, copy):
        fill(replay, 100, 1)  # both continue from the same position
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert torch.equal(buffer.sample(8, rng_a).rewards, copy.sample(8, rng_b).rewards)
