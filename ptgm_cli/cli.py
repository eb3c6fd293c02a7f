"""The `ptgm` command line: options -> config -> stage.run(); it only parses and prints."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ptgm_cli import configs, report
from ptgm_cli.config import StageConfig, config_to_toml, flag, read_config_file, resolve_config
from ptgm_cli.configs import ALGOS
from ptgm_cli.errors import PtgmError
from ptgm_cli.manifests import ARTIFACT_KINDS
from ptgm_cli.workspace import PRODUCER, Workspace

app = typer.Typer(
    help="PTGM on Franka Kitchen: pre-train goal-based models on demonstrations, then learn "
    "downstream tasks with a prior-regularised high-level policy.\n\n"
    "Pipeline: fetch-data -> build-codebook -> train-policy / train-prior -> train-rl -> eval.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WORKSPACE_HELP = "Workspace folder holding the artifacts (env PTGM_WORKSPACE)."


@app.callback()
def main(
    ctx: typer.Context,
    workspace: Path = typer.Option(
        Path("workspace"), "--workspace", "-w", envvar="PTGM_WORKSPACE", help=WORKSPACE_HELP
    ),
) -> None:
    if workspace.exists() and not workspace.is_dir():
        raise PtgmError(f"--workspace {workspace} is a file; give a folder (it is created if "
                        "missing)")
    ctx.obj = Workspace(workspace)


def _cli_annotation(annotation: Any) -> Any:
    """The type Typer parses for a config field (validation is left to pydantic)."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if annotation in (bool, int, float, str, Path):
        return annotation
    if origin is typing.Annotated:
        return _cli_annotation(args[0])
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _cli_annotation(args[0])
    if origin is typing.Literal:
        return str
    return str  # tuples are given comma-separated


def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a Literal field, optional or not."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next((_choices(arg) for arg in typing.get_args(annotation) if _choices(arg)), ())
    return ()


ARGUMENT = "positional_argument"
CONFIG_PANEL = "Config file and overwriting"


def _option(field_name: str, field) -> Any:
    """The Typer option of a config field. Its default is None, so that only the flags given
    override a --config file; the config's own default is shown in the help text instead."""
    option, default = flag(field_name), field.default
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
    metavar = None
    if _cli_annotation(field.annotation) is bool:
        negative = f"--no-{option[2:]}"
        option, metavar, shown = f"{option}/{negative}", "", option if default else negative
    elif _choices(field.annotation):
        metavar = "|".join(_choices(field.annotation))
    help_text = field.description + ("" if shown is None else f" \\[default: {shown}]")
    extra = field.json_schema_extra or {}
    panel, algos = extra.get("panel"), extra.get("algos", ())
    if panel and algos and f"({', '.join(algos)})" not in panel and len(algos) < len(ALGOS):
        help_text = f"{', '.join(algos)}: {help_text}"
    return typer.Option(None, option, help=help_text, metavar=metavar, show_default=False,
                        rich_help_panel=panel)


def stage_command(
    command: str, config_cls: type[StageConfig], module: str, kind: str, help_text: str,
    summarise: Callable[[Any], None] | None = None, argument: str | None = None,
) -> None:
    """Register `ptgm <command>`, which makes an artifact of `kind`: one option per config
    field, plus --config and --force. The artifact is reserved while the stage runs.

    `argument` names a field that may also be given as the command's one positional argument
    (`ptgm eval ptgm-seed0` for `ptgm eval --run ptgm-seed0`).
    """
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter(
            "config_file", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
            default=typer.Option(
                None, "--config", help="TOML file with any of these options; flags override it.",
                rich_help_panel=CONFIG_PANEL,
            ),
        ),
        inspect.Parameter(
            "force", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
            default=typer.Option(False, "--force", help="Replace an existing artifact.",
                                 metavar="", rich_help_panel=CONFIG_PANEL),
        ),
    ]
    if argument is not None:
        # A list field takes several arguments (`ptgm report sweep-a sweep-b`).
        many = typing.get_origin(config_cls.model_fields[argument].annotation) is tuple
        parameters.insert(1, inspect.Parameter(
            ARGUMENT, inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=(list[str] if many else str) | None,
            default=typer.Argument(None, metavar=argument.upper(), show_default=False,
                                   help=f"Same as --{argument}."),
        ))
    for field_name, field in config_cls.model_fields.items():
        parameters.append(inspect.Parameter(
            field_name, inspect.Parameter.KEYWORD_ONLY,
            annotation=_cli_annotation(field.annotation) | None, default=_option(field_name, field),
        ))

    def run_stage(ctx: typer.Context, config_file: Path | None, force: bool, **flags) -> None:
        positional = flags.pop(ARGUMENT, None)
        if positional is not None:
            if flags[argument] not in (None, positional):
                raise PtgmError(f"ptgm {command} got both {positional!r} and "
                                f"--{argument} {flags[argument]!r}; give one")
            flags[argument] = positional
        file_values = read_config_file(config_file) if config_file else {}
        config = resolve_config(config_cls, file_values, flags, command)
        stage = importlib.import_module(f"ptgm_cli.stages.{module}")
        if hasattr(stage, "preflight"):
            stage.preflight(config)
        if not force and hasattr(stage, "finished") and stage.finished(config, ctx.obj):
            report.info(f"{kind} {config.artifact_name!r} has finished: nothing to do "
                        "(--force runs it again)")
            return
        with ctx.obj.reserve(kind, config.artifact_name, force):
            result = stage.run(config, ctx.obj, force=force)
        if summarise is not None:
            summarise(result)

    run_stage.__signature__ = inspect.Signature(parameters)
    run_stage.__doc__ = help_text
    app.command(command, help=help_text)(run_stage)


def _published(artifact) -> None:
    report.info(
        f"[green]published[/green] {artifact.manifest.kind} "
        f"[bold]{artifact.manifest.name}[/bold] -> {artifact.path}"
    )


# (command, config, module of ptgm_cli.stages, kind of artifact it publishes, help)
STAGES = (
    ("fetch-data", configs.FetchDataConfig, "fetch_data", "dataset",
     "Make (scripted expert) or load (Minari, D4RL) a dataset of kitchen episodes."),
    ("build-codebook", configs.BuildCodebookConfig, "build_codebook", "codebook",
     "Cluster the dataset's goal states into a discrete goal space (the codebook)."),
    ("train-policy", configs.TrainPolicyConfig, "train_policy", "policy",
     "Behaviour-clone the goal-conditioned low-level policy pi(a | s, g)."),
    ("train-prior", configs.TrainPriorConfig, "train_prior", "prior",
     "Train the goal prior p(code | s), a classifier over the codebook."),
    ("train-skills", configs.TrainSkillsConfig, "train_skills", "skills",
     "Train SPiRL's skill model (encoder, decoder, skill prior) on a dataset."),
    ("eval-policy", configs.EvalPolicyConfig, "eval_policy", "eval",
     "Check in the simulator that the low-level policy reaches commanded goals."),
    ("eval-skills", configs.EvalSkillsConfig, "eval_skills", "eval",
     "Check in the simulator that SPiRL's decoded skills reproduce held-out demonstrations."),
    ("train-rl", configs.TrainRLConfig, "train_rl", "rl",
     "Learn a downstream task: high-level SAC over codes with KL to the prior (or a baseline)."),
    ("eval", configs.EvalConfig, "evaluate", "eval",
     "Evaluate an RL run: completed subtasks, per-subtask success, optional video."),
    ("sweep", configs.SweepConfig, "sweep", "sweep",
     "Run train-rl and eval for every combination of algorithms, seeds and task orders, on a "
     "local Ray or an existing Ray cluster; run it again to resume."),
    ("report", configs.ReportConfig, "report_study", "report",
     "Compare algorithms over sweeps or runs: IQM and mean with bootstrap confidence intervals "
     "(rliable), curves, and an HTML page with videos and the codebook."),
)
# Fields that a command also takes as its positional argument.
POSITIONAL_ARGUMENTS = {"eval": "run", "sweep": "name", "report": "sources"}
for _command, _config_cls, _module, _kind, _help in STAGES:
    stage_command(_command, _config_cls, _module, _kind, _help, summarise=_published,
                  argument=POSITIONAL_ARGUMENTS.get(_command))


def _find(workspace: Workspace, name: str, kinds: tuple[str, ...] = ARTIFACT_KINDS):
    """Look up `name` or `kind/name`; refuse ambiguous names."""
    if "/" in name:
        kind, _, name = name.partition("/")
        if kind not in ARTIFACT_KINDS:
            raise PtgmError(f"unknown artifact kind {kind!r}; kinds: {', '.join(ARTIFACT_KINDS)}")
        return workspace.read_manifest(kind, name)
    matches = [kind for kind in kinds if workspace.exists(kind, name)]
    if not matches:
        raise PtgmError(f"no artifact named {name!r} in {workspace.root}; see `ptgm status`")
    if len(matches) > 1:
        options = ", ".join(f"{kind}/{name}" for kind in matches)
        raise PtgmError(f"{name!r} names several artifacts; say which: {options}")
    return workspace.read_manifest(matches[0], name)


# The figures `ptgm status` shows for each kind of artifact, with short labels.
KEY_METRICS = {
    "dataset": (("episodes", "episodes"), ("steps", "steps")),
    "codebook": (("goals", "goals"),),
    "policy": (("validation_nll", "val NLL"),),
    "prior": (("validation_top1", "top-1"), ("validation_top5", "top-5")),
    "skills": (("validation_action_mse", "val action MSE"),),
    "rl": (("env_steps", "steps"), ("recent_completed_subtasks", "subtasks")),
    "eval": (("completed_subtasks_mean", "subtasks"), ("ratio_median", "distance ratio")),
    "sweep": (("runs", "runs"),),
    "report": (("runs", "runs"),),
}


def _short(value) -> str:
    """A metric in a few characters; a manifest may hold any JSON value there, shown as text
    (not as the table's markup)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))


@app.command()
def status(ctx: typer.Context) -> None:
    """Show the workspace's artifacts and their lineage."""
    workspace: Workspace = ctx.obj
    manifests, problems = workspace.all_manifests()
    for problem in problems:
        report.warn(problem)
    if not manifests:
        report.results.print(f"no artifacts in {workspace.root}; start with `ptgm fetch-data`")
        return
    table = Table(title=f"workspace {workspace.root}")
    for column in ("kind", "name", "created", "made from", "shapes", "key metrics"):
        table.add_column(column, overflow="fold")
    for manifest in manifests:
        lineage = []
        for parent in manifest.parents:
            current = workspace.is_current(parent)
            stale = "" if current else " [red](stale)[/red]"
            lineage.append(f"{parent.kind}/{parent.name}{stale}")
        shapes = manifest.shapes
        shape_text = ", ".join(
            f"{label} {value}" for label, value in (
                ("state", shapes.state_dim), ("goal", shapes.goal_dim),
                ("codes", shapes.n_codes), ("action", shapes.action_dim),
            ) if value is not None
        )
        metrics = ", ".join(
            f"{label} {_short(manifest.metrics[key])}"
            for key, label in KEY_METRICS[manifest.kind] if key in manifest.metrics
        )
        table.add_row(
            manifest.kind, manifest.name, manifest.created.strftime("%m-%d %H:%M"),
            "\n".join(lineage) or "-", shape_text or "-", metrics or "-",
        )
    report.results.print(table)


@app.command()
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Artifact name, or kind/name when ambiguous."),
) -> None:
    """Print an artifact's resolved config as a TOML file that reproduces it."""
    manifest = _find(ctx.obj, name)
    command = _producer(manifest)
    sys.stdout.write(
        f"# {manifest.kind} {manifest.name!r}, made {manifest.created:%Y-%m-%d %H:%M} UTC\n"
        f"# reproduce with: {command} --config THIS_FILE.toml\n"
    )
    sys.stdout.write(config_to_toml(manifest.config))


def _producer(manifest) -> str:
    """The command that made an artifact, whose options are its config's keys: `eval` and
    `eval-policy` both publish eval artifacts."""
    makers = [command for command, config_cls, _, kind, _ in STAGES
              if kind == manifest.kind and set(manifest.config) <= set(config_cls.model_fields)]
    return f"ptgm {makers[0]}" if len(makers) == 1 else PRODUCER[manifest.kind]


@app.command("show-data")
def show_data(
    ctx: typer.Context,
    name: str = typer.Argument("default", help="Dataset artifact name."),
) -> None:
    """Summarise a dataset: episodes, steps, subtask frequencies, order statistics."""
    from ptgm_cli.stages.fetch_data import order_table, sequences_table, summary_table

    metrics = ctx.obj.load("dataset", name).manifest.metrics
    for table in (summary_table(name, metrics), order_table(metrics), sequences_table(metrics)):
        report.results.print(table)


@app.command()
def doctor() -> None:
    """Check the installation: simulator, environment, rendering, torch threads."""
    from ptgm_cli.doctor import run_checks

    failures = 0
    table = Table(title="ptgm doctor")
    for column in ("check", "result", "fix"):
        table.add_column(column)
    for check in run_checks():
        mark = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]",
                "fail": "[red]FAIL[/red]"}[check.level]
        failures += check.level == "fail"
        table.add_row(check.name, f"{mark} {check.detail}", check.fix or "")
    report.results.print(table)
    if failures:
        raise typer.Exit(1)


@app.command()
def plot(
    ctx: typer.Context,
    runs: list[str] = typer.Argument(
        ..., help="RL runs: artifact names, or run folders / metrics.jsonl files (also of runs "
        "still training, in <workspace>/rl/.runs/)."
    ),
    out: Path = typer.Option(Path("curves.png"), "--out", help="PNG file to write."),
    metric: str = typer.Option(
        "charts/completed_subtasks", "--metric", help="Scalar of metrics.jsonl to plot."
    ),
) -> None:
    """Learning curves of RL runs: mean and spread over the seeds of each algorithm."""
    from ptgm_cli.plotting import plot_runs, resolve_runs

    files, labels = resolve_runs(ctx.obj, runs)
    report.info(f"curves of {len(files)} run(s) -> {plot_runs(files, out, labels, metric)}")


def run() -> None:
    """Console entry point: user errors become one line and a non-zero exit."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    # Idle OpenMP threads sleep rather than spin: spinning torch threads steal the cores that
    # the simulator processes need (read by libgomp when torch is first imported).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except PtgmError as error:
        report.console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(1)
