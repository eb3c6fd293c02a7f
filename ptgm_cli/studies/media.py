"""What the report shows of a run besides numbers: a rollout video of its final policy, and for
PTGM the codebook gallery (each code as the kitchen state nearest its goal, with how much of the
prior's and of the trained policy's probability it gets)."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
import torch.nn.functional as F

from ptgm_cli.algorithms import build, env_spec
from ptgm_cli.artifacts import load_codebook, load_dataset, load_run_weights, recorded_config
from ptgm_cli.configs import HIERARCHICAL, TrainRLConfig
from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.rl.evaluation import play_episodes
from ptgm_cli.rl.seeds import worker_seeds
from ptgm_cli.workspace import Artifact, Workspace

THUMBNAIL = (192, 144)  # width, height of a gallery image
STATE_EVERY = 10  # dataset states behind the codes' shares: every 10th


@dataclass(frozen=True)
class CodeView:
    code: int
    jpeg: bytes
    prior_share: float  # mean probability over the dataset's states
    policy_share: float


def rollout_video(workspace: Workspace, run: Artifact, seed: int, frame_rate: float) -> bytes:
    """One episode of the run's final policy, as WebM (VP8) bytes, in real time."""
    config = recorded_config(run, TrainRLConfig)
    setup = build(config, workspace)
    load_run_weights(setup.agent, run)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rollout.webm"
        with setup.options.envs(1, env_spec(config), worker_seeds(seed, 1)) as envs, \
                imageio.get_writer(path, fps=frame_rate, codec="libvpx", bitrate="600k",
                                   macro_block_size=8) as writer:
            play_episodes(envs, setup.options, setup.agent, 1, seed,
                          torch.Generator().manual_seed(seed),
                          on_frames=lambda frames: [writer.append_data(frame)
                                                    for frame in frames[0]])
        return path.read_bytes()


def codebook_gallery(workspace: Workspace, run: Artifact) -> list[CodeView]:
    """Every code of a PTGM run's codebook, most chosen by its trained policy first."""
    config = recorded_config(run, TrainRLConfig)
    if config.algo not in HIERARCHICAL:
        raise ValueError(f"run {run.manifest.name!r} has no codebook")
    setup = build(config, workspace)
    load_run_weights(setup.agent, run)
    codebook, codebook_artifact = load_codebook(workspace, config.codebook)
    episodes, _ = load_dataset(workspace, codebook_artifact.manifest.parent("dataset").name)
    rows = np.arange(0, len(episodes.qpos), STATE_EVERY)
    states = torch.as_tensor(setup.options.features(episodes.observations[rows]))
    with torch.no_grad():
        prior = F.softmax(setup.prior.prior(states), -1).mean(0).numpy()
        policy = F.softmax(setup.agent.policy(states), -1).mean(0).numpy()
    goals = codebook.standardise(codebook.goals_of(episodes.qpos_states()[rows]))
    codes = codebook.standardise(codebook.codes)
    nearest = [rows[np.argmin(np.linalg.norm(goals - code, axis=1))] for code in codes]
    env = KitchenEnv()
    views = []
    for code in np.argsort(-policy, kind="stable"):
        env.set_state(episodes.qpos[nearest[code]], np.zeros(env.model.nv))
        buffer = io.BytesIO()
        imageio.imwrite(buffer, env.render(*THUMBNAIL), format="jpeg", quality=80)
        views.append(CodeView(int(code), buffer.getvalue(), float(prior[code]),
                              float(policy[code])))
    env.close()
    return views
