import dataclasses

import numpy as np
import pytest
import torch

from ptgm_cli.artifacts import load_codebook, load_prior
from ptgm_cli.configs import BuildCodebookConfig
from ptgm_cli.errors import PtgmError
from ptgm_cli.models.mlp import load_weights, save_weights
from ptgm_cli.models.prior import GoalPrior, classification
from ptgm_cli.stages import build_codebook


def test_classification_objective():
    prior = GoalPrior(n_codes=6, hidden=16).eval()
    states, labels = torch.randn(10, 30), torch.arange(10) % 6
    values = classification(prior, (states, labels))
    logits = prior(states)
    torch.testing.assert_close(values["loss"], torch.nn.functional.cross_entropy(
        logits, labels, reduction="none"))
    assert (values["top1"] == (logits.argmax(-1) == labels)).all()
    assert (values["top5"] >= values["top1"]).all()


def test_save_load_round_trip_gives_identical_logits(tmp_path):
    prior = GoalPrior(state_features="obs59", n_codes=7, hidden=16)
    prior.mlp.fit_input_normalisation(np.random.default_rng(0).normal(size=(50, 59)))
    prior.train()(torch.randn(32, 59))  # move the BatchNorm statistics
    prior.eval()
    save_weights(prior, tmp_path / "prior.safetensors")
    restored = load_weights(GoalPrior("obs59", 7, 16), tmp_path / "prior.safetensors", fix="")
    states = torch.randn(4, 59)
    torch.testing.assert_close(restored(states), prior(states), rtol=0, atol=0)


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
    with pytest.raises(PtgmError, match="predicts 6 codes but codebook 'default' has 5"):
        load_prior(pretrained_workspace, "default", fewer)
    other_dims = dataclasses.replace(codebook, goal_dims="objects21")
    with pytest.raises(PtgmError, match="uses objects21"):
        load_prior(pretrained_workspace, "default", other_dims)
    build_codebook.run(BuildCodebookConfig(name="sibling", n_codes=6, subsample=2, seed=1),
                       pretrained_workspace)
    sibling, _ = load_codebook(pretrained_workspace, "sibling")
    with pytest.raises(PtgmError, match="trained on codebook 'default', not on codebook 'sibling'"):
        load_prior(pretrained_workspace, "default", sibling)
