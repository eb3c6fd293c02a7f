"""Scalars of a run to TensorBoard and `metrics.jsonl` (always, locally) and to wandb (opt-in).

Names are namespaced as in CleanRL: `charts/...` for what the agent achieves, `losses/...` for
the learner. A resumed run first drops the records written after its checkpoint, so that the logs
read as if the run had never stopped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ptgm_cli.errors import PtgmError

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def read_metrics(path: Path) -> list[dict]:
    """Records of a metrics.jsonl file. Its last line may be cut short (by a crash, or by a run
    still writing it) and is then skipped; any other line that is not a record is an error."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise PtgmError(f"cannot read metrics file {path}: {error}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            record = None
        if not _is_record(record):
            raise PtgmError(f"metrics file {path} is damaged: line {number} is not a JSON object "
                            "of numbers with a 'step'")
        records.append(record)
    return records


def _is_record(record) -> bool:
    """A line as `RunLogger.log` writes it: numbers, one of them a finite 'step'."""
    return (isinstance(record, dict) and "step" in record
            and all(isinstance(value, int | float) and not isinstance(value, bool)
                    for value in record.values())
            and math.isfinite(record["step"]))


class RunLogger:
    def __init__(self, folder: Path, resume: dict | None, wandb_run: dict | None = None):
        """`resume`: the `state(step)` saved with the checkpoint being resumed, else None (fresh
        logs). `wandb_run`: `wandb.init` arguments, or None to stay local."""
        from torch.utils.tensorboard import SummaryWriter

        metrics_path = folder / METRICS_FILE
        self.records = 0
        if resume is None:
            metrics_path.unlink(missing_ok=True)
        else:
            self.records = resume["records"]
            kept = read_metrics(metrics_path)[:self.records] if metrics_path.exists() else []
            metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._metrics = open(metrics_path, "a")
        purge_step = None if resume is None else resume["step"] + 1
        self._writer = SummaryWriter(str(folder / TENSORBOARD_DIR), purge_step=purge_step)
        self._wandb = None
        if wandb_run is not None:
            try:
                import wandb
            except ImportError:
                raise PtgmError(
                    "--wandb needs the wandb package: pip install wandb (or drop --wandb; "
                    "TensorBoard logs are always written)"
                ) from None
            self._wandb = wandb.init(**wandb_run, resume="allow")

    def state(self, step: int) -> dict:
        """What a checkpoint at env step `step` must remember to resume these logs."""
        return {"step": step, "records": self.records}

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self._metrics.write(json.dumps({"step": step, **scalars}) + "\n")
        self.records += 1
        for name, value in scalars.items():
            self._writer.add_scalar(name, value, step)
        if self._wandb is not None:
            self._wandb.log({"global_step": step, **scalars})

    def flush(self) -> None:
        self._metrics.flush()
        self._writer.flush()

    def close(self) -> None:
        self._metrics.close()
        self._writer.close()
        if self._wandb is not None:
            self._wandb.finish()

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
