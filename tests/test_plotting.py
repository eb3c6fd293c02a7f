import json
import subprocess
import sys

import numpy as np
import pytest

from ptgm_cli.errors import PtgmError
from ptgm_cli.plotting import binned_curve, plot_runs, resolve_runs
from ptgm_cli.rl.logger import read_metrics
from ptgm_cli.workspace import Workspace


def write_run(folder, slope: float, seed: int):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines = [json.dumps({"step": step, "charts/completed_subtasks": slope * step / 1000
                         + rng.normal(0, 0.1)}) for step in range(280, 10_000, 280)]
    lines.append(json.dumps({"step": 10_000, "losses/critic": 1.0}))
    (folder / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 10')  # cut short
    return folder


def test_binned_curve_averages_each_bin_and_fills_gaps():
    records = [{"step": 0.5, "m": 1.0}, {"step": 1.5, "m": 3.0}, {"step": 9, "m": 5.0}]
    curve = binned_curve(records, "m", np.linspace(0, 10, 6))
    assert curve.tolist() == [2.0, 2.0, 2.0, 2.0, 5.0]


def test_a_binned_curve_ends_at_its_runs_last_record():
    records = [{"step": 0.5, "m": 1.0}, {"step": 4.5, "m": 3.0}]
    curve = binned_curve(records, "m", np.linspace(0, 10, 6))
    assert curve[:3].tolist() == [1.0, 1.0, 3.0]
    assert np.isnan(curve[3:]).all()


def test_plot_groups_seeds_by_run_name(tmp_path):
    runs = [write_run(tmp_path / f"{algo}-seed{seed}", slope, seed)
            for algo, slope in (("ptgm", 0.3), ("sac", 0.01)) for seed in range(2)]
    files, labels = resolve_runs(Workspace(tmp_path), [str(run) for run in runs])
    assert labels == ["ptgm", "ptgm", "sac", "sac"]
    out = plot_runs(files, tmp_path / "curves.png", labels)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_the_metric_is_a_clear_error(tmp_path):
    run = write_run(tmp_path / "ptgm-seed0", 0.3, 0)
    with pytest.raises(PtgmError, match="no 'eval/completed_subtasks' records"):
        plot_runs([run / "metrics.jsonl"], tmp_path / "c.png", ["ptgm"],
                  metric="eval/completed_subtasks")


def test_plot_command(tmp_path):
    runs = [write_run(tmp_path / f"ptgm-seed{seed}", 0.3, seed) for seed in range(2)]
    out = tmp_path / "figures" / "curves.png"
    result = subprocess.run(
        [sys.executable, "-c", "from ptgm_cli.cli import run; run()", "--workspace",
         str(tmp_path), "plot", *map(str, runs), "--out", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert out.is_file()


@pytest.mark.parametrize("line", ['{"step": 10', "[1, 2]", '{"charts/return": 1.0}',
                                  '{"step": "ten", "charts/return": 1.0}',
                                  '{"step": 10, "charts/return": "high"}'])
def test_a_damaged_metrics_file_is_an_error_naming_it(tmp_path, line):
    run = write_run(tmp_path / "ptgm-seed0", 0.3, 0)
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], line, *lines[3:]]))
    with pytest.raises(PtgmError, match=f"^metrics file {path} is damaged: line 4 "):
        read_metrics(path)


def test_a_metrics_file_that_is_not_text_is_an_error_naming_it(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(PtgmError, match=f"^cannot read metrics file {path}"):
        read_metrics(path)


@pytest.mark.parametrize("out, problem", [("file/curves.png", "is a file, not a folder"),
                                          ("curves.xyz", "use one of the suffixes")])
def test_a_figure_that_cannot_be_written_is_refused_before_drawing(tmp_path, out, problem):
    run = write_run(tmp_path / "ptgm-seed0", 0.3, 0)
    (tmp_path / "file").write_text("")
    with pytest.raises(PtgmError, match=problem):
        plot_runs([run / "metrics.jsonl"], tmp_path / out, ["ptgm"])
