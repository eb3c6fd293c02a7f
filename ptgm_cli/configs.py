"""The config of every stage: the one place where defaults live.

Each field's description is its `--help` text. The resolved config is stored in the artifact's
manifest and `ptgm show NAME` prints it back as a TOML file that reproduces the artifact.
This module stays light (no torch, no simulator) so that the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ptgm_cli.config import StageConfig
from ptgm_cli.kitchen.layout import GOAL_DIM_PRESETS
from ptgm_cli.kitchen.tasks import DOWNSTREAM_TASKS, check_subtask_names

GoalDims = Literal["paper21", "objects21", "robot9", "qpos30"]
StateFeatures = Literal["qpos30", "obs59"]
LowLevelActions = Literal["mean", "sample"]
assert set(GoalDims.__args__) == set(GOAL_DIM_PRESETS)


def _split_names(value):
    """Accept 'a,b,c' from the command line as well as a TOML list."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class FetchDataConfig(StageConfig):
    name: str = Field("default", description="Name of the dataset artifact to write.")
    source: Literal["scripted", "minari", "d4rl"] = Field(
        "scripted",
        description="scripted: the built-in expert (offline); minari: a Minari dataset; "
        "d4rl: a D4RL kitchen HDF5 file.",
    )
    episodes: int = Field(600, gt=0, description="Scripted episodes to generate.")
    seed: int = Field(
        0, ge=0, description="Seed of the scripted data (episode i is seeded by (seed, i))."
    )
    workers: int = Field(
        0, ge=0, description="Worker processes for scripted data; 0 = all cores. "
        "The data do not depend on it."
    )
    subtasks_per_episode: int = Field(
        4, ge=1, le=7, description="Subtasks chained in each scripted episode, in random order."
    )
    allow_downstream_sequence: bool = Field(
        False,
        description="Allow plans holding the downstream subtasks (microwave, kettle, bottom "
        "burner, light switch) in that order; left out by default, as in D4RL's kitchen-mixed.",
    )
    keep_failures: bool = Field(
        False, description="Keep scripted episodes in which a skill failed."
    )
    action_noise: float = Field(
        0.1, ge=0, le=1,
        description="Std of the Gaussian noise on the scripted expert's executed actions; the "
        "clean actions are recorded, so the data show recoveries (DART).",
    )
    max_skill_steps: int = Field(
        300, gt=0, description="Steps a scripted skill may take before it counts as failed."
    )
    dataset_id: str = Field(
        "D4RL/kitchen/mixed-v2", description="Minari dataset id for --source minari."
    )
    path: Path | None = Field(
        None,
        description="d4rl: the kitchen HDF5 file; minari: a local Minari datasets root "
        "(default: minari's own).",
    )
    url: str | None = Field(None, description="d4rl: download the HDF5 file from this URL.")


class BuildCodebookConfig(StageConfig):
    name: str = Field("default", description="Name of the codebook artifact to write.")
    dataset: str = Field("default", description="Dataset artifact to cluster.")
    n_codes: int = Field(
        500, ge=2, description="Number of codes (clusters). The paper used 50; on the scripted "
        "data 50 codes are too coarse for the prior's codes to get anything done (README)."
    )
    goal_dims: GoalDims = Field("paper21", description="Which state dims form a goal.")
    method: Literal["kmeans", "tsne-kmeans"] = Field(
        "kmeans",
        description="kmeans: k-means++ in standardised goal space (seconds); tsne-kmeans: the "
        "paper's k-means on a 2-D t-SNE embedding (minutes; balanced clusters, which matters "
        "with few codes: with 50, k-means gives the dense transit states most of them).",
    )
    subsample: int = Field(6, ge=1, description="Use every n-th dataset state (the paper: 6).")
    seed: int = Field(0, ge=0, description="Seed of k-means / t-SNE.")


class TrainPolicyConfig(StageConfig):
    name: str = Field("default", description="Name of the policy artifact to write.")
    dataset: str = Field("default", description="Dataset artifact to learn from.")
    goal_dims: GoalDims = Field("paper21", description="Which state dims form a goal.")
    state_features: StateFeatures = Field(
        "qpos30", description="Policy input: qpos30 (robot + object positions) or obs59."
    )
    horizon: int = Field(10, ge=1, description="Goals are taken 1..horizon steps ahead.")
    epochs: int = Field(
        8, gt=0, description="Passes over the training pairs (every state with each goal "
        "1..horizon steps ahead); the validation NLL still improves at 8."
    )
    batch_size: int = Field(128, gt=0, description="Minibatch size.")
    lr: float = Field(1e-3, gt=0, description="RAdam learning rate.")
    hidden: int = Field(128, gt=0, description="Width of the MLP.")
    validation_fraction: float = Field(
        0.1, gt=0, lt=1, description="Fraction of episodes held out for validation."
    )
    seed: int = Field(0, ge=0, description="Seed of the split, sampling and initialisation.")


class TrainPriorConfig(StageConfig):
    name: str = Field("default", description="Name of the prior artifact to write.")
    dataset: str = Field("default", description="Dataset artifact to learn from.")
    codebook: str = Field("default", description="Codebook artifact giving the labels.")
    assign: Literal["cosine", "euclidean"] = Field(
        "cosine", description="Label a goal with its nearest code by this similarity."
    )
    state_features: StateFeatures = Field(
        "qpos30", description="Prior input: qpos30 (robot + object positions) or obs59."
    )
    horizon: int = Field(10, ge=1, description="Goals are taken min_horizon..horizon steps "
                         "ahead.")
    min_horizon: int = Field(
        1, ge=1, description="Nearest goal step; equal to --horizon, the label is the code "
        "reached when a high-level option ends."
    )
    epochs: int = Field(
        4, gt=0, description="Passes over the training pairs; the validation loss is lowest "
        "after about 2."
    )
    batch_size: int = Field(128, gt=0, description="Minibatch size.")
    lr: float = Field(1e-3, gt=0, description="RAdam learning rate.")
    hidden: int = Field(128, gt=0, description="Width of the MLP.")
    validation_fraction: float = Field(
        0.1, gt=0, lt=1, description="Fraction of episodes held out for validation."
    )
    seed: int = Field(0, ge=0, description="Seed of the split, sampling and initialisation.")

    @model_validator(mode="after")
    def _horizons_in_order(self):
        if self.min_horizon > self.horizon:
            raise ValueError(f"--min-horizon {self.min_horizon} exceeds --horizon {self.horizon}")
        return self


class EvalPolicyConfig(StageConfig):
    name: str = Field("policy-default", description="Name of the eval artifact to write.")
    policy: str = Field("default", description="Policy artifact to evaluate.")
    codebook: str = Field("default", description="Codebook whose codes are commanded.")
    dataset: str = Field(
        "default", description="Dataset whose held-out episodes give the start states."
    )
    states: int = Field(500, gt=0, description="Held-out start states for the 10-step test.")
    horizon: int = Field(10, gt=0, description="Steps between start state and commanded goal.")
    subtask_steps: int = Field(30, gt=0, description="Steps allowed to complete a subtask.")
    subtask_trials: int = Field(50, gt=0, description="Trials per subtask for the code test.")
    low_level_actions: LowLevelActions = Field(
        "mean", description="Act with the policy's mean or sample from it, as in train-rl."
    )
    seed: int = Field(0, ge=0, description="Seed of the state sampling and policy noise.")


class TrainRLConfig(StageConfig):
    name: str | None = Field(
        None, description="Name of the run artifact; default '<algo>-seed<seed>'."
    )
    algo: Literal["ptgm", "ptgm-noprior", "sac"] = Field(
        "ptgm",
        description="ptgm: SAC over codes with KL to the prior; ptgm-noprior: no KL, no prior "
        "initialisation; sac: flat SAC on the 9-dim actions.",
    )
    seed: int = Field(0, ge=0, description="Seed of the run.")
    env_steps: int = Field(1_500_000, gt=0, description="Environment steps to train for.")
    tasks: tuple[str, ...] = Field(
        DOWNSTREAM_TASKS, description="Downstream subtasks, comma-separated."
    )
    any_order: bool = Field(False, description="Count subtasks in any order.")
    num_envs: int = Field(2, gt=0, description="Environments stepped in parallel processes.")
    policy: str = Field("default", description="Frozen low-level policy artifact.")
    prior: str = Field("default", description="Goal prior artifact.")
    codebook: str = Field("default", description="Codebook artifact.")
    hl_interval: int = Field(10, gt=0, description="Env steps per high-level decision.")
    low_level_actions: LowLevelActions = Field(
        "mean",
        description="The frozen low-level policy acts with its Gaussian's mean, or samples from "
        "it as the paper does (its std also models the data's action noise).",
    )
    gamma: float = Field(0.99, gt=0, le=1, description="Discount per high-level step.")
    lr: float = Field(3e-4, gt=0, description="Adam learning rate of actor, critics, alpha.")
    batch_size: int = Field(256, gt=0, description="Minibatch size.")
    tau: float = Field(5e-3, gt=0, le=1, description="Target-critic soft-update rate.")
    buffer_size: int = Field(1_000_000, gt=0, description="Replay capacity (transitions).")
    warmup: int = Field(
        5_000, ge=0, description="Transitions collected before learning starts."
    )
    kl: Literal["prior-pi", "pi-prior"] = Field(
        "prior-pi",
        description="ptgm: direction of the KL to the prior. prior-pi: KL(prior || pi), the "
        "paper's code; pi-prior: KL(pi || prior), which also charges pi for mass on codes the "
        "prior rules out.",
    )
    next_value: Literal["expected", "sampled"] = Field(
        "expected",
        description="Next-state value in the critic target: the expectation over the policy's "
        "codes (exact), or at one code sampled from it (the paper's code).",
    )
    target_divergence: float = Field(
        1.0,
        description="ptgm: alpha is tuned so that the KL to the prior tracks this value. The "
        "paper uses 5 (with 50 codes). With 500 codes and critics that know the time, 1 leaves "
        "the policy free to drop the prior's codes that hold the arm still; without the time, "
        "the critics overestimated at 1 and 0.3 was needed (README).",
    )
    target_entropy: float | None = Field(
        None,
        description="ptgm-noprior and sac: alpha is tuned towards this policy entropy; default "
        "0.98 log(n_codes) (discrete SAC, Christodoulou 2019) or -9 (sac, CleanRL).",
    )
    critic_layers: int = Field(5, gt=0, description="Hidden layers of the high-level critics.")
    critic_layer_norm: bool = Field(
        True, description="LayerNorm in the high-level critics' hidden layers (as in RLPD), "
        "against value overestimation (README).",
    )
    critic_time: bool = Field(
        True, description="ptgm, ptgm-noprior: the high-level critics also see the fraction of "
        "the episode left, and the time limit ends the episode for them (Pardo et al. 2018): "
        "their values are what can still be earned in time (README).",
    )
    episode_steps: int = Field(280, gt=0, description="Env steps per episode (the paper: 280).")
    grad_clip: float = Field(10.0, gt=0, description="Gradient-norm clip.")
    hidden: int = Field(
        256, gt=0, description="Width of the critics (and of flat SAC's actor); the PTGM actor "
        "keeps the prior's architecture."
    )
    checkpoint_every: int = Field(50_000, gt=0, description="Env steps between checkpoints.")
    eval_every: int = Field(50_000, gt=0, description="Env steps between evaluations.")
    eval_episodes: int = Field(10, ge=0, description="Episodes per periodic evaluation.")
    resume: bool = Field(False, description="Continue this run from its last checkpoint.")
    wandb: bool = Field(False, description="Also log to Weights & Biases.")

    _split_tasks = field_validator("tasks", mode="before")(_split_names)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: tuple[str, ...]) -> tuple[str, ...]:
        if not tasks:
            raise ValueError("at least one subtask is needed")
        return check_subtask_names(tasks)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.algo}-seed{self.seed}"

    @classmethod
    def of_run(cls, recorded: dict) -> TrainRLConfig:
        """A published run's config. Options the run predates take the values it was trained
        with, so that its networks rebuild with the architecture of its weights."""
        return cls(**({"next_value": "sampled", "critic_layer_norm": False,
                        "critic_time": False} | recorded))


class EvalConfig(StageConfig):
    run: str = Field("ptgm-seed0", description="RL run artifact to evaluate.")
    name: str | None = Field(None, description="Name of the eval artifact; default the run's.")
    episodes: int = Field(50, gt=0, description="Evaluation episodes.")
    seed: int = Field(10_000, ge=0, description="Seed of the first eval episode.")
    video: Path | None = Field(None, description="Write an MP4 of the first episodes here.")
    video_episodes: int = Field(2, gt=0, description="Episodes in the video.")
    num_envs: int = Field(
        2, gt=0, description="Environments stepped in parallel processes (the sampled "
        "actions, hence the results, depend on it: it is recorded)."
    )
