"""`make reproduce` as a dry run: which stages it would run in a given workspace."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def planned_stages(workspace: Path) -> list[str]:
    out = subprocess.run(["make", "-n", "reproduce", f"WORKSPACE={workspace}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [line.split(f"--workspace {workspace} ", 1)[1].strip()
            for line in out.splitlines() if f"--workspace {workspace} " in line]


def publish(workspace: Path, kind: str, name: str) -> None:
    folder = workspace / kind / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")


def test_reproduce_on_an_empty_workspace_runs_every_stage_in_order(tmp_path):
    stages = [stage.split()[0] for stage in planned_stages(tmp_path)]
    assert stages.index("fetch-data") < stages.index("build-codebook") < stages.index("train-prior")
    assert stages.index("train-policy") < stages.index("eval-policy") < stages.index("train-rl")
    assert stages.count("train-rl") == 2 and stages.count("eval") == 2
    assert stages[-2:] == ["plot", "status"]


def test_reproduce_skips_finished_stages_and_resumes_an_interrupted_run(tmp_path):
    for kind, name in [("dataset", "default"), ("codebook", "default"), ("policy", "default"),
                       ("prior", "default"), ("eval", "policy-default")]:
        publish(tmp_path, kind, name)
    run_folder = tmp_path / "rl" / ".runs" / "ptgm-seed0"
    run_folder.mkdir(parents=True)
    (run_folder / "resume.pt").write_bytes(b"")

    stages = planned_stages(tmp_path)

    assert stages[0] == "train-rl --algo ptgm --seed 0 --resume"
    assert not any(stage.startswith(("fetch-data", "build-codebook", "train-p", "eval-policy"))
                   for stage in stages)
    assert "train-rl --algo sac --seed 0 --env-steps 200000 --num-envs 1" in stages
