"""Workspaces with a tiny random-action dataset and, for `pretrained_workspace`, a codebook,
policy and prior trained on it at tiny budgets (a few seconds in all).

Every artifact is named "default", so stages run with their default options find them.
"""

from __future__ import annotations

import pytest

from ptgm_cli.configs import BuildCodebookConfig, TrainPolicyConfig, TrainPriorConfig
from ptgm_cli.data.episodes import write_episodes
from ptgm_cli.data.goal_pairs import split_episodes
from ptgm_cli.kitchen.layout import N_ACTION, QPOS_NAMES
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.stages import build_codebook, train_policy, train_prior
from ptgm_cli.workspace import Artifact, Workspace
from tests.data.test_episodes import random_episodes

EPISODE_LENGTHS = (30,) * 8
TINY_TRAINING = {"epochs": 2, "hidden": 32, "batch_size": 32, "validation_fraction": 0.25}


def held_out_episodes() -> list[int]:
    """The validation episodes of the fixtures' policy and prior."""
    split = split_episodes(len(EPISODE_LENGTHS), TINY_TRAINING["validation_fraction"], seed=0)
    return split.validation.tolist()


def publish_random_dataset(workspace: Workspace, name: str = "default",
                           state_names: tuple[str, ...] = QPOS_NAMES) -> Artifact:
    manifest = Manifest(kind="dataset", name=name, seed=0,
                        shapes=Shapes(state_names=list(state_names), action_dim=N_ACTION))
    with workspace.publish(manifest) as staging:
        write_episodes(staging.file("episodes.h5"), random_episodes(EPISODE_LENGTHS))
    return workspace.load("dataset", name)


def pretrain(workspace: Workspace) -> Workspace:
    """Codebook, policy and prior "default" from the workspace's dataset "default"."""
    build_codebook.run(BuildCodebookConfig(n_codes=6, subsample=2), workspace)
    train_policy.run(TrainPolicyConfig(**TINY_TRAINING), workspace)
    train_prior.run(TrainPriorConfig(**TINY_TRAINING), workspace)
    return workspace


@pytest.fixture(scope="module")
def dataset_workspace(tmp_path_factory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("dataset_workspace"))
    publish_random_dataset(workspace)
    return workspace


@pytest.fixture(scope="module")
def pretrained_workspace(tmp_path_factory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("pretrained_workspace"))
    publish_random_dataset(workspace)
    return pretrain(workspace)
