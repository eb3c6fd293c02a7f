"""Training samples/s of the low-level policy and the goal prior, as JSON.

Both models run the project's own train loop (`training.fit`: minibatch gathering, RAdam step,
BatchNorm) at their default width and batch size, on random inputs of the real shapes, with
torch on every core. The projection is the time the default epochs take on a dataset of
`--episodes` x `--length` steps (every state paired with the goals 1..horizon steps ahead).
`ptgm` runs with OMP_WAIT_POLICY=PASSIVE; run this as `OMP_WAIT_POLICY=PASSIVE python
bench/pretrain.py` for matching figures (on a busy machine spinning threads are ~20x slower).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch

from ptgm_cli.configs import TrainPolicyConfig, TrainPriorConfig
from ptgm_cli.machine import cpu_count
from ptgm_cli.models.policy import GoalPolicy, behaviour_cloning
from ptgm_cli.models.prior import GoalPrior, classification
from ptgm_cli.models.training import Examples, FitSettings, fit, seed_everything


def random_examples(size: int, *makers) -> Examples:
    tensors = [make(size) for make in makers]
    return Examples(size, lambda rows: tuple(tensor[rows] for tensor in tensors))


def samples_per_second(model, objective, makers, steps: int, batch_size: int) -> float:
    settings = FitSettings(epochs=1, batch_size=batch_size, lr=1e-3, seed=0)
    train = random_examples(steps * batch_size, *makers)
    validation = random_examples(batch_size, *makers)
    with tempfile.TemporaryDirectory() as log_dir:
        result = fit(model, objective, train, validation, settings, Path(log_dir), "bench")
    return result.samples_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3000, help="Gradient steps per model.")
    parser.add_argument("--episodes", type=int, default=600, help="Episodes of the projection.")
    parser.add_argument("--length", type=int, default=500, help="Steps per projected episode.")
    args = parser.parse_args()
    seed_everything(0)

    policy_config, prior_config = TrainPolicyConfig(), TrainPriorConfig()
    n_codes = 50
    policy = GoalPolicy(policy_config.state_features, policy_config.goal_dims,
                        policy_config.hidden)
    prior = GoalPrior(prior_config.state_features, n_codes, prior_config.hidden)
    rates = {
        "policy": samples_per_second(
            policy, behaviour_cloning,
            (lambda n: torch.randn(n, policy.state_dim), lambda n: torch.randn(n, policy.goal_dim),
             lambda n: torch.rand(n, 9) * 2 - 1),
            args.steps, policy_config.batch_size),
        "prior": samples_per_second(
            prior, classification,
            (lambda n: torch.randn(n, prior.state_dim), lambda n: torch.randint(n_codes, (n,))),
            args.steps, prior_config.batch_size),
    }
    minutes = {}
    for label, config in (("policy", policy_config), ("prior", prior_config)):
        pairs = args.episodes * sum(args.length - h + 1 for h in range(1, config.horizon + 1))
        train_pairs = pairs * (1 - config.validation_fraction)
        minutes[label] = config.epochs * train_pairs / rates[label] / 60
    print(json.dumps({
        "torch_threads": torch.get_num_threads(), "cores": cpu_count(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "samples_per_s": {label: round(rate) for label, rate in rates.items()},
        "projected_minutes": {
            "dataset": f"{args.episodes} episodes x {args.length} steps",
            "epochs": {"policy": policy_config.epochs, "prior": prior_config.epochs},
            **{label: round(value, 1) for label, value in minutes.items()},
            "total": round(sum(minutes.values()), 1),
        },
    }, indent=2))


if __name__ == "__main__":
    main()
