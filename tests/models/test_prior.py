import numpy as np
import torch

from ptgm_cli.models.mlp import load_weights, save_weights
from ptgm_cli.models.prior import GoalPrior, classification


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
