"""`ptgm train-prior`: the goal prior p(code | s), a classifier over the codebook (PTGM §4.3).

The label of a state s_t is the code nearest to goal(s_{t+h}), h = min_horizon..horizon (1..10 by
default), in the codebook's standardised goal space (see `Codebook.assign` for why cosine is taken
after standardising).
"""

from __future__ import annotations

import numpy as np
import torch

from ptgm_cli import report
from ptgm_cli.artifacts import load_codebook, load_dataset
from ptgm_cli.configs import TrainPriorConfig
from ptgm_cli.data.goal_pairs import split_goal_pairs
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.models.features import feature_names, state_features
from ptgm_cli.models.mlp import check_finite, save_weights
from ptgm_cli.models.prior import PRIOR_FILE, GoalPrior, classification
from ptgm_cli.models.training import FitSettings, fit, gathered, resolve_device, seed_everything
from ptgm_cli.workspace import Artifact, Workspace


def preflight(config: TrainPriorConfig) -> None:
    """Checks of this machine, made before anything is written."""
    resolve_device(config.device)


def run(config: TrainPriorConfig, workspace: Workspace, force: bool = False) -> Artifact:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    episodes, dataset = load_dataset(workspace, config.dataset)
    codebook, codebook_artifact = load_codebook(workspace, config.codebook)
    pairs = split_goal_pairs(episodes, config.validation_fraction, config.seed, config.horizon,
                             config.min_horizon)
    states = torch.from_numpy(state_features(episodes.observations, config.state_features))
    labels = torch.from_numpy(
        codebook.assign(codebook.goals_of(episodes.qpos_states()), config.assign))

    def examples(side):
        return gathered((states, side.state_rows), (labels, side.goal_rows))

    prior = GoalPrior(config.state_features, codebook.n_codes, config.hidden)
    prior.mlp.fit_input_normalisation(states[np.unique(pairs.train.state_rows)])
    manifest = Manifest(
        kind="prior", name=config.name, parents=[dataset.ref, codebook_artifact.ref],
        config=config.model_dump(mode="json"), seed=config.seed,
        shapes=Shapes(state_names=feature_names(config.state_features),
                      goal_names=codebook.goal_names, goal_indices=list(codebook.goal_indices),
                      n_codes=codebook.n_codes),
    )
    with workspace.publish(manifest, overwrite=force) as staging, \
            report.progress_callback("train-prior") as on_progress:
        result = fit(prior, classification, examples(pairs.train), examples(pairs.validation),
                     FitSettings(config.epochs, config.batch_size, config.lr, config.seed),
                     staging.path, "train-prior", on_progress, device)
        check_finite(prior.state_dict(), f"prior {config.name!r}: its weights", "lower --lr")
        save_weights(prior, staging.file(PRIOR_FILE))
        validation_labels = labels[pairs.validation.goal_rows].numpy()
        staging.manifest.metrics = {
            "validation_top1": result.validation["top1"],
            "validation_top5": result.validation["top5"],
            "validation_cross_entropy": result.validation["loss"],
            "validation_majority_code_rate": float(
                np.bincount(validation_labels).max() / len(validation_labels)),
            "codes_used_as_labels": int(len(np.unique(labels[pairs.train.goal_rows]))),
            "best_epoch": result.best_epoch,
            "device": device.type,
            **pairs.manifest_metrics(),
        }
        staging.manifest.timings = result.timings
    report.fit_summary(f"prior {config.name!r}", result, {
        "validation top-1": "top1", "validation top-5": "top5", "validation CE": "loss"})
    return workspace.load("prior", config.name)
