"""What the stages' tests share beyond the root conftest."""

import pytest


@pytest.fixture(scope="session")
def tiny_rl_options() -> tuple[str, ...]:
    """`ptgm train-rl` options for a run of a few seconds."""
    return ("--env-steps", "300", "--warmup-transitions", "10", "--batch-size", "16",
            "--num-envs", "2", "--episode-steps", "50", "--hidden", "32",
            "--checkpoint-every", "100", "--eval-every", "150", "--eval-episodes", "2")
