"""`ptgm train-skills`: SPiRL's skill model (Pertsch et al. 2020) on a dataset, the pre-training
of the SPiRL and SPiRL-cl baselines (`models/skills.py`).

Every window of `skill_length` actions in the training episodes is a skill; the episodes are
split as for the other models, and validation episodes never give training segments.
"""

from __future__ import annotations

import torch

from ptgm_cli import report
from ptgm_cli.artifacts import load_dataset
from ptgm_cli.configs import TrainSkillsConfig
from ptgm_cli.data.goal_pairs import split_episodes
from ptgm_cli.data.skill_segments import skill_segments
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.models.features import feature_names, state_features
from ptgm_cli.models.mlp import check_finite, save_weights
from ptgm_cli.models.skills import SKILLS_FILE, SkillModel, skill_objective
from ptgm_cli.models.training import FitSettings, fit, gathered, resolve_device, seed_everything
from ptgm_cli.workspace import Artifact, Workspace


def preflight(config: TrainSkillsConfig) -> None:
    """Checks of this machine, made before anything is written."""
    resolve_device(config.device)


def run(config: TrainSkillsConfig, workspace: Workspace, force: bool = False) -> Artifact:
    device = resolve_device(config.device)
    seed_everything(config.seed)
    episodes, dataset = load_dataset(workspace, config.dataset)
    split = split_episodes(episodes.n_episodes, config.validation_fraction, config.seed)
    train = skill_segments(episodes, split.train, config.skill_length)
    validation = skill_segments(episodes, split.validation, config.skill_length)
    if not len(train) or not len(validation):
        raise PtgmError(f"dataset {config.dataset!r} has no {config.skill_length}-step segment "
                        "in its training or validation episodes; lower --skill-length")
    states = torch.from_numpy(state_features(episodes.observations, config.state_features))
    actions = torch.from_numpy(episodes.actions.astype("float32"))

    def examples(segments):
        return gathered((states, segments.state_rows), (actions, segments.action_rows))

    model = SkillModel(config.state_features, N_ACTION, config.skill_length,
                       config.latent_dim, config.hidden, config.decoder == "closed-loop")
    model.fit_state_normalisation(states[train.state_rows[:, 0]])
    manifest = Manifest(
        kind="skills", name=config.name, parents=[dataset.ref],
        config=config.model_dump(mode="json"), seed=config.seed,
        shapes=Shapes(state_names=feature_names(config.state_features), action_dim=N_ACTION,
                      skill_length=config.skill_length, latent_dim=config.latent_dim),
    )
    with workspace.publish(manifest, overwrite=force) as staging, \
            report.progress_callback("train-skills") as on_progress:
        result = fit(model, lambda m, batch: skill_objective(m, batch, config.beta),
                     examples(train), examples(validation),
                     FitSettings(config.epochs, config.batch_size, config.lr, config.seed),
                     staging.path, "train-skills", on_progress, device)
        check_finite(model.state_dict(), f"skills {config.name!r}: their weights", "lower --lr")
        save_weights(model, staging.file(SKILLS_FILE))
        staging.manifest.metrics = {
            "validation_action_mse": result.validation["action_mse"],
            "validation_kl": result.validation["kl"],
            "validation_prior_kl": result.validation["prior_kl"],
            "validation_loss": result.validation["loss"],
            "best_epoch": result.best_epoch,
            "device": device.type,
            "train_segments": len(train), "validation_segments": len(validation),
            "split": {"seed": config.seed, "validation_episodes": split.validation.tolist()},
        }
        staging.manifest.timings = result.timings
    report.fit_summary(f"skills {config.name!r}", result, {
        "validation action MSE": "action_mse", "validation KL(q || N(0, I))": "kl",
        "validation KL(q || prior)": "prior_kl"})
    return workspace.load("skills", config.name)
