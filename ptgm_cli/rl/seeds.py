"""Seeds derived from a run's seed, one stream per purpose, so that no two streams overlap and
adding one leaves the others as they were."""

from __future__ import annotations

import numpy as np

# Purposes of derived seeds.
ACTING, LEARNING, REPLAY, EPISODES, EVALUATION, EXECUTING, HEALTH = range(7)


def seed_from(*entropy: int) -> int:
    """A 63-bit seed derived from integers (the run seed and what the seed is for)."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(2, np.uint64)[0] >> 1)


def worker_seeds(seed: int, num_envs: int, purpose: int = EXECUTING) -> list[int]:
    """Seeds of the executors' generators in the env workers (sampled low-level actions)."""
    return [seed_from(seed, purpose, i) for i in range(num_envs)]
