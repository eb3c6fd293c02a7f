"""The library (kitchen, data, models, rl) never imports the workspace, the stages, the CLI or the
console: read from the source, imports inside functions and relative imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ptgm_cli

PACKAGE_ROOT = Path(ptgm_cli.__file__).parent
LIBRARY = ("kitchen", "data", "models", "rl")
FORBIDDEN = (
    "ptgm_cli.workspace", "ptgm_cli.stages", "ptgm_cli.cli", "ptgm_cli.report", "ptgm_cli.configs",
    "ptgm_cli.config", "ptgm_cli.manifests", "ptgm_cli.artifacts", "ptgm_cli.plotting", "rich",
    "typer",
)


def imported_names(source: str, package: str) -> set[str]:
    """Every module a source imports anywhere in it, relative imports resolved against `package`;
    `from X import Y` counts as X and as X.Y, since Y may be a module."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parents = package.split(".")
            parts = parents[:len(parents) - node.level + 1] if node.level else []
            module = ".".join(parts + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def forbidden_imports(source: str, package: str) -> list[str]:
    """The forbidden modules imported, each named once (X, not also X.Y)."""
    hits = {name for name in imported_names(source, package)
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)}
    return sorted(name for name in hits if not any(name.startswith(hit + ".") for hit in hits))


@pytest.mark.parametrize("package", LIBRARY)
def test_library_imports_no_workspace_stages_cli_or_console(package):
    violations = []
    for path in sorted((PACKAGE_ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        violations += [f"{module} -> {name}"
                       for name in forbidden_imports(path.read_text(), module.rpartition(".")[0])]
    assert not violations, "the library imports the application layer:\n" + "\n".join(violations)


def test_relative_and_function_level_imports_are_caught():
    source = (
        "from .. import report\n"
        "from ..workspace import Workspace\n"
        "from . import mlp\n"
        "def later():\n"
        "    import rich.table\n"
        "    from ptgm_cli.stages import train_prior\n"
    )
    assert forbidden_imports(source, "ptgm_cli.models") == [
        "ptgm_cli.report", "ptgm_cli.stages", "ptgm_cli.workspace", "rich.table"]
