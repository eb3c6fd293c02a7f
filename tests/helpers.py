"""Helpers shared by the test modules."""

import subprocess
import sys

from ptgm_cli.workspace import Workspace

CLI = [sys.executable, "-c", "from ptgm_cli.cli import run; run()"]


def cli_command(workspace, *args: str) -> list[str]:
    """The real console entry point; `workspace` is a Workspace, a folder or None."""
    if isinstance(workspace, Workspace):
        workspace = workspace.root
    prefix = [] if workspace is None else ["--workspace", str(workspace)]
    return [*CLI, *prefix, *args]


def run_cli(workspace, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `ptgm` in a subprocess, as a user would."""
    return subprocess.run(cli_command(workspace, *args), capture_output=True, text=True,
                          timeout=timeout)
