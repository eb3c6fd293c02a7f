"""`ptgm eval`: fixed seeds, a summary with standard error, per-subtask success, a video."""

import json

import imageio.v2 as imageio
import pytest


@pytest.fixture(scope="module")
def trained_workspace(pretrained_workspace, run_cli, tiny_rl_options):
    result = run_cli(pretrained_workspace, "train-rl", *tiny_rl_options, "--eval-episodes", "0")
    assert result.returncode == 0, result.stderr
    return pretrained_workspace


@pytest.mark.slow
def test_eval_records_seeds_and_success_and_writes_a_video(trained_workspace, tmp_path, run_cli):
    video = tmp_path / "eval.mp4"
    result = run_cli(trained_workspace, "eval", "ptgm-seed0", "--episodes", "3", "--seed", "40",
                     "--video", str(video), "--video-episodes", "1")
    assert result.returncode == 0, result.stderr
    assert "completed subtasks over 3 episodes" in result.stderr
    artifact = trained_workspace.load("eval", "ptgm-seed0")
    metrics = artifact.manifest.metrics
    assert metrics["seeds"] == [40, 41, 42]
    assert metrics["episodes"] == 3 and metrics["completed_subtasks_stderr"] >= 0
    assert set(metrics["success"]) == {"microwave", "kettle", "bottom burner", "light switch"}
    assert set(metrics["completion_step_median"]) == set(metrics["success"])
    assert artifact.manifest.parent("rl").name == "ptgm-seed0"
    episodes = json.loads(artifact.file("episodes.json").read_text())
    assert [e["seed"] for e in episodes] == [40, 41, 42] and episodes[0]["length"] == 50
    frames = imageio.mimread(video, memtest=False)
    assert len(frames) == 50 and frames[0].shape == (480, 480, 3)


@pytest.mark.slow
def test_eval_is_reproducible(trained_workspace, run_cli):
    for name in ("first", "second"):
        result = run_cli(trained_workspace, "eval", "--run", "ptgm-seed0", "--episodes", "2",
                      "--name", name)
        assert result.returncode == 0, result.stderr
    first, second = (trained_workspace.load("eval", name).file("episodes.json").read_text()
                     for name in ("first", "second"))
    assert first == second


@pytest.mark.slow
def test_eval_of_a_missing_run_names_the_fix(trained_workspace, run_cli):
    result = run_cli(trained_workspace, "eval", "--run", "nothing")
    assert result.returncode == 1 and "ptgm train-rl" in result.stderr


def test_eval_takes_the_run_as_argument_or_option_but_not_two_different_ones(tmp_path, run_cli):
    result = run_cli(tmp_path, "eval", "ptgm-seed0", "--run", "sac-seed0")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: ptgm eval got both 'ptgm-seed0' and --run "
                                     "'sac-seed0'; give one")


def test_a_video_that_cannot_be_written_is_refused_before_the_episodes(tmp_path, run_cli):
    result = run_cli(tmp_path, "eval", "ptgm-seed0", "--video", str(tmp_path / "eval.gif"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: --video: {tmp_path / 'eval.gif'} is not a .mp4 "
                                     "file; the video is written as MP4")
