"""Loading published artifacts: lineage checks, and artifacts whose parts disagree refused with
one line that names the artifact and the command that re-creates it."""

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ptgm_cli.artifacts import (
    load_codebook,
    load_policy,
    load_prior,
    load_run_weights,
    recorded_config,
)
from ptgm_cli.configs import BuildCodebookConfig, TrainRLConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.kitchen.layout import N_ACTION, OBS_DIM, goal_indices
from ptgm_cli.manifests import Manifest
from ptgm_cli.models.codebook import CODEBOOK_FILE
from ptgm_cli.models.policy import POLICY_FILE
from ptgm_cli.rl.checkpoint import WEIGHTS_FILE
from ptgm_cli.rl.continuous_sac import ContinuousSAC
from ptgm_cli.stages import build_codebook
from ptgm_cli.workspace import Artifact


def republish(workspace, kind, name, new_name, config=None, tensors=None, raw=None):
    """A copy of an artifact under `new_name`, published with consistent checksums but with its
    config's values replaced (`None` drops a key) and its safetensors file's tensors edited by
    `tensors(dict)` or its bytes replaced by `raw`."""
    original = workspace.load(kind, name)
    recorded = {**original.manifest.config, **(config or {}), "name": new_name}
    manifest = original.manifest.model_copy(update={
        "name": new_name, "files": [], "digest": "",
        "config": {key: value for key, value in recorded.items() if value is not None}})
    weights_file = {"codebook": CODEBOOK_FILE, "policy": POLICY_FILE}[kind]
    with workspace.publish(manifest, overwrite=True) as staging:
        for path in original.path.iterdir():
            if path.is_file() and path.name != "manifest.json":
                shutil.copy(path, staging.file(path.name))
        target = staging.file(weights_file)
        if tensors is not None:
            save_file(tensors(load_file(str(target))), str(target))
        if raw is not None:
            target.write_bytes(raw)


def refused(load, *args, match):
    with pytest.raises(PtgmError, match=match) as error:
        load(*args)
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.slow
def test_load_codebook(pretrained_workspace):
    codebook, artifact = load_codebook(pretrained_workspace, "default")
    assert codebook.codes.dtype == np.float32 and codebook.codes.shape == (6, 21)
    assert codebook.goal_indices == goal_indices("paper21") and codebook.n_codes == 6
    assert codebook.ref == artifact.ref
    qpos = np.arange(60, dtype=np.float32).reshape(2, 30)
    expected = qpos[1, list(goal_indices("paper21"))]
    np.testing.assert_array_equal(codebook.goals_of(qpos)[1], expected)
    assert set(codebook.subtasks_done()) == {"microwave", "kettle", "bottom burner", "light switch"}


@pytest.mark.slow
def test_load_policy_refuses_a_codebook_of_other_goal_dims(pretrained_workspace):
    codebook, _ = load_codebook(pretrained_workspace, "default")
    policy, artifact = load_policy(pretrained_workspace, "default", codebook)
    assert not policy.training and policy.goal_dims == "paper21"
    assert artifact.manifest.shapes.action_dim == 9
    other = type(codebook)(codebook.codes[:, :21], "objects21", codebook.goal_mean,
                           codebook.goal_std, codebook.ref)
    refused(load_policy, pretrained_workspace, "default", other,
            match="build-codebook --goal-dims paper21")


@pytest.mark.slow
def test_load_prior_with_its_own_codebook(pretrained_workspace):
    codebook, _ = load_codebook(pretrained_workspace, "default")
    prior, artifact = load_prior(pretrained_workspace, "default", codebook)
    assert not prior.training and prior(torch.zeros(1, 30)).shape == (1, 6)
    assert artifact.manifest.parent("codebook") == codebook.ref


@pytest.mark.slow
def test_load_prior_refuses_a_codebook_of_other_size_dims_or_origin(pretrained_workspace):
    codebook, _ = load_codebook(pretrained_workspace, "default")
    fewer = dataclasses.replace(codebook, codes=codebook.codes[:5])
    refused(load_prior, pretrained_workspace, "default", fewer,
            match="predicts 6 codes but codebook 'default' has 5")
    other_dims = dataclasses.replace(codebook, goal_dims="objects21")
    refused(load_prior, pretrained_workspace, "default", other_dims, match="uses objects21")
    build_codebook.run(BuildCodebookConfig(name="sibling", n_codes=6, subsample=2, seed=1),
                       pretrained_workspace)
    sibling, _ = load_codebook(pretrained_workspace, "sibling")
    refused(load_prior, pretrained_workspace, "default", sibling,
            match="trained on codebook 'default', not on codebook 'sibling'")


@pytest.mark.slow
@pytest.mark.parametrize("edit, match", [
    ({"config": {"goal_dims": None}}, "its manifest records no goal_dims"),
    ({"config": {"hidden": "wide"}}, "the config in its manifest is invalid \\(hidden"),
    ({"config": {"hidden": 64}}, "does not fit the model its manifest describes"),
    ({"tensors": lambda tensors: {k: v for k, v in tensors.items() if k != "mlp.head.bias"}},
     "missing mlp.head.bias"),
    ({"tensors": lambda tensors: {k: v.double() for k, v in tensors.items()}},
     "is torch.float64"),
    ({"raw": b"not a safetensors file"}, "is not a readable safetensors file"),
])
def test_a_policy_whose_parts_disagree_is_a_one_line_error(pretrained_workspace, edit, match):
    republish(pretrained_workspace, "policy", "default", "edited", **edit)
    message = refused(load_policy, pretrained_workspace, "edited", match=match)
    assert "`ptgm train-policy --name edited --force`" in message


@pytest.mark.slow
@pytest.mark.parametrize("edit, match", [
    ({"config": {"goal_dims": None}}, "its manifest records no goal_dims"),
    ({"config": {"n_codes": 7}}, "codes is torch.float32 \\(6, 21\\), not torch.float32 \\(7, "),
    ({"tensors": lambda tensors: {**tensors, "goal_mean": tensors["goal_mean"][:20]}},
     "goal_mean is torch.float32 \\(20,\\)"),
    ({"tensors": lambda tensors: {**tensors, "goal_std": tensors["goal_std"] * np.nan}},
     "goal_std is not finite"),
    ({"tensors": lambda tensors: {**tensors, "goal_std": -tensors["goal_std"]}},
     "goal std that is not positive"),
    ({"tensors": lambda tensors: {k: v for k, v in tensors.items() if k != "codes"}},
     "missing codes"),
])
def test_a_codebook_whose_arrays_disagree_is_a_one_line_error(pretrained_workspace, edit, match):
    republish(pretrained_workspace, "codebook", "default", "edited", **edit)
    message = refused(load_codebook, pretrained_workspace, "edited", match=match)
    assert "`ptgm build-codebook --name edited --force`" in message


def run_artifact(folder, config: dict) -> Artifact:
    return Artifact(folder, Manifest(kind="rl", name="flat", config=config))


def test_a_run_config_that_does_not_validate_is_a_one_line_error(tmp_path):
    recorded = TrainRLConfig(algo="sac").recorded()
    assert recorded_config(run_artifact(tmp_path, recorded), TrainRLConfig).algo == "sac"
    refused(recorded_config, run_artifact(tmp_path, {**recorded, "lr": 1e-3}), TrainRLConfig,
            match="does not apply to --algo sac")
    refused(recorded_config, run_artifact(tmp_path, {**recorded, "gamma": "high"}),
            TrainRLConfig, match="invalid \\(gamma")
    without_seed = {key: value for key, value in recorded.items() if key != "seed"}
    refused(recorded_config, run_artifact(tmp_path, without_seed), TrainRLConfig,
            match="records no seed; re-create it with `ptgm train-rl --name flat --force`")


def flat_agent(hidden: int) -> ContinuousSAC:
    return ContinuousSAC(OBS_DIM, N_ACTION, gamma=0.99, tau=0.005, hidden=hidden)


def test_run_weights_that_do_not_fit_the_networks_are_a_one_line_error(tmp_path):
    agent = flat_agent(hidden=8)
    weights = agent.weights()
    artifact = run_artifact(tmp_path, {})
    save_file(weights, str(tmp_path / WEIGHTS_FILE))
    load_run_weights(flat_agent(hidden=8), artifact)
    save_file({k: v for k, v in weights.items() if k != "log_alpha"}, str(tmp_path / WEIGHTS_FILE))
    refused(load_run_weights, agent, artifact, match="missing log_alpha")
    wider = flat_agent(hidden=16)
    save_file(weights, str(tmp_path / WEIGHTS_FILE))
    message = refused(load_run_weights, wider, artifact, match="not torch.float32 \\(16")
    assert "`ptgm train-rl --name flat --force`" in message
