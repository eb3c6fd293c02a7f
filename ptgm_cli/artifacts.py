"""Published artifacts as library objects: every model and dataset a stage reads from the workspace
is loaded here, with the checks that it fits this code and the artifacts it is used with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import torch
from pydantic import ValidationError

from ptgm_cli.config import StageConfig
from ptgm_cli.configs import (
    BuildCodebookConfig,
    TrainPolicyConfig,
    TrainPriorConfig,
    TrainRLConfig,
    TrainSkillsConfig,
)
from ptgm_cli.data.episodes import Episodes, read_episodes
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, QPOS_NAMES, goal_indices
from ptgm_cli.manifests import ParentRef
from ptgm_cli.models.codebook import CODEBOOK_FILE, Codebook
from ptgm_cli.models.features import check_state_names, feature_names
from ptgm_cli.models.mlp import (
    load_weights,
    non_finite,
    read_tensors,
    short_list,
    weight_mismatches,
)
from ptgm_cli.models.policy import POLICY_FILE, GoalPolicy
from ptgm_cli.models.prior import PRIOR_FILE, GoalPrior
from ptgm_cli.models.skills import SKILLS_FILE, SkillModel
from ptgm_cli.rl.agent import SACAgent
from ptgm_cli.rl.checkpoint import WEIGHTS_FILE
from ptgm_cli.workspace import PRODUCER, Artifact, Workspace

Config = TypeVar("Config", bound=StageConfig)


@dataclass(frozen=True)
class PublishedCodebook(Codebook):
    """A codebook loaded from the workspace; `ref` pins its artifact, so that a prior can be
    checked to have been trained on it."""

    ref: ParentRef


def load_dataset(workspace: Workspace, name: str) -> tuple[Episodes, Artifact]:
    """A dataset artifact's episodes, refused unless its states are the 30-dim qpos layout."""
    dataset = workspace.load("dataset", name)
    check_state_names(
        "dataset", name, dataset.manifest.shapes.state_names, list(QPOS_NAMES),
        f"re-create it with `ptgm fetch-data --name {name} --force`",
    )
    return read_episodes(dataset.file("episodes.h5")), dataset


def load_codebook(workspace: Workspace, name: str) -> tuple[PublishedCodebook, Artifact]:
    """A codebook whose arrays agree with each other and with its manifest."""
    artifact = workspace.load("codebook", name)
    config, fix = recorded_config(artifact, BuildCodebookConfig), recreate(artifact)
    path = artifact.file(CODEBOOK_FILE)
    tensors = read_tensors(path, fix)
    goal_dim = len(goal_indices(config.goal_dims))
    expected = {"codes": torch.empty(config.n_codes, goal_dim), "goal_mean": torch.empty(goal_dim),
                "goal_std": torch.empty(goal_dim),
                "goal_indices": torch.empty(goal_dim, dtype=torch.int64)}
    problems = weight_mismatches(expected, tensors) + [
        f"{key} is not finite" for key in non_finite(tensors)]
    if problems:
        raise PtgmError(f"{path} does not fit the codebook its manifest describes "
                        f"({short_list(problems)}); {fix}")
    if tuple(tensors["goal_indices"].tolist()) != goal_indices(config.goal_dims):
        raise PtgmError(f"codebook {name!r} holds goal dims that are not preset "
                        f"{config.goal_dims!r} of this ptgm; {fix}")
    if (tensors["goal_std"] <= 0).any():
        raise PtgmError(f"codebook {name!r} holds a goal std that is not positive; {fix}")
    codebook = PublishedCodebook(tensors["codes"].numpy(), config.goal_dims,
                                 tensors["goal_mean"].numpy(), tensors["goal_std"].numpy(),
                                 ref=artifact.ref)
    return codebook, artifact


def load_policy(workspace: Workspace, name: str,
                codebook: Codebook | None = None) -> tuple[GoalPolicy, Artifact]:
    """A trained policy in eval mode; given a codebook, refuse one with other goal dims."""
    artifact = workspace.load("policy", name)
    config, shapes = recorded_config(artifact, TrainPolicyConfig), artifact.manifest.shapes
    fix = f"retrain it with `ptgm train-policy --name {name} --force`"
    policy = GoalPolicy(config.state_features, config.goal_dims, config.hidden)
    check_state_names("policy", name, shapes.state_names, feature_names(policy.state_features),
                      fix)
    if shapes.goal_indices != list(goal_indices(policy.goal_dims)):
        raise PtgmError(f"policy {name!r} records goal dims that are not preset "
                        f"{policy.goal_dims!r} of this ptgm; {fix}")
    load_weights(policy, artifact.file(POLICY_FILE), fix)
    if codebook is not None:
        policy.check_goal_dims(codebook, _codebook_name(codebook))
    return policy, artifact


def load_prior(workspace: Workspace, name: str,
               codebook: Codebook | None = None) -> tuple[GoalPrior, Artifact]:
    """A trained prior in eval mode; given a codebook, check it is the prior's own."""
    artifact = workspace.load("prior", name)
    config, shapes = recorded_config(artifact, TrainPriorConfig), artifact.manifest.shapes
    fix = f"retrain it with `ptgm train-prior --name {name} --force`"
    prior = GoalPrior(config.state_features, shapes.n_codes, config.hidden)
    check_state_names("prior", name, shapes.state_names, feature_names(prior.state_features), fix)
    load_weights(prior, artifact.file(PRIOR_FILE), fix)
    if codebook is not None:
        check_prior_codebook(artifact, codebook)
    return prior, artifact


def load_skills(workspace: Workspace, name: str) -> tuple[SkillModel, Artifact]:
    """A trained skill model in eval mode; its manifest's shapes (state layout, action dim,
    skill length, latent dim) must be those of its config and of this ptgm's kitchen."""
    artifact = workspace.load("skills", name)
    config, shapes = recorded_config(artifact, TrainSkillsConfig), artifact.manifest.shapes
    fix = f"retrain it with `ptgm train-skills --name {name} --force`"
    check_state_names("skills", name, shapes.state_names, feature_names(config.state_features),
                      fix)
    expected = {"action dim": N_ACTION, "skill length": config.skill_length,
                "latent dim": config.latent_dim}
    found = {"action dim": shapes.action_dim, "skill length": shapes.skill_length,
             "latent dim": shapes.latent_dim}
    wrong = [f"{what} {found[what]}, not {value}" for what, value in expected.items()
             if found[what] != value]
    if wrong:
        raise PtgmError(f"skills {name!r} record {', '.join(wrong)}; {fix}")
    model = SkillModel(config.state_features, N_ACTION, config.skill_length, config.latent_dim,
                       config.hidden, config.decoder == "closed-loop")
    load_weights(model, artifact.file(SKILLS_FILE), fix)
    return model, artifact


def load_run_weights(agent: SACAgent, run: Artifact) -> None:
    """A published rl run's weights into the agent `build` made from its recorded config."""
    path, fix = run.file(WEIGHTS_FILE), recreate(run)
    agent.load_weights(read_tensors(path, fix), str(path), fix)


def recorded_config(artifact: Artifact, config_class: type[Config]) -> Config:
    """The config an artifact was made with. Every option that applies must be recorded and
    valid: a default standing in for a missing one would describe another artifact."""
    manifest, fix = artifact.manifest, recreate(artifact)
    try:
        config = config_class.model_validate(manifest.config)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "its options"
        raise PtgmError(f"{manifest.kind} {manifest.name!r}: the config in its manifest is "
                        f"invalid ({where}: {problem['msg']}); {fix}") from None
    options = config.recorded() if isinstance(config, TrainRLConfig) else config.model_fields
    missing = sorted(set(options) - set(manifest.config))
    if missing:
        raise PtgmError(f"{manifest.kind} {manifest.name!r}: its manifest records no "
                        f"{', '.join(missing)}; {fix}")
    return config


def recreate(artifact: Artifact) -> str:
    """The fix for an artifact that cannot be used: make it again."""
    kind, name = artifact.manifest.kind, artifact.manifest.name
    return f"re-create it with `{PRODUCER[kind]} --name {name} --force`"


def check_prior_codebook(prior: Artifact, codebook: Codebook) -> None:
    """Refuse a codebook of another size or goal space, or, for a published codebook, not the
    one the prior was trained on."""
    name, shapes = prior.manifest.name, prior.manifest.shapes
    given = _codebook_name(codebook)
    retrain = f"train a prior for it with `ptgm train-prior --codebook {given} --name NEW_NAME`"
    if shapes.n_codes != codebook.n_codes:
        raise PtgmError(f"prior {name!r} predicts {shapes.n_codes} codes but codebook {given!r} "
                        f"has {codebook.n_codes}; {retrain}")
    if shapes.goal_indices != list(codebook.goal_indices):
        raise PtgmError(f"prior {name!r} was trained on {len(shapes.goal_indices or [])}-dim goals "
                        f"({', '.join((shapes.goal_names or [])[:3])}, ...) but codebook {given!r} "
                        f"uses {codebook.goal_dims}; {retrain}")
    parent = prior.manifest.parent("codebook")
    if isinstance(codebook, PublishedCodebook) and codebook.ref != parent:
        raise PtgmError(f"prior {name!r} was trained on codebook {parent.name!r}, "
                        f"not on codebook {given!r}; pass that codebook or {retrain}")


def _codebook_name(codebook: Codebook) -> str:
    return codebook.ref.name if isinstance(codebook, PublishedCodebook) else "given"
