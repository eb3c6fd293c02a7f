"""Each train-rl algorithm built from its config: the agent, how its decisions become env actions,
and the task's envs. PTGM loads the pre-trained goal models, SPiRL the skill model; flat SAC
needs none. Training, evaluation
and the benchmark all build runs here, so a published run always rebuilds into the networks it
was trained with.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from ptgm_cli.artifacts import load_codebook, load_policy, load_prior, load_skills
from ptgm_cli.configs import DECODERS, SKILL_ALGOS, TrainRLConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, OBS_DIM
from ptgm_cli.manifests import ParentRef
from ptgm_cli.models.features import OBS_NAMES, feature_names
from ptgm_cli.rl.agent import SACAgent
from ptgm_cli.rl.continuous_sac import ContinuousSAC
from ptgm_cli.rl.discrete_sac import DiscreteSAC, fresh_copy
from ptgm_cli.rl.evaluation import PriorActor, PriorCodes, PriorSkills
from ptgm_cli.rl.hierarchy import Options, flat_options, goal_options, skill_options
from ptgm_cli.rl.skill_sac import SkillSAC
from ptgm_cli.rl.vec_env import EnvSpec
from ptgm_cli.workspace import Workspace

# Discrete SAC's usual entropy target (Christodoulou 2019): 98% of the uniform policy's entropy.
DISCRETE_ENTROPY_RATIO = 0.98


@dataclass
class RLSetup:
    agent: SACAgent
    options: Options
    parents: list[ParentRef]
    state_names: list[str]
    n_codes: int | None
    prior: PriorActor | None  # the prior acting alone: the pre-trained models' health check
    latent_dim: int | None = None


def env_spec(config: TrainRLConfig) -> EnvSpec:
    """The downstream task a run's config describes."""
    return EnvSpec(config.tasks, not config.any_order, config.episode_steps)


def build(config: TrainRLConfig, workspace: Workspace,
          device: torch.device = torch.device("cpu")) -> RLSetup:
    """The run's setup with its learner on `device`; the low-level policy stays on the CPU, where
    the main process executes it."""
    if config.algo == "sac":
        agent = ContinuousSAC(OBS_DIM, N_ACTION, gamma=config.gamma, tau=config.tau,
                              hidden=config.hidden, target_entropy=config.target_entropy,
                              device=device)
        return RLSetup(agent, flat_options(N_ACTION), [], list(OBS_NAMES), None, None)
    if config.algo in SKILL_ALGOS:
        return build_spirl(config, workspace, device)

    codebook, codebook_artifact = load_codebook(workspace, config.codebook)
    prior, prior_artifact = load_prior(workspace, config.prior, codebook)
    policy, policy_artifact = load_policy(workspace, config.policy, codebook)
    prior.eval()
    bounded = config.critics == "bounded"
    if config.algo == "ptgm":
        # PTGM §4.3: the high-level policy starts as the prior and is pulled towards it.
        actor, regulariser = copy.deepcopy(prior), prior
        target = config.target_divergence
        # One unit of reward per subtask and a KL >= 0: no soft value exceeds the subtask count.
        value_ceiling = float(len(config.tasks)) if bounded else None
    else:
        actor, regulariser = fresh_copy(prior), None
        target_entropy = config.target_entropy
        if target_entropy is None:
            target_entropy = DISCRETE_ENTROPY_RATIO * math.log(codebook.n_codes)
        target = -target_entropy  # the regulariser is the negative entropy
        value_ceiling = None  # the entropy bonus adds to the return without a fixed bound
    agent = DiscreteSAC(
        actor, regulariser, prior.mlp.input_mean, prior.mlp.input_std, codebook.n_codes,
        target=target, gamma=config.gamma, tau=config.tau, lr=config.lr,
        grad_clip=config.grad_clip, hidden=config.hidden, critic_layers=config.critic_layers,
        value_ceiling=value_ceiling, expected_next_value=bounded, critic_layer_norm=bounded,
        episode_steps=config.episode_steps if bounded else None, device=device,
    )
    options = goal_options(policy, codebook, prior.features, config.hl_interval,
                           sample=config.low_level_actions == "sample")
    parents = [artifact.ref for artifact in (codebook_artifact, prior_artifact, policy_artifact)]
    return RLSetup(agent, options, parents, feature_names(prior.state_features), codebook.n_codes,
                   PriorCodes(prior))


def build_spirl(config: TrainRLConfig, workspace: Workspace, device: torch.device) -> RLSetup:
    """SPiRL (open-loop decoder) or SPiRL-cl (closed-loop) over a trained skill model."""
    model, artifact = load_skills(workspace, config.skills)
    decoder = "closed-loop" if model.closed_loop else "open-loop"
    if decoder != DECODERS[config.algo]:
        wanted = DECODERS[config.algo]
        raise PtgmError(f"skills {config.skills!r} have a {decoder} decoder; --algo {config.algo} "
                        f"needs the {wanted} one: give --skills or train them with `ptgm "
                        f"train-skills --decoder {wanted} --name {wanted}`")
    agent = SkillSAC(
        model.prior, model.state_mean, model.state_std, model.latent_dim,
        target_divergence=config.target_divergence, gamma=config.gamma, tau=config.tau,
        lr=config.lr, hidden=config.hidden, critic_layers=config.critic_layers, device=device,
    )
    return RLSetup(agent, skill_options(model), [artifact.ref],
                   artifact.manifest.shapes.state_names, None, PriorSkills(model.prior),
                   model.latent_dim)
