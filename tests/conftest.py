"""What several test packages share, as fixtures, so that no test module imports another: the
console entry point, states and episodes from the real simulator, a D4RL-layout file, and
workspaces with a tiny dataset and models trained on it.

Every workspace artifact is named "default", so stages run with their default options find them.
"""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np
import pytest

from ptgm_cli.configs import BuildCodebookConfig, TrainPolicyConfig, TrainPriorConfig
from ptgm_cli.data.episodes import Episodes, write_episodes
from ptgm_cli.data.goal_pairs import split_episodes
from ptgm_cli.kitchen.env import INIT_QPOS, KitchenEnv
from ptgm_cli.kitchen.layout import N_ACTION, QPOS_NAMES
from ptgm_cli.kitchen.tasks import SUBTASK_GOALS, SUBTASK_QPOS_INDICES
from ptgm_cli.manifests import Manifest, Shapes
from ptgm_cli.stages import build_codebook, train_policy, train_prior
from ptgm_cli.workspace import Artifact, Workspace

CLI = [sys.executable, "-c", "from ptgm_cli.cli import run; run()"]
# Rows per recorded D4RL episode; the 1-row one holds no transition and must be dropped.
D4RL_EPISODE_ROWS = (6, 1, 4, 5)
EPISODE_LENGTHS = (30,) * 8
TINY_TRAINING = {"epochs": 2, "hidden": 32, "batch_size": 32, "validation_fraction": 0.25}


def ptgm_command(workspace, *args: str) -> list[str]:
    """The real console entry point; `workspace` is a Workspace, a folder or None."""
    if isinstance(workspace, Workspace):
        workspace = workspace.root
    prefix = [] if workspace is None else ["--workspace", str(workspace)]
    return [*CLI, *prefix, *args]


def run_ptgm(workspace, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `ptgm` in a subprocess, as a user would."""
    return subprocess.run(ptgm_command(workspace, *args), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def cli_command():
    """`cli_command(workspace, *args)`: the command line of `ptgm`, for tests that start it."""
    return ptgm_command


@pytest.fixture(scope="session")
def run_cli():
    """`run_cli(workspace, *args, timeout=600)`: `ptgm` run to its end in a subprocess."""
    return run_ptgm


def kitchen_state_with(subtask: str, distance: float = 0.0) -> np.ndarray:
    """The reset state with the subtask's objects at `distance` from their goal, on the line
    from their reset values to the goal."""
    qpos = INIT_QPOS.copy()
    indices = list(SUBTASK_QPOS_INDICES[subtask])
    offset = qpos[indices] - SUBTASK_GOALS[subtask]
    qpos[indices] = SUBTASK_GOALS[subtask] + offset * distance / np.linalg.norm(offset)
    return qpos


@pytest.fixture(scope="session")
def state_with():
    """`state_with(subtask, distance=0.0)`: a qpos with one subtask at a distance from done."""
    return kitchen_state_with


def random_action_episodes(lengths=(5, 3), seed=0) -> Episodes:
    """Random-action episodes from the real env."""
    env, rng = KitchenEnv(max_episode_steps=None), np.random.default_rng(seed)
    parts = []
    for episode, length in enumerate(lengths):
        observations = [env.reset(seed=seed + episode)[0]]
        qpos, qvel = [env.data.qpos.copy()], [env.data.qvel.copy()]
        actions = rng.uniform(-1, 1, size=(length, 9))
        rewards = []
        for action in actions:
            observation, reward, *_ = env.step(action)
            observations.append(observation)
            qpos.append(env.data.qpos.copy())
            qvel.append(env.data.qvel.copy())
            rewards.append(reward)
        parts.append(Episodes(np.array(observations), np.array(qpos), np.array(qvel), actions,
                              np.array(rewards), np.array([length]), [["kettle"]],
                              np.array([seed + episode])))
    return Episodes.concatenate(parts)


@pytest.fixture(scope="session")
def random_episodes():
    """`random_episodes(lengths=(5, 3), seed=0)`: random-action episodes from the real env."""
    return random_action_episodes


def d4rl_kitchen_columns(seed=0) -> dict[str, np.ndarray]:
    """KitchenEnv rollouts in D4RL's kitchen layout: qpos 30 + a constant 30-dim goal per row,
    the action taken in that row's state, and `terminals` / `timeouts` on the last rows (the
    last episode ends with the file)."""
    env, rng = KitchenEnv(max_episode_steps=None), np.random.default_rng(seed)
    goal = rng.normal(size=30)
    qpos, actions = [], []
    for episode, n_rows in enumerate(D4RL_EPISODE_ROWS):
        env.reset(seed=seed + episode)
        for _ in range(n_rows):
            qpos.append(env.data.qpos.copy())
            actions.append(rng.uniform(-1, 1, size=9))
            env.step(actions[-1])
    n_rows, ends = len(qpos), np.cumsum(D4RL_EPISODE_ROWS) - 1
    terminals, timeouts = np.zeros(n_rows, bool), np.zeros(n_rows, bool)
    terminals[ends[[0, 1]]] = True
    timeouts[ends[2]] = True
    return {"observations": np.hstack([qpos, np.tile(goal, (n_rows, 1))]),
            "actions": np.array(actions), "rewards": rng.normal(size=n_rows),
            "terminals": terminals, "timeouts": timeouts}


def write_d4rl_file(path, columns) -> None:
    with h5py.File(path, "w") as handle:
        for key, value in columns.items():
            handle.create_dataset(key, data=value)


@pytest.fixture(scope="session")
def d4rl_columns():
    """`d4rl_columns(seed=0)`: fresh columns of a D4RL kitchen file, safe to change."""
    return d4rl_kitchen_columns


@pytest.fixture(scope="session")
def write_d4rl():
    """`write_d4rl(path, columns)`: the columns as a D4RL HDF5 file."""
    return write_d4rl_file


def publish_dataset(workspace: Workspace, name: str = "default",
                    state_names: tuple[str, ...] = QPOS_NAMES) -> Artifact:
    """A dataset artifact of random-action episodes of `EPISODE_LENGTHS`."""
    manifest = Manifest(kind="dataset", name=name, seed=0,
                        shapes=Shapes(state_names=list(state_names), action_dim=N_ACTION))
    with workspace.publish(manifest) as staging:
        write_episodes(staging.file("episodes.h5"), random_action_episodes(EPISODE_LENGTHS))
    return workspace.load("dataset", name)


def pretrain(workspace: Workspace) -> Workspace:
    """Codebook, policy and prior "default" from the workspace's dataset "default"."""
    build_codebook.run(BuildCodebookConfig(n_codes=6, subsample=2), workspace)
    train_policy.run(TrainPolicyConfig(**TINY_TRAINING), workspace)
    train_prior.run(TrainPriorConfig(**TINY_TRAINING), workspace)
    return workspace


@pytest.fixture(scope="session")
def publish_random_dataset():
    """`publish_random_dataset(workspace, name="default", state_names=QPOS_NAMES)`."""
    return publish_dataset


@pytest.fixture
def tiny_training() -> dict:
    """The training options of the workspaces' policy and prior."""
    return dict(TINY_TRAINING)


@pytest.fixture
def held_out_episodes() -> list[int]:
    """The validation episodes of the workspaces' policy and prior."""
    split = split_episodes(len(EPISODE_LENGTHS), TINY_TRAINING["validation_fraction"], seed=0)
    return split.validation.tolist()


@pytest.fixture(scope="module")
def dataset_workspace(tmp_path_factory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("dataset_workspace"))
    publish_dataset(workspace)
    return workspace


@pytest.fixture(scope="module")
def pretrained_workspace(tmp_path_factory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("pretrained_workspace"))
    publish_dataset(workspace)
    return pretrain(workspace)
