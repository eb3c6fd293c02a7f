"""Input no command can work with is refused by the real console entry point before any work
starts: one line starting with `error:`, exit code 1, no traceback."""

import json

import pytest

from ptgm_cli.cli import STAGES

SEED_TOO_BIG = str(2**32)


def assert_refused(result, message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]


@pytest.mark.parametrize("args, message", [
    (("train-rl", "--lr", "inf"), "--lr: Input should be a finite number (got inf)"),
    (("train-rl", "--target-divergence", "nan"), "--target-divergence: Input should be a finite"),
    (("train-rl", "--algo", "ptgm-noprior", "--target-entropy", "nan"),
     "--target-entropy: Input should be a finite number"),
    (("train-rl", "--target-divergence", "-1"), "--target-divergence: Input should be greater"),
    (("train-rl", "--name", ""), "--name: invalid artifact name ''"),
    (("eval", "ptgm-seed0", "--name", ""), "--name: invalid artifact name ''"),
    (("fetch-data", "--name", "x\n"), "--name: invalid artifact name 'x\\n'"),
    (("train-policy", "--name", "a" * 300), "--name: invalid artifact name 'aaaa"),
    (("train-prior", "--codebook", "../../other/codebook/default"), "--codebook: invalid"),
    (("train-rl", "--tasks", "microwave,microwave"), "--tasks: subtask(s) ['microwave'] given"),
    (("train-rl", "--env-steps", "300"), "--env-steps 300 ends before an episode does"),
    (("train-rl", "--buffer-transitions", str(10**12)), "--buffer-transitions 1,000,000,000,000 "
     "needs"),
    *(((command, seed, SEED_TOO_BIG), f"{seed}: Input should be less than or equal to "
       "4294967295") for command, *_ in STAGES
      for seed in ["--seeds" if command == "sweep" else "--seed"]),
    (("sweep", "--seeds", "0-2,x"), "--seeds: 'x' is not a seed or a range of seeds"),
])
def test_options_no_command_can_work_with(tmp_path, run_cli, args, message):
    assert_refused(run_cli(tmp_path / "workspace", *args), message)
    assert not (tmp_path / "workspace").exists()


def test_paths_that_cannot_be_read_or_written(tmp_path, run_cli):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert_refused(run_cli(a_file, "status"), f"--workspace {a_file} is a file")
    assert_refused(run_cli(tmp_path, "build-codebook", "--config", str(tmp_path)),
                   f"cannot read config file {tmp_path}: Is a directory")
    assert_refused(run_cli(tmp_path, "eval", "ptgm-seed0", "--video", str(a_file / "v.mp4")),
                   f"--video: cannot write {a_file / 'v.mp4'}: {a_file} is a file, not a folder")
    run = tmp_path / "ptgm-seed0"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 280, "charts/completed_subtasks": 1}\n')
    assert_refused(run_cli(tmp_path, "plot", str(run), "--out", str(a_file / "curves.png")),
                   f"cannot write {a_file / 'curves.png'}: {a_file} is a file, not a folder")


def test_plot_of_a_damaged_metrics_file_names_it(tmp_path, run_cli):
    run = tmp_path / "ptgm-seed0"
    run.mkdir()
    records = [{"step": 280, "charts/completed_subtasks": 1}, {"step": "x"},
               {"step": 560, "charts/completed_subtasks": 2}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert_refused(run_cli(tmp_path, "plot", str(run), "--out", str(tmp_path / "c.png")),
                   f"metrics file {run / 'metrics.jsonl'} is damaged: line 2")
    assert not (tmp_path / "c.png").exists()
