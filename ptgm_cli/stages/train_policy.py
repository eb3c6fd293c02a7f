"""`ptgm train-policy`: behaviour-clone the goal-conditioned low-level policy (PTGM §4.1).

pi(a_t | s_t, g) is fit by maximum likelihood on pairs (s_t, g = goal(s_{t+h})), h = 1..horizon,
with the action a_t taken in s_t. Validation episodes are recorded in the manifest, so that
`ptgm eval-policy` tests on states the policy never saw.
"""

from __future__ import annotations

import numpy as np
import torch

from ptgm_cli import report
from ptgm_cli.artifacts import load_dataset
from ptgm_cli.configs import TrainPolicyConfig
from ptgm_cli.data.goal_pairs import split_goal_pairs
from ptgm_cli.kitchen.layout import N_ACTION, goal_indices, goal_names
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.models.features import feature_names, state_features
from ptgm_cli.models.mlp import check_finite, save_weights
from ptgm_cli.models.policy import POLICY_FILE, GoalPolicy, behaviour_cloning
from ptgm_cli.models.training import FitSettings, fit, gathered, resolve_device, seed_everything
from ptgm_cli.workspace import Artifact, Workspace


def preflight(config: TrainPolicyConfig) -> None:
    """Checks of this machine, made before anything is written."""
    resolve_device(config.device)


def run(config: TrainPolicyConfig, workspace: Workspace, force: bool = False) -> Artifact:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    episodes, dataset = load_dataset(workspace, config.dataset)
    pairs = split_goal_pairs(episodes, config.validation_fraction, config.seed, config.horizon)
    states = torch.from_numpy(state_features(episodes.observations, config.state_features))
    goals = torch.from_numpy(
        episodes.qpos_states()[:, list(goal_indices(config.goal_dims))].astype(np.float32))
    actions = torch.from_numpy(episodes.actions.astype(np.float32))

    def examples(side):
        return gathered((states, side.state_rows), (goals, side.goal_rows),
                        (actions, side.action_rows))

    policy = GoalPolicy(config.state_features, config.goal_dims, config.hidden)
    policy.mlp.fit_input_normalisation(states[np.unique(pairs.train.state_rows)],
                                       goals[np.unique(pairs.train.goal_rows)])
    manifest = Manifest(
        kind="policy", name=config.name, parents=[dataset.ref],
        config=config.model_dump(mode="json"), seed=config.seed,
        shapes=Shapes(state_names=feature_names(config.state_features),
                      goal_names=goal_names(config.goal_dims),
                      goal_indices=list(goal_indices(config.goal_dims)), action_dim=N_ACTION),
    )
    with workspace.publish(manifest, overwrite=force) as staging, \
            report.progress_callback("train-policy") as on_progress:
        result = fit(policy, behaviour_cloning, examples(pairs.train), examples(pairs.validation),
                     FitSettings(config.epochs, config.batch_size, config.lr, config.seed,
                                 config.lr_schedule),
                     staging.path, "train-policy", on_progress, device)
        check_finite(policy.state_dict(), f"policy {config.name!r}: its weights", "lower --lr")
        save_weights(policy, staging.file(POLICY_FILE))
        staging.manifest.metrics = {
            "validation_nll": result.validation["loss"],
            "validation_action_mse": result.validation["action_mse"],
            "best_epoch": result.best_epoch,
            "device": device.type,
            **pairs.manifest_metrics(),
        }
        staging.manifest.timings = result.timings
    report.fit_summary(f"policy {config.name!r}", result, {"validation NLL": "loss",
                                                           "validation action MSE": "action_mse"})
    return workspace.load("policy", config.name)
