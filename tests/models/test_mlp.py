import numpy as np
import torch
from torch import nn

from ptgm_cli.models.mlp import MIN_INPUT_STD, MLP, load_weights, save_weights


def test_paper_architecture():
    mlp = MLP(30, 50)
    kinds = [type(layer) for layer in mlp.body]
    assert kinds == [nn.Linear, nn.LeakyReLU] + [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU] * 3
    assert all(layer.bias is None for layer in mlp.body[2::3])
    assert {layer.negative_slope for layer in mlp.body if isinstance(layer, nn.LeakyReLU)} == {0.2}
    assert mlp.body[0].out_features == 128 and mlp.head.out_features == 50


def test_input_normalisation_is_saved_with_the_weights(tmp_path):
    inputs = np.random.default_rng(0).normal(3.0, 2.0, size=(500, 4))
    inputs[:, 3] = 1.0  # a constant input gets the std floor, not a division by zero
    mlp = MLP(4, 2, hidden=16)
    mlp.fit_input_normalisation(inputs[:, :2], inputs[:, 2:])
    np.testing.assert_allclose(mlp.input_mean, inputs.mean(0), rtol=1e-5)
    assert mlp.input_std[3] == MIN_INPUT_STD
    mlp.eval()
    save_weights(mlp, tmp_path / "mlp.safetensors")
    restored = load_weights(MLP(4, 2, hidden=16), tmp_path / "mlp.safetensors", fix="")
    batch = torch.randn(7, 4)
    torch.testing.assert_close(restored(batch), mlp(batch), rtol=0, atol=0)
    assert not restored.training


def test_any_leading_batch_shape():
    mlp = MLP(3, 5, hidden=8).eval()
    assert mlp(torch.zeros(2, 4, 3)).shape == (2, 4, 5)
