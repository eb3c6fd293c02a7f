"""The device a run trains on, that choosing the CPU changes nothing, and the learning rate's
schedule."""

import pytest
import torch
from torch import nn

from ptgm_cli.errors import PtgmError
from ptgm_cli.models.training import Examples, FitSettings, cosine_lr, fit, resolve_device


@pytest.fixture
def gpu_visible(monkeypatch):
    """`gpu_visible(bool)`: what torch answers when asked for CUDA; nothing is moved."""
    return lambda visible: monkeypatch.setattr(torch.cuda, "is_available", lambda: visible)


def test_auto_takes_the_cpu_without_a_gpu(gpu_visible):
    gpu_visible(False)
    assert resolve_device("auto") == resolve_device("cpu") == torch.device("cpu")


def test_auto_takes_the_gpu_when_torch_sees_one(gpu_visible):
    gpu_visible(True)
    assert resolve_device("auto") == resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_is_a_one_line_error(gpu_visible):
    gpu_visible(False)
    with pytest.raises(PtgmError) as error:
        resolve_device("cuda")
    assert str(error.value) == "no CUDA device visible to torch; use --device cpu or auto"


def regression_examples(rows: int, seed: int) -> Examples:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(rows, 3, generator=generator)
    targets = inputs @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(rows, generator=generator)
    return Examples(rows, lambda selected: (inputs[selected], targets[selected]))


def squared_error(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    inputs, targets = batch
    return {"loss": (model(inputs).squeeze(1) - targets) ** 2}


@pytest.mark.slow
def test_fit_on_the_cpu_device_is_the_fit_without_one(tmp_path):
    weights = []
    for run, device in enumerate((None, torch.device("cpu"))):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        log_dir = tmp_path / str(run)
        log_dir.mkdir()
        extra = {} if device is None else {"device": device}
        fit(model, squared_error, regression_examples(64, 1), regression_examples(16, 2),
            FitSettings(epochs=2, batch_size=8, lr=1e-2, seed=3), log_dir, "test", **extra)
        weights.append(model.state_dict())
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[0].items():
        assert tensor.equal(weights[1][name]), name


def test_the_cosine_schedule_falls_from_the_learning_rate_to_zero():
    assert cosine_lr(1e-3, 0, 100) == 1e-3
    assert cosine_lr(1e-3, 50, 100) == pytest.approx(5e-4)
    assert cosine_lr(1e-3, 25, 100) > cosine_lr(1e-3, 26, 100) > cosine_lr(1e-3, 75, 100)
    assert cosine_lr(1e-3, 100, 100) == 0.0


def test_a_cosine_schedule_changes_the_fit_and_is_deterministic(tmp_path):
    weights = []
    for run, schedule in enumerate(("constant", "cosine", "cosine")):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
        log_dir = tmp_path / str(run)
        log_dir.mkdir()
        fit(model, squared_error, regression_examples(64, 1), regression_examples(16, 2),
            FitSettings(epochs=2, batch_size=8, lr=1e-2, seed=3, lr_schedule=schedule),
            log_dir, "test")
        weights.append(model.state_dict())
    constant, cosine, again = weights
    assert not all(constant[name].equal(cosine[name]) for name in constant)
    assert all(cosine[name].equal(again[name]) for name in cosine)
