"""The one channel through which stages report: Rich on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from ptgm_cli.models.training import FitResult, ProgressCallback

console = Console(stderr=True)  # progress, logs and errors
results = Console()  # what a command was asked to show: tables, summaries


class ProgressHandle:
    """Advance a task and show live fields (losses, steps/s) beside it."""

    def __init__(self, progress: Progress | None, task_id, total: int, description: str,
                 completed: int = 0):
        self._progress = progress
        self._task_id = task_id
        self._total = total
        self._description = description
        self._done = completed
        self._completed_before = completed
        self._next_line = 0.0
        self._started = time.monotonic()

    def advance(self, amount: int = 1, **fields) -> None:
        self._done += amount
        text = "  ".join(f"{k} {_fmt(v)}" for k, v in fields.items())
        if self._progress is not None:
            self._progress.update(self._task_id, advance=amount, fields=text)
            return
        now = time.monotonic()
        if now >= self._next_line or self._done >= self._total:
            self._next_line = now + 10.0
            rate = (self._done - self._completed_before) / max(now - self._started, 1e-9)
            console.print(
                f"{self._description}: {self._done}/{self._total} ({rate:.1f}/s) {text}",
                highlight=False,
            )


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def info(message: str) -> None:
    console.print(message, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


@contextmanager
def progress(total: int, description: str, completed: int = 0) -> Iterator[ProgressHandle]:
    """A bar from `completed` to `total`; the rate counts only the work done from now on."""
    if not console.is_terminal:
        yield ProgressHandle(None, None, total, description, completed)
        return
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[fields]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task_id = bar.add_task(description, total=total, completed=completed, fields="")
        yield ProgressHandle(bar, task_id, total, description, completed)


@contextmanager
def progress_callback(description: str) -> Iterator[ProgressCallback]:
    """A `(done, total, fields)` callback for the library's long loops, drawing a bar opened at
    its first call (when the loop knows its total)."""
    with ExitStack() as stack:
        bar: ProgressHandle | None = None
        shown = 0

        def update(done: int, total: int, fields: dict[str, float]) -> None:
            nonlocal bar, shown
            if bar is None:
                bar = stack.enter_context(progress(total, description))
            if done > shown or fields:
                bar.advance(done - shown, **fields)
                shown = done

        yield update


def fit_summary(title: str, result: FitResult, shown: dict[str, str]) -> None:
    """A results table of a training run: the `shown` validation metrics (label -> key) at the
    best epoch, and its length and speed."""
    table = Table(title=title)
    table.add_column("")
    table.add_column("value", justify="right")
    for label, key in shown.items():
        table.add_row(label, f"{result.validation[key]:.4g}")
    table.add_row("best epoch", f"{result.best_epoch} of {len(result.history)}")
    table.add_row("training time", f"{result.seconds:.0f} s ({result.steps} steps)")
    table.add_row("samples/s", f"{result.samples_per_second:.0f}")
    results.print(table)
