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
    assert stages.index("train-skills") < stages.index("eval-skills")
    assert stages.count("train-rl") == 3 and stages.count("eval") == 3
    assert stages[-2:] == ["plot", "status"]
    runs = [stage for stage in planned_stages(tmp_path) if stage.startswith("train-rl")]
    assert [run.split()[2] for run in runs] == ["ptgm", "spirl-cl", "sac"]


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
    assert "train-skills" in stages and "train-rl --algo spirl-cl --seed 0" in stages


def test_study_pretrains_each_seed_and_trains_every_rl_seed_on_it(tmp_path):
    out = subprocess.run(["make", "-n", "study", f"WORKSPACE={tmp_path}", "PRETRAIN_SEEDS=0 3",
                          "RL_SEEDS=0 1"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    stages = [line.split(f"--workspace {tmp_path} ", 1)[1].strip()
              for line in out.splitlines() if f"--workspace {tmp_path} " in line]
    # Seed 0's pre-training is the defaults'; seed 3's makes its own artifacts.
    assert "fetch-data" in stages and "fetch-data --seed 3 --name pre3" in stages
    assert "train-prior --dataset pre3 --codebook pre3 --seed 3 --name pre3" in stages
    runs = [stage for stage in stages if stage.startswith("train-rl")]
    assert [run.split("--name ")[1].split()[0] for run in runs] == [
        "ptgm-1m-seed0", "ptgm-1m-seed1", "ptgm-1m-pre3-seed0", "ptgm-1m-pre3-seed1"]
    assert all("--env-steps 1000000 --eval-episodes 50" in run for run in runs)
    assert "--policy pre3 --prior pre3 --codebook pre3" in runs[-1]
    # Each set of pre-trained models is checked once, with the health check's 100 episodes,
    # before its runs start.
    assert sum(stage.startswith("eval-policy") for stage in stages) == 2
    for models in ("default", "pre3"):
        check = stages.index(f"eval-policy --dataset {models} --codebook {models} --policy "
                             f"{models} --prior {models} --prior-episodes 100 --name "
                             f"health-{models}")
        assert check < min(index for index, stage in enumerate(stages)
                           if stage.startswith("train-rl") and f"--prior {models}" in stage)
    assert stages[-3].startswith("plot ptgm-1m-seed0 ptgm-1m-seed1 ptgm-1m-pre3-seed0")
    assert stages[-2] == ("report ptgm-1m-seed0 ptgm-1m-seed1 ptgm-1m-pre3-seed0 "
                          "ptgm-1m-pre3-seed1 --name study --points 300000,1000000 --force")
