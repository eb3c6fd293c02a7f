"""The one supervised train loop of the pre-trained models, and seeding.

A model is trained on minibatches of row-indexed examples with RAdam (the paper's optimiser), at
a constant learning rate or one decayed along a cosine, validated after every epoch, and left
holding the weights of its best validation loss.
TensorBoard scalars and `metrics.jsonl` are written into the artifact being built.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ptgm_cli.errors import PtgmError
from ptgm_cli.machine import cpu_count

# (model, minibatch tensors) -> per-example values; "loss" is the one optimised, every value is
# averaged over the validation set.
Objective = Callable[[nn.Module, tuple[torch.Tensor, ...]], dict[str, torch.Tensor]]
# (steps done, total steps, live values: the smoothed training loss and the last validation loss)
ProgressCallback = Callable[[int, int, dict[str, float]], None]
VALIDATION_CHUNK = 16384
LOG_EVERY = 100  # steps between progress and TensorBoard updates of the training loss


def resolve_device(requested: str) -> torch.device:
    """The torch device that `--device` auto, cpu or cuda names on this machine; asking for a
    GPU that torch cannot see is refused rather than quietly run on the CPU."""
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise PtgmError("no CUDA device visible to torch; use --device cpu or auto")
    return torch.device("cuda")


def on_device(tensors: tuple[torch.Tensor, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(tensor.to(device) for tensor in tensors)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch, and use one torch thread per core (deterministic on CPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(cpu_count())


@dataclass(frozen=True)
class Examples:
    """`size` examples; `fetch(rows)` gathers the tensors of the given rows."""

    size: int
    fetch: Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


def gathered(*sources: tuple[torch.Tensor, np.ndarray]) -> Examples:
    """Examples whose i-th item is `tensor[rows[i]]` for each (tensor, rows) source."""
    tensors = [tensor for tensor, _ in sources]
    indices = [torch.from_numpy(rows) for _, rows in sources]

    def fetch(selected: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pairs = zip(tensors, indices, strict=True)
        return tuple(tensor[index[selected]] for tensor, index in pairs)

    return Examples(len(indices[0]), fetch)


@dataclass(frozen=True)
class FitSettings:
    epochs: int
    batch_size: int
    lr: float
    seed: int  # of the minibatch order
    lr_schedule: str = "constant"  # or "cosine"


def cosine_lr(lr: float, step: int, total_steps: int) -> float:
    """The learning rate after `step` of `total_steps`, decayed from `lr` to 0 along a half
    cosine (SGDR, Loshchilov & Hutter 2017, without restarts)."""
    return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, step / total_steps)))


@dataclass
class FitResult:
    best_epoch: int
    validation: dict[str, float]  # at the best epoch
    seconds: float
    steps: int
    samples_per_second: float
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def timings(self) -> dict[str, float]:
        return {"train_seconds": self.seconds, "samples_per_second": self.samples_per_second}


@torch.no_grad()
def evaluate(model: nn.Module, objective: Objective, examples: Examples,
             device: torch.device = torch.device("cpu")) -> dict[str, float]:
    """Mean of every objective value over all examples, in eval mode (BatchNorm statistics)."""
    model.eval()
    totals: dict[str, float] = {}
    for start in range(0, examples.size, VALIDATION_CHUNK):
        rows = torch.arange(start, min(start + VALIDATION_CHUNK, examples.size))
        for name, values in objective(model, on_device(examples.fetch(rows), device)).items():
            totals[name] = totals.get(name, 0.0) + float(values.sum())
    return {name: total / examples.size for name, total in totals.items()}


def fit(model: nn.Module, objective: Objective, train: Examples, validation: Examples,
        settings: FitSettings, log_dir: Path, description: str,
        on_progress: ProgressCallback | None = None,
        device: torch.device = torch.device("cpu")) -> FitResult:
    """Minimise the objective's mean loss; returns the best epoch's validation metrics.

    The model and each minibatch live on `device`; the minibatch order is drawn on the CPU, so
    it is the same on every device, and the model comes back on the CPU, so that its saved
    weights do not depend on where it trained.
    `on_progress` is called before the first step, every LOG_EVERY steps and after each epoch.
    """
    from torch.utils.tensorboard import SummaryWriter

    model.to(device)
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.RAdam(model.parameters(), lr=settings.lr)
    # The last partial minibatch is dropped: BatchNorm cannot train on a single example.
    batch_size = min(settings.batch_size, train.size)
    steps_per_epoch = train.size // batch_size
    total_steps = settings.epochs * steps_per_epoch
    notify = on_progress or (lambda steps_done, total, fields: None)
    writer = SummaryWriter(str(log_dir / "tensorboard"))
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = float("inf"), 0, None
    step, started = 0, time.perf_counter()
    last_validation: dict[str, float] = {}
    notify(step, total_steps, {})
    with open(log_dir / "metrics.jsonl", "w") as metrics_file:
        for epoch in range(1, settings.epochs + 1):
            model.train()
            order = torch.randperm(train.size, generator=generator)
            running = 0.0
            for batch in range(steps_per_epoch):
                rows = order[batch * batch_size:(batch + 1) * batch_size]
                loss = objective(model, on_device(train.fetch(rows), device))["loss"].mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if settings.lr_schedule == "cosine":
                    for group in optimizer.param_groups:
                        group["lr"] = cosine_lr(settings.lr, step, total_steps)
                running = loss.item() if batch == 0 else 0.98 * running + 0.02 * loss.item()
                if step % LOG_EVERY == 0:
                    writer.add_scalar("losses/train", running, step)
                    notify(step, total_steps, {"loss": running, **last_validation})
            scores = evaluate(model, objective, validation, device)
            last_validation = {"val_loss": scores["loss"]}
            notify(step, total_steps, {"loss": running, **last_validation})
            elapsed = time.perf_counter() - started
            record = {"epoch": epoch, "step": step, "train/loss": running,
                      **{f"validation/{k}": v for k, v in scores.items()},
                      "charts/samples_per_second": step * batch_size / elapsed}
            history.append(record)
            metrics_file.write(json.dumps(record) + "\n")
            for name, value in record.items():
                if name not in ("epoch", "step", "train/loss"):
                    writer.add_scalar(name, value, step)
            if scores["loss"] < best_loss:
                best_loss, best_epoch = scores["loss"], epoch
                best_state = copy.deepcopy(model.state_dict())
    writer.close()
    if best_state is None:
        raise PtgmError(f"{description}: the validation loss is not finite; lower --lr")
    model.load_state_dict(best_state)
    model.cpu().eval()
    seconds = time.perf_counter() - started
    best = history[best_epoch - 1]
    return FitResult(
        best_epoch=best_epoch,
        validation={k.removeprefix("validation/"): v for k, v in best.items()
                    if k.startswith("validation/")},
        seconds=seconds, steps=step, samples_per_second=step * batch_size / seconds,
        history=history,
    )
