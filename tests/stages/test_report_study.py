"""`ptgm report` on real runs, and its page opened in a real headless browser (chromium)."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from ptgm_cli.rl.logger import read_metrics

pytestmark = pytest.mark.slow

RUNS = [("ptgm", 0), ("ptgm", 1), ("sac", 0)]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Injected first into the page's head: records script errors, console errors and resources that
# fail to load, then, once the page and its videos have loaded, writes what it found into the
# DOM, which chromium --dump-dom prints.
CHECK = """<script>
const problems = [];
window.addEventListener("error", event => problems.push(
  event.message || `failed to load a ${event.target.tagName}`), true);
const consoleError = console.error;
console.error = (...parts) => { problems.push(parts.join(" ")); consoleError(...parts); };
window.addEventListener("load", () => {
  const videos = [...document.querySelectorAll("video")].map(video =>
    video.error ? Promise.resolve(false) :
    video.readyState >= 2 ? Promise.resolve(true) : new Promise(done => {
      video.addEventListener("loadeddata", () => done(true));
      video.addEventListener("error", () => done(false));
      setTimeout(() => done(video.readyState >= 2), 10000);
    }));
  Promise.all(videos).then(loaded => {
    const report = document.createElement("pre");
    report.id = "page-check";
    report.textContent = JSON.stringify({
      images: [...document.images].map(image => image.complete && image.naturalWidth > 0),
      videos: loaded, problems});
    document.body.appendChild(report);
  });
});
</script>"""


@pytest.fixture(scope="module")
def evaluated_runs(pretrained_workspace, run_cli, tiny_rl_options):
    for algo, seed in RUNS:
        name = f"{algo}-seed{seed}"
        trained = run_cli(pretrained_workspace, "train-rl", "--algo", algo, "--seed", str(seed),
                          *tiny_rl_options)
        assert trained.returncode == 0, trained.stderr
        evaluated = run_cli(pretrained_workspace, "eval", name, "--episodes", "2")
        assert evaluated.returncode == 0, evaluated.stderr
    checked = run_cli(pretrained_workspace, "eval-policy", "--states", "5", "--subtask-trials",
                      "1", "--prior-episodes", "3", "--episode-steps", "30")
    assert checked.returncode == 0, checked.stderr
    return pretrained_workspace


@pytest.fixture(scope="module")
def published_report(evaluated_runs, run_cli):
    result = run_cli(evaluated_runs, "report", "ptgm-seed0", "ptgm-seed1", "sac-seed0",
                     "--points", "150,300", "--reps", "200")
    assert result.returncode == 0, result.stderr
    return evaluated_runs.load("report", "report"), result


def test_the_report_tables_hold_the_runs_statistics(evaluated_runs, published_report):
    artifact, result = published_report
    statistics = json.loads(artifact.file("statistics.json").read_text())
    assert statistics["points"] == ["150", "300", "final"]
    finals = {algo: [evaluated_runs.load("eval", f"{algo}-seed{seed}").manifest
                     .metrics["completed_subtasks_mean"] for a, seed in RUNS if a == algo]
              for algo in ("ptgm", "sac")}
    for algo, values in finals.items():
        assert statistics["estimates"][algo]["final"]["mean"]["value"] == pytest.approx(
            np.mean(values))
    assert statistics["runs"] == {"ptgm": 2, "sac": 1}
    assert set(statistics["improvement"]) == {"sac"}
    assert "| ptgm | 2 | IQM |" in result.stdout and "| sac | 1 | mean |" in result.stdout
    assert {(parent.kind, parent.name) for parent in artifact.manifest.parents} == {
        (kind, f"{algo}-seed{seed}") for algo, seed in RUNS for kind in ("rl", "eval")}
    for figure in ("curves.png", "subtasks.png"):
        assert artifact.file(figure).read_bytes().startswith(b"\x89PNG")


def test_each_run_is_listed_with_its_pre_trained_models_health_check(evaluated_runs,
                                                                      published_report):
    artifact, result = published_report
    rows = {row["name"]: row for row in
            json.loads(artifact.file("statistics.json").read_text())["per_run"]}
    check = evaluated_runs.load("eval", "policy-default").manifest.metrics["prior_rollouts"]
    first_task = evaluated_runs.load("rl", "ptgm-seed0").manifest.config["tasks"][0]
    for algo, seed in RUNS:
        row, name = rows[f"{algo}-seed{seed}"], f"{algo}-seed{seed}"
        final = evaluated_runs.load("eval", name).manifest.metrics
        assert row["scores"]["final"] == final["completed_subtasks_mean"]
        assert row["final_stderr"] == final["completed_subtasks_stderr"]
        assert set(row["scores"]) == {"150", "300", "final"}
        if algo == "ptgm":  # its codebook, prior and policy are those eval-policy checked
            assert row["pretrained"] == "default"
            assert row["health"] == check["success"][first_task]
            # 10 warm-up decisions of 10 steps on 2 envs: one 50-step episode on each
            episodes = [record for record in read_metrics(
                evaluated_runs.load("rl", name).file("metrics.jsonl"))
                if "charts/completed_subtasks" in record][:2]
            assert (row["warmup_episodes"], row["warmup_rewarded"]) == (
                2, sum(record[f"charts/success/{first_task}"] for record in episodes))
        else:
            assert row["pretrained"] == "" and row["health"] is None
            assert row["warmup_episodes"] == 0  # 10 warm-up steps end no 50-step episode
        assert f"| {name} | {algo} | {seed} |" in result.stdout


def page_check(page: str, tmp_path) -> dict:
    """Open the page, with the check injected, in headless chromium; what the check found."""
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("<head>", "<head>" + CHECK, 1))
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000",
         "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="page-check">(.*?)</pre>', dom, re.S)
    assert found, "the page never finished loading"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (make setup installs it)")
def test_the_page_loads_every_image_and_video_without_errors(published_report, tmp_path):
    artifact, _ = published_report
    page = artifact.file("report.html").read_text()
    check = page_check(page, tmp_path)
    # Two figures, one video per algorithm, and every code of the 6-code codebook.
    assert len(check["images"]) == 2 + 6 and all(check["images"]), check
    assert check["videos"] == [True, True], check
    assert check["problems"] == [], check
    assert "rliable" in page and "IQM" in page

    # The check fails on a page with a broken image and a broken video.
    broken = re.sub(r'src="data:image/png;base64,[^"]{40}', 'src="data:image/png;base64,AAAA',
                    page, count=1)
    broken = re.sub(r'src="data:video/webm;base64,[^"]{40}',
                    'src="data:video/webm;base64,AAAA', broken, count=1)
    check = page_check(broken, tmp_path)
    assert check["images"].count(False) == 1 and check["videos"].count(False) == 1


def test_an_unknown_source_is_a_one_line_error(evaluated_runs, run_cli):
    result = run_cli(evaluated_runs, "report", "nothing-here", "--name", "unknown")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: no sweep or run named 'nothing-here'")
    assert len(result.stderr.strip().splitlines()) == 1
