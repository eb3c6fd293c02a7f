"""`ptgm eval`: completed subtasks of a trained run over fixed-seed episodes, and a video.

Episode k is seeded with `seed + k`; the seeds and each episode's completed subtasks are recorded
in the eval artifact, so any episode can be replayed. The video renders fresh episodes from the
first seeds offscreen on the CPU (MuJoCo's EGL backend with Mesa).
"""

from __future__ import annotations

import json
from dataclasses import asdict

import imageio.v2 as imageio
import torch

from ptgm_cli import report
from ptgm_cli.algorithms import RLSetup, build, env_spec
from ptgm_cli.artifacts import load_run_weights, recorded_config
from ptgm_cli.configs import EvalConfig, TrainRLConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.env import KitchenEnv
from ptgm_cli.manifests import Manifest
from ptgm_cli.models.training import seed_everything
from ptgm_cli.rl.evaluation import play_episodes, summarise
from ptgm_cli.rl.seeds import worker_seeds
from ptgm_cli.rl.vec_env import EnvSpec
from ptgm_cli.workspace import Artifact, Workspace

EPISODES_FILE = "episodes.json"


def run(config: EvalConfig, workspace: Workspace, force: bool = False) -> Artifact:
    workspace.check_can_publish("eval", config.name or config.run, force)
    run_artifact = workspace.load("rl", config.run)
    run_config = recorded_config(run_artifact, TrainRLConfig)
    frame_rate = offscreen_frame_rate() if config.video is not None else None
    seed_everything(config.seed)
    setup = build(run_config, workspace)
    load_run_weights(setup.agent, run_artifact)
    task = env_spec(run_config)

    with setup.options.envs(config.num_envs, task, worker_seeds(config.seed, config.num_envs)
                            ) as envs:
        episodes = play_episodes(envs, setup.options, setup.agent, config.episodes, config.seed,
                                 torch.Generator().manual_seed(config.seed))
    summary = summarise(episodes, run_config.tasks)
    if config.video is not None:
        write_video(config, task, setup, frame_rate)

    name = config.name or config.run
    manifest = Manifest(
        kind="eval", name=name, parents=[run_artifact.ref], config=config.model_dump(mode="json"),
        seed=config.seed,
        metrics={**summary, "seeds": [episode.seed for episode in episodes],
                 "video": str(config.video) if config.video else None},
    )
    with workspace.publish(manifest, overwrite=force) as staging:
        staging.file(EPISODES_FILE).write_text(json.dumps(
            [asdict(episode) for episode in episodes], indent=1))
    success = ", ".join(_success_text(summary, task) for task in run_config.tasks)
    report.info(f"{config.run}: {summary['completed_subtasks_mean']:.2f} ± "
                f"{summary['completed_subtasks_stderr']:.2f} completed subtasks over "
                f"{summary['episodes']} episodes ({success})")
    return workspace.load("eval", name)


def offscreen_frame_rate() -> float:
    """Frames per second of a real-time video, once offscreen rendering is known to work: checked
    before the episodes run, whose results a failure would throw away."""
    probe = KitchenEnv()
    try:
        probe.render(64, 64)
    except Exception as error:  # the GL backends fail in many ways; all have the same fix
        raise PtgmError(f"cannot render offscreen ({error}); use MUJOCO_GL=egl (Mesa) or "
                        "osmesa, see `ptgm doctor`") from None
    finally:
        probe.close()
    return 1.0 / probe.dt


def write_video(config: EvalConfig, task: EnvSpec, setup: RLSetup, frame_rate: float) -> None:
    """MP4 of `video_episodes` episodes from seeds `seed, seed + 1, ...`, in real time."""
    config.video.parent.mkdir(parents=True, exist_ok=True)
    with setup.options.envs(1, task, worker_seeds(config.seed, 1)) as envs, \
            imageio.get_writer(config.video, fps=frame_rate, macro_block_size=8) as writer:
        play_episodes(envs, setup.options, setup.agent, config.video_episodes, config.seed,
                      torch.Generator().manual_seed(config.seed),
                      on_frames=lambda frames: [writer.append_data(frame) for frame in frames[0]])
    report.info(f"video of {config.video_episodes} episodes -> {config.video}")


def _success_text(summary: dict, task: str) -> str:
    """'kettle 74% by step 215': the success rate and the median step of completion."""
    step = summary["completion_step_median"][task]
    return f"{task} {summary['success'][task]:.0%}" + (f" by step {step:.0f}" if step else "")
