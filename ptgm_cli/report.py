"""The one channel through which stages report: Rich on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

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
