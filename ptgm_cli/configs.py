"""The config of every stage: the one place where defaults live.

Each field's description is its `--help` text. The resolved config is stored in the artifact's
manifest and `ptgm show NAME` prints it back as a TOML file that reproduces the artifact.
This module stays light (no torch, no simulator) so that the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from ptgm_cli.config import StageConfig, check_writable_file, flag
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import GOAL_DIM_PRESETS
from ptgm_cli.kitchen.tasks import DOWNSTREAM_TASKS, check_subtask_names
from ptgm_cli.workspace import check_name

GoalDims = Literal["paper21", "objects21", "robot9", "qpos30"]
StateFeatures = Literal["qpos30", "obs59"]
LowLevelActions = Literal["mean", "sample"]
Device = Literal["auto", "cpu", "cuda"]
DEVICE_HELP = "Where the networks train: cpu, cuda, or auto (a GPU when torch sees one)."
assert set(GoalDims.__args__) == set(GOAL_DIM_PRESETS)


def _as_field_check(check: Callable) -> AfterValidator:
    """A workspace check as a field validator: its error names the option that failed."""
    def validate(value):
        try:
            return check(value)
        except PtgmError as error:
            raise ValueError(str(error)) from None
    return AfterValidator(validate)


# Every seed also seeds numpy's global generator, which takes 32 bits.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
# The name of an artifact to write or read: one folder of the workspace.
ArtifactName = Annotated[str, _as_field_check(check_name)]
WritableFile = Annotated[Path, _as_field_check(check_writable_file)]


def _split_names(value):
    """Accept 'a,b,c' from the command line as well as a TOML list."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class FetchDataConfig(StageConfig):
    name: ArtifactName = Field("default", description="Name of the dataset artifact to write.")
    source: Literal["scripted", "minari", "d4rl"] = Field(
        "scripted",
        description="scripted: the built-in expert (offline); minari: a Minari dataset; "
        "d4rl: a D4RL kitchen HDF5 file.",
    )
    episodes: int = Field(600, gt=0, description="Scripted episodes to generate.")
    seed: Seed = Field(
        0, description="Seed of the scripted data (episode i is seeded by (seed, i))."
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
    name: ArtifactName = Field("default", description="Name of the codebook artifact to write.")
    dataset: ArtifactName = Field("default", description="Dataset artifact to cluster.")
    n_codes: int = Field(
        500, ge=2, description="Number of codes (clusters). The paper used 50; on the scripted "
        "data 50 codes are too coarse for the prior's codes to get anything done "
        "(docs/experiments.md)."
    )
    goal_dims: GoalDims = Field("paper21", description="Which state dims form a goal.")
    method: Literal["kmeans", "tsne-kmeans"] = Field(
        "kmeans",
        description="kmeans: k-means++ in standardised goal space (seconds); tsne-kmeans: the "
        "paper's k-means on a 2-D t-SNE embedding (minutes; balanced clusters, which matters "
        "with few codes: with 50, k-means gives the dense transit states most of them).",
    )
    subsample: int = Field(6, ge=1, description="Use every n-th dataset state (the paper: 6).")
    seed: Seed = Field(0, description="Seed of k-means / t-SNE.")


class TrainPolicyConfig(StageConfig):
    name: ArtifactName = Field("default", description="Name of the policy artifact to write.")
    dataset: ArtifactName = Field("default", description="Dataset artifact to learn from.")
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
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="The learning rate over training: constant, or decayed along a "
        "cosine to 0 at the last step (a candidate for a policy that depends less on the "
        "machine; docs/experiments.md, section 13)."
    )
    hidden: int = Field(128, gt=0, description="Width of the MLP.")
    validation_fraction: float = Field(
        0.1, gt=0, lt=1, description="Fraction of episodes held out for validation."
    )
    seed: Seed = Field(0, description="Seed of the split, sampling and initialisation.")
    device: Device = Field("auto", description=DEVICE_HELP)


class TrainPriorConfig(StageConfig):
    name: ArtifactName = Field("default", description="Name of the prior artifact to write.")
    dataset: ArtifactName = Field("default", description="Dataset artifact to learn from.")
    codebook: ArtifactName = Field("default", description="Codebook artifact giving the labels.")
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
    seed: Seed = Field(0, description="Seed of the split, sampling and initialisation.")
    device: Device = Field("auto", description=DEVICE_HELP)

    @model_validator(mode="after")
    def _horizons_in_order(self):
        if self.min_horizon > self.horizon:
            raise ValueError(f"--min-horizon {self.min_horizon} exceeds --horizon {self.horizon}")
        return self


class TrainSkillsConfig(StageConfig):
    name: ArtifactName = Field("default", description="Name of the skills artifact to write.")
    dataset: ArtifactName = Field("default", description="Dataset artifact to learn from.")
    decoder: Literal["closed-loop", "open-loop"] = Field(
        "closed-loop", description="closed-loop: SPiRL-cl's decoder, an action from the state "
        "reached and z at every step; open-loop: SPiRL's, all the skill's actions from z."
    )
    state_features: StateFeatures = Field(
        "obs59", description="State input of the encoder, decoder and skill prior: obs59 (the "
        "observation, as SPiRL's) or qpos30."
    )
    skill_length: int = Field(10, ge=1, description="Actions per skill.")
    latent_dim: int = Field(10, gt=0, description="Dimensions of the skill latent z.")
    beta: float = Field(5e-4, ge=0, description="Weight of KL(q(z | skill) || N(0, I)).")
    epochs: int = Field(20, gt=0, description="Passes over the training segments.")
    batch_size: int = Field(128, gt=0, description="Minibatch size (segments).")
    lr: float = Field(1e-3, gt=0, description="RAdam learning rate.")
    hidden: int = Field(128, gt=0, description="Width of every network.")
    validation_fraction: float = Field(
        0.1, gt=0, lt=1, description="Fraction of episodes held out for validation."
    )
    seed: Seed = Field(0, description="Seed of the split, sampling and initialisation.")
    device: Device = Field("auto", description=DEVICE_HELP)


class EvalPolicyConfig(StageConfig):
    name: ArtifactName = Field(
        "policy-default", description="Name of the eval artifact to write.")
    policy: ArtifactName = Field("default", description="Policy artifact to evaluate.")
    codebook: ArtifactName = Field("default", description="Codebook whose codes are commanded.")
    dataset: ArtifactName = Field(
        "default", description="Dataset whose held-out episodes give the start states."
    )
    states: int = Field(500, gt=0, description="Held-out start states for the 10-step test.")
    horizon: int = Field(10, gt=0, description="Steps between start state and commanded goal.")
    subtask_steps: int = Field(30, gt=0, description="Steps allowed to complete a subtask.")
    subtask_trials: int = Field(50, gt=0, description="Trials per subtask for the code test.")
    low_level_actions: LowLevelActions = Field(
        "mean", description="Act with the policy's mean or sample from it, as in train-rl."
    )
    prior: ArtifactName = Field(
        "default", description="Goal prior whose codes the third test samples from reset.")
    prior_episodes: int = Field(
        20, ge=0, description="Episodes of the third test (0 skips it): from reset, a code "
        "sampled from the prior every 10 steps, as PTGM acts before it learns.")
    episode_steps: int = Field(280, gt=0, description="Steps of each episode of the third test.")
    seed: Seed = Field(0, description="Seed of the state sampling and policy noise.")


class EvalSkillsConfig(StageConfig):
    name: ArtifactName = Field(
        "skills-default", description="Name of the eval artifact to write.")
    skills: ArtifactName = Field("default", description="Skills artifact to evaluate.")
    dataset: ArtifactName = Field(
        "default", description="Dataset whose held-out episodes give the demonstration segments."
    )
    segments: int = Field(
        300, gt=0, description="Held-out demonstration segments the decoded skills replay.")
    prior_episodes: int = Field(
        20, ge=0, description="Episodes of the second test (0 skips it): from reset, a skill "
        "sampled from the skill prior at every skill start, as SPiRL acts before it learns.")
    episode_steps: int = Field(280, gt=0, description="Steps of each episode of the second test.")
    seed: Seed = Field(0, description="Seed of the segment sampling and the prior's skills.")


ALGOS = ("ptgm", "ptgm-noprior", "spirl", "spirl-cl", "sac")
HIERARCHICAL = ("ptgm", "ptgm-noprior")  # over the codes of a codebook
SKILL_ALGOS = ("spirl", "spirl-cl")  # over the latents of a skill model
DECODERS = {"spirl": "open-loop", "spirl-cl": "closed-loop"}
# --help panels of train-rl, in the order they are shown.
RUN, TASK, MODELS, SKILLS, ALGORITHM, CRITICS, LOGGING = (
    "What to run", "The task", "Pre-trained models (ptgm, ptgm-noprior)",
    "Pre-trained skills (spirl, spirl-cl)", "The algorithm", "The critics",
    "Logging and checkpoints",
)
# Defaults that differ between algorithms, resolved when a config is made.
ALGO_DEFAULTS = {
    # PTGM's 1 is the value for 500 codes (docs/design.md); SPiRL's Kitchen configs use 5.
    "target_divergence": {"ptgm": 1.0, "spirl": 5.0, "spirl-cl": 5.0},
    # SPiRL warms up for 5,000 env steps: 500 skills of 10 steps.
    "warmup_transitions": {"ptgm": 5_000, "ptgm-noprior": 5_000, "spirl": 500, "spirl-cl": 500,
                           "sac": 5_000},
    "skills": {algo: ("default" if decoder == "closed-loop" else decoder)
               for algo, decoder in DECODERS.items()},
}


def rl_option(default, description: str, panel: str, algos: tuple[str, ...] = ALGOS,
              **constraints):
    """A train-rl field: its --help panel and the algorithms it applies to."""
    return Field(default, description=description,
                 json_schema_extra={"panel": panel, "algos": algos}, **constraints)


class TrainRLConfig(StageConfig):
    """One option set per algorithm: an option given for an algorithm it does not apply to is
    refused, and a run records only the options of its algorithm (`recorded`)."""

    algo: Literal["ptgm", "ptgm-noprior", "spirl", "spirl-cl", "sac"] = rl_option(
        "ptgm",
        "ptgm: SAC over codes with KL to the prior; ptgm-noprior: no KL, no prior "
        "initialisation; spirl / spirl-cl: SAC over skill latents with KL to the skill prior "
        "(open- / closed-loop decoder); sac: flat SAC on the 9-dim actions.", RUN,
    )
    name: ArtifactName | None = rl_option(
        None, "Name of the run artifact; default '<algo>-seed<seed>'.", RUN)
    seed: Seed = rl_option(0, "Seed of the run.", RUN)
    env_steps: int = rl_option(1_500_000, "Environment steps to train for.", RUN, gt=0)
    num_envs: int = rl_option(2, "Environments stepped in parallel processes.", RUN, gt=0)
    resume: bool = rl_option(False, "Continue this run from its last checkpoint.", RUN)
    device: Device = rl_option(
        "auto", DEVICE_HELP + " The env workers and the frozen low-level policy stay on the CPU.",
        RUN)
    tasks: tuple[str, ...] = rl_option(
        DOWNSTREAM_TASKS, "Downstream subtasks, comma-separated.", TASK)
    any_order: bool = rl_option(False, "Count subtasks in any order.", TASK)
    episode_steps: int = rl_option(
        280, "Env steps per episode (the paper: 280).", TASK, gt=0)
    policy: ArtifactName = rl_option(
        "default", "Frozen low-level policy artifact.", MODELS, HIERARCHICAL)
    prior: ArtifactName = rl_option("default", "Goal prior artifact.", MODELS, HIERARCHICAL)
    codebook: ArtifactName = rl_option("default", "Codebook artifact.", MODELS, HIERARCHICAL)
    hl_interval: int = rl_option(
        10, "Env steps per high-level decision.", MODELS, HIERARCHICAL, gt=0)
    low_level_actions: LowLevelActions = rl_option(
        "mean",
        "The frozen low-level policy acts with its Gaussian's mean, or samples from it as the "
        "paper does (its std also models the data's action noise).", MODELS, HIERARCHICAL,
    )
    skills: ArtifactName | None = rl_option(
        None, "Frozen skill model artifact (`ptgm train-skills`); default 'default' for "
        "spirl-cl (closed-loop decoder), 'open-loop' for spirl.", SKILLS, SKILL_ALGOS,
    )
    health_episodes: int = rl_option(
        10, "Before learning, episodes from reset in which the prior's sampled codes (skills) "
        "act: the pre-trained models' health check, as `ptgm eval-policy` (`ptgm eval-skills`) "
        "reports it; a check of the same models recorded by those with at least as many "
        "episodes is printed instead; 0 skips it.", RUN, ("ptgm", *SKILL_ALGOS), ge=0,
    )
    gamma: float = rl_option(
        0.99, "Discount per decision (per high-level step; per env step for sac).", ALGORITHM,
        gt=0, le=1,
    )
    lr: float = rl_option(
        3e-4, "Adam learning rate of actor, critics, alpha.", ALGORITHM,
        HIERARCHICAL + SKILL_ALGOS, gt=0)
    batch_size: int = rl_option(256, "Minibatch size (transitions).", ALGORITHM, gt=0)
    tau: float = rl_option(5e-3, "Target-critic soft-update rate.", ALGORITHM, gt=0, le=1)
    buffer_transitions: int = rl_option(
        1_000_000, "Replay capacity, in transitions (one per decision: per code or skill, or "
        "per env step for sac).", ALGORITHM, gt=0,
    )
    warmup_transitions: int | None = rl_option(
        None, "Transitions collected before learning starts, one per decision; default 5000, "
        "or 500 for spirl and spirl-cl (SPiRL's 5,000 env steps).", ALGORITHM, ge=0,
    )
    target_divergence: float | None = rl_option(
        None,
        "alpha is tuned so that the KL between the policy and the prior tracks this value; "
        "default 1 for ptgm, 5 for spirl and spirl-cl (SPiRL's Kitchen value). The PTGM paper "
        "uses 5 with 50 codes; with 500 codes and bounded critics, 1 leaves the policy free to "
        "drop the prior's codes that hold the arm still (docs/design.md).", ALGORITHM,
        ("ptgm", *SKILL_ALGOS), gt=0,
    )
    target_entropy: float | None = rl_option(
        None,
        "alpha is tuned towards this policy entropy; default 0.98 log(n_codes) (discrete SAC, "
        "Christodoulou 2019) or -9 (sac, CleanRL).", ALGORITHM, ("ptgm-noprior", "sac"),
    )
    grad_clip: float = rl_option(10.0, "Gradient-norm clip.", ALGORITHM, HIERARCHICAL, gt=0)
    hidden: int = rl_option(
        256, "Width of the critics (and of flat SAC's actor); the PTGM and SPiRL actors keep "
        "their prior's architecture.", ALGORITHM, gt=0,
    )
    critics: Literal["bounded", "paper"] = rl_option(
        "bounded",
        "bounded: the expected next value over the policy's codes, LayerNorm in the hidden "
        "layers, the fraction of the episode left as an input with no bootstrapping past the "
        "time limit, and (ptgm) targets capped at the subtask count; paper: the paper's code's "
        "critics (the value at one sampled next code, none of the rest). docs/design.md.",
        CRITICS, HIERARCHICAL,
    )
    critic_layers: int = rl_option(
        5, "Hidden layers of the high-level critics.", CRITICS, HIERARCHICAL + SKILL_ALGOS,
        gt=0)
    checkpoint_every: int = rl_option(
        50_000, "Env steps between checkpoints.", LOGGING, gt=0)
    eval_every: int = rl_option(50_000, "Env steps between evaluations.", LOGGING, gt=0)
    eval_episodes: int = rl_option(10, "Episodes per periodic evaluation.", LOGGING, ge=0)
    wandb: bool = rl_option(False, "Also log to Weights & Biases.", LOGGING)

    _split_tasks = field_validator("tasks", mode="before")(_split_names)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: tuple[str, ...]) -> tuple[str, ...]:
        if not tasks:
            raise ValueError("at least one subtask is needed")
        repeated = sorted({task for task in tasks if tasks.count(task) > 1})
        if repeated:
            raise ValueError(f"subtask(s) {repeated} given more than once; an episode completes "
                             "each subtask once")
        return check_subtask_names(tasks)

    @model_validator(mode="after")
    def _algo_defaults(self):
        """Fill the options whose default depends on the algorithm; a recorded config holds
        the value used."""
        for name, defaults in ALGO_DEFAULTS.items():
            if getattr(self, name) is None and self.algo in applies_to(name):
                object.__setattr__(self, name, defaults[self.algo])
        return self

    @model_validator(mode="after")
    def _options_apply_to_algo(self):
        foreign = sorted(name for name in self.model_fields_set
                         if self.algo not in applies_to(name))
        if foreign:
            options = ", ".join(flag(name) for name in foreign)
            raise ValueError(f"{options} does not apply to --algo {self.algo}; see "
                             "`ptgm train-rl --help` for each option's algorithms")
        return self

    @model_validator(mode="after")
    def _every_env_finishes_an_episode(self):
        """Each env steps once per lock-step: shorter runs end before any episode does, and a
        run's results and learning curve are made of finished episodes."""
        shortest = self.episode_steps * self.num_envs
        if self.env_steps < shortest:
            raise ValueError(
                f"--env-steps {self.env_steps} ends before an episode does: with --episode-steps "
                f"{self.episode_steps} and --num-envs {self.num_envs}, give at least {shortest}")
        return self

    @property
    def run_name(self) -> str:
        return self.name or f"{self.algo}-seed{self.seed}"

    @property
    def artifact_name(self) -> str:
        return self.run_name

    def recorded(self) -> dict:
        """The options of this run's algorithm, as its manifest and checkpoints store them.
        Not --resume, which says how a command continued the run: `ptgm show` of a resumed run
        must give a config that starts the run afresh."""
        return {name: value for name, value in self.model_dump(mode="json").items()
                if self.algo in applies_to(name) and name != "resume"}


def applies_to(field_name: str) -> tuple[str, ...]:
    """The algorithms a train-rl option applies to."""
    return TrainRLConfig.model_fields[field_name].json_schema_extra["algos"]


class EvalConfig(StageConfig):
    run: ArtifactName = Field("ptgm-seed0", description="RL run artifact to evaluate.")
    name: ArtifactName | None = Field(
        None, description="Name of the eval artifact; default the run's.")
    episodes: int = Field(50, gt=0, description="Evaluation episodes.")
    seed: Seed = Field(10_000, description="Seed of the first eval episode.")
    video: WritableFile | None = Field(
        None, description="Write an MP4 of the first episodes here (a .mp4 file).")
    video_episodes: int = Field(2, gt=0, description="Episodes in the video.")
    num_envs: int = Field(
        2, gt=0, description="Environments stepped in parallel processes (the sampled "
        "actions, hence the results, depend on it: it is recorded)."
    )

    @field_validator("video")
    @classmethod
    def _video_is_mp4(cls, video: Path | None) -> Path | None:
        if video is not None and video.suffix.lower() != ".mp4":
            raise ValueError(f"{video} is not a .mp4 file; the video is written as MP4")
        return video

    @property
    def artifact_name(self) -> str:
        return self.name or self.run


# The train-rl options a sweep sets itself, run by run.
SWEEP_AXES = ("algo", "seed", "name", "resume", "tasks")
SWEEP_RUN_OPTIONS = "train-rl options (each run)"


def _seed_list(value):
    """'0-4', '0,2,5' or '0-2,7' from the command line; a list from a config file."""
    if not isinstance(value, str):
        return value
    seeds = []
    for part in filter(None, (part.strip() for part in value.split(","))):
        first, dash, last = part.partition("-")
        if not (first.isdigit() and (not dash or last.isdigit())):
            raise ValueError(f"{part!r} is not a seed or a range of seeds such as 0-4")
        if dash and int(last) < int(first):
            raise ValueError(f"the range {part!r} is empty; write it from low to high")
        seeds += range(int(first), int(last) + 1) if dash else [int(first)]
    return tuple(seeds)


def _task_sets(value):
    """'microwave,kettle;light switch,hinge cabinet' from the command line: task orders."""
    if isinstance(value, str):
        return tuple(_split_names(part) for part in value.split(";") if part.strip())
    return value


class SweepOptions(StageConfig):
    """What a sweep runs: every combination of --algo, --seeds and --tasks, each a train-rl run
    followed by its eval, with the train-rl options given (`SweepConfig` adds them)."""

    name: ArtifactName = Field(
        "sweep", description="Name of the sweep artifact; its runs are named "
        "<name>-<algo>-seed<seed> (with -tasks<i> when there are several --tasks orders).")
    algo: tuple[str, ...] = Field(
        ("ptgm",), description="Algorithms, comma-separated: " + ", ".join(ALGOS) + ".")
    seeds: tuple[Seed, ...] = Field(
        (0,), description="RL seeds: a range such as 0-4, a list such as 0,2,5, or both.")
    tasks: tuple[tuple[str, ...], ...] | None = Field(
        None, description="Task orders, each comma-separated, separated by ';'; default "
        "train-rl's.")
    episodes: int = Field(50, gt=0, description="Episodes of each run's final `ptgm eval`.")
    address: str | None = Field(
        None, description="Ray cluster to run on: 'auto' or HOST:PORT of a running head (`ray "
        "start --head`); default: a local Ray on this machine's cores.")
    cpus: int = Field(
        0, ge=0, description="CPUs of the local Ray (not with --address); 0 = all cores.")
    cpus_per_run: int | None = Field(
        None, gt=0, description="CPUs each run asks Ray for; default its --num-envs (the "
        "learner takes its steps while the env workers play).")
    gpus_per_run: float = Field(
        0.0, ge=0, description="GPU share each run asks Ray for, for runs on GPU nodes.")

    _split_algos = field_validator("algo", mode="before")(_split_names)
    _parse_seeds = field_validator("seeds", mode="before")(_seed_list)
    _parse_tasks = field_validator("tasks", mode="before")(_task_sets)

    @field_validator("algo")
    @classmethod
    def _known_algos(cls, algos: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [algo for algo in algos if algo not in ALGOS]
        if unknown:
            raise ValueError(f"unknown algorithm(s) {unknown}; choose from {', '.join(ALGOS)}")
        return algos

    @field_validator("algo", "seeds")
    @classmethod
    def _distinct(cls, values: tuple) -> tuple:
        if not values:
            raise ValueError("give at least one")
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"{repeated} given more than once")
        return values

    @model_validator(mode="after")
    def _cluster_or_cores(self):
        if self.address is not None and "cpus" in self.model_fields_set:
            raise ValueError("--cpus sizes a local Ray; a cluster given by --address has its own")
        return self

    @model_validator(mode="after")
    def _options_apply_to_some_algo(self):
        for option in self.run_options():
            if not set(self.algo) & set(applies_to(option)):
                raise ValueError(f"{flag(option)} applies to none of --algo "
                                 f"{','.join(self.algo)}; see `ptgm train-rl --help`")
        return self

    @model_validator(mode="after")
    def _run_names_are_valid(self):
        for name in self.run_names():
            check_name(name)
        return self

    def run_options(self) -> dict:
        """The train-rl options given, for every run whose algorithm takes them."""
        return {name: getattr(self, name) for name in TrainRLConfig.model_fields
                if name not in SWEEP_AXES and getattr(self, name, None) is not None}

    def combinations(self) -> list[tuple[str, int, int | None]]:
        """(algo, seed, index of the task order or None), in the order runs are started."""
        orders = [None] if self.tasks is None else list(range(len(self.tasks)))
        return [(algo, seed, order) for order in orders for seed in self.seeds
                for algo in self.algo]

    def run_names(self) -> list[str]:
        return [self.run_name(*combination) for combination in self.combinations()]

    def run_name(self, algo: str, seed: int, order: int | None) -> str:
        several = self.tasks is not None and len(self.tasks) > 1
        return f"{self.name}-{algo}-seed{seed}" + (f"-tasks{order}" if several else "")

    def run_configs(self) -> list[TrainRLConfig]:
        """Every run's train-rl config; a value train-rl refuses is a one-line error."""
        options = self.run_options()
        configs = []
        for algo, seed, order in self.combinations():
            values = {name: value for name, value in options.items() if algo in applies_to(name)}
            values |= {"algo": algo, "seed": seed, "name": self.run_name(algo, seed, order)}
            if order is not None:
                values["tasks"] = self.tasks[order]
            try:
                configs.append(TrainRLConfig(**values))
            except ValidationError as error:
                problem = error.errors()[0]
                where = f"{flag(str(problem['loc'][0]))}: " if problem["loc"] else ""
                raise PtgmError(f"{where}{problem['msg'].removeprefix('Value error, ')} "
                                f"(run {values['name']})") from None
        return configs


def _sweep_field(field_name: str):
    """A train-rl option as a sweep option: unset (None) unless given."""
    field = TrainRLConfig.model_fields[field_name]
    extra = {"panel": SWEEP_RUN_OPTIONS, "algos": applies_to(field_name)}
    description = field.description
    if field.default is not None and field.annotation is not bool:
        description += f" train-rl's default: {field.default}."
    return (field.annotation | None,
            Field(None, description=description, json_schema_extra=extra))


SweepConfig = create_model(
    "SweepConfig", __base__=SweepOptions,
    **{name: _sweep_field(name) for name in TrainRLConfig.model_fields if name not in SWEEP_AXES},
)


class ReportConfig(StageConfig):
    name: ArtifactName = Field("report", description="Name of the report artifact to write.")
    sources: tuple[str, ...] = Field(
        ("sweep",), description="Sweeps or runs to report (each run with its `ptgm eval`), "
        "comma-separated.")
    reference: str = Field(
        "ptgm", description="The algorithm whose probability of improving on each other one "
        "is reported.")
    points: tuple[int, ...] = Field(
        (100_000, 250_000, 500_000, 1_000_000), description="Env steps at which the periodic "
        "evaluations are compared, where every run of an algorithm reached them.")
    reps: int = Field(2000, gt=0, description="Bootstrap replications of each confidence "
                      "interval.")
    seed: Seed = Field(0, description="Seed of the bootstrap and of the rollout videos.")
    videos: bool = Field(True, description="Embed a rollout of each algorithm's best run.")
    gallery: bool = Field(True, description="Embed the codebook gallery of the best PTGM run.")

    _split_sources = field_validator("sources", mode="before")(_split_names)

    @field_validator("points", mode="before")
    @classmethod
    def _split_points(cls, value):
        return tuple(int(part) for part in value.split(",")) if isinstance(value, str) else value
