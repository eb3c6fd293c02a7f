"""The study as one self-contained HTML page (images and videos embedded as data URIs) and as a
Markdown table."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from ptgm_cli.studies.media import CodeView
from ptgm_cli.studies.statistics import Estimate

GALLERY_COLUMNS = 6
HEALTH_NOTE = ("Per run: completed subtasks in the periodic evaluations and the final one (mean ± "
               "standard error); the health check is how often its pre-trained prior, sampled "
               "from reset, completed the task's first subtask (`ptgm eval-policy`, `ptgm "
               "eval-skills`); the warm-up, how many of the run's episodes before its first "
               "gradient step did.")
METRIC_LABELS = {"iqm": "IQM", "mean": "mean"}

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1em 0; }
.gallery { display: grid; grid-template-columns: repeat(COLUMNS, 1fr); gap: 0.5em; }
.gallery figure { margin: 0; font-size: 0.8em; }
.gallery img { width: 100%; }
.videos { display: flex; flex-wrap: wrap; gap: 1em; }
""".replace("COLUMNS", str(GALLERY_COLUMNS))


@dataclass(frozen=True)
class RunRow:
    """One run in the per-run table: its completed subtasks at the points it reached and in its
    final evaluation, next to its pre-trained models' health check."""

    name: str
    algo: str
    seed: int
    pretrained: str
    health: float | None  # the prior's rate of the task's first subtask from reset
    warmup_rewarded: int  # the run's episodes before it learned that completed it
    warmup_episodes: int
    scores: dict[str, float]  # point label -> completed subtasks; "final" -> the eval's mean
    final_stderr: float

    def cells(self, points: list[str]) -> list[str]:
        health = "-" if self.health is None else f"{self.health:.0%}"
        scores = [f"{self.scores[point]:.2f}" if point in self.scores else "-"
                  for point in points[:-1]]
        final = f"{self.scores[points[-1]]:.2f} ± {self.final_stderr:.2f}"
        warmup = f"{self.warmup_rewarded} of {self.warmup_episodes}"
        return [self.name, self.algo, str(self.seed), self.pretrained or "-", health, warmup,
                *scores, final]


RUN_HEADER = ["run", "algorithm", "seed", "pre-trained", "health check", "warm-up"]


@dataclass(frozen=True)
class Study:
    """What the report says: per algorithm and point (an env-step count, or 'final'), the
    estimates; P(reference improves on each baseline); per-subtask success."""

    title: str
    points: list[str]  # column labels: "100k", ..., "final"
    estimates: dict[str, dict[str, dict[str, Estimate]]]  # algo -> point -> metric
    runs: dict[str, int]
    reference: str
    improvement: dict[str, Estimate]  # baseline -> P(reference > baseline), final scores
    success: dict[str, dict[str, float]]  # algo -> subtask -> mean success rate
    command: str
    run_points: list[str]  # the per-run table's columns: points some run reached, "final"
    run_rows: list[RunRow]


def markdown(study: Study) -> str:
    lines = [f"Completed subtasks: IQM and mean over runs with 95% stratified-bootstrap "
             f"confidence intervals (rliable). `{study.command}`", "",
             "| algorithm | runs | metric | " + " | ".join(study.points) + " |",
             "|---|---|---|" + "---|" * len(study.points)]
    for algo, by_point in study.estimates.items():
        for metric in METRIC_LABELS:
            cells = [by_point[point][metric].text() if point in by_point else "-"
                     for point in study.points]
            lines.append(f"| {algo} | {study.runs[algo]} | {METRIC_LABELS[metric]} | "
                         + " | ".join(cells) + " |")
    if study.improvement:
        lines += ["", f"| P({study.reference} > baseline), final | value [95% CI] |", "|---|---|"]
        lines += [f"| {baseline} | {estimate.text()} |"
                  for baseline, estimate in study.improvement.items()]
    tasks = list(next(iter(study.success.values())))
    lines += ["", "| success, final | " + " | ".join(tasks) + " |",
              "|---|" + "---|" * len(tasks)]
    lines += [f"| {algo} | " + " | ".join(f"{rates[task]:.0%}" for task in tasks) + " |"
              for algo, rates in study.success.items()]
    header = [*RUN_HEADER, *study.run_points]
    lines += ["", HEALTH_NOTE, "", "| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(row.cells(study.run_points)) + " |" for row in study.run_rows]
    return "\n".join(lines) + "\n"


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(study: Study, curves_png: bytes, subtasks_png: bytes, videos: dict[str, bytes],
              gallery: list[CodeView], gallery_run: str | None) -> str:
    estimates = _table(
        ["algorithm", "runs", "metric", *study.points],
        [[algo, str(study.runs[algo]), METRIC_LABELS[metric],
          *(by_point[point][metric].text() if point in by_point else "-"
            for point in study.points)]
         for algo, by_point in study.estimates.items() for metric in METRIC_LABELS])
    improvement = _table([f"P({study.reference} > baseline), final", "value [95% CI]"],
                         [[baseline, estimate.text()]
                          for baseline, estimate in study.improvement.items()])
    tasks = list(next(iter(study.success.values())))
    success = _table(["success, final", *tasks],
                     [[algo, *(f"{rates[task]:.0%}" for task in tasks)]
                      for algo, rates in study.success.items()])
    parts = [
        f"<h1>{html.escape(study.title)}</h1>",
        f"<p>Reproduce: <code>{html.escape(study.command)}</code></p>",
        "<h2>Completed subtasks</h2>",
        "<p>IQM and mean over runs, with 95% stratified-bootstrap confidence intervals "
        "(rliable), at the periodic evaluations and in the final evaluation.</p>",
        estimates, improvement if study.improvement else "",
        f'<figure><img alt="learning curves" src="{_data_uri("image/png", curves_png)}">'
        "<figcaption>IQM of the periodic evaluations over runs, with its 95% confidence band."
        "</figcaption></figure>",
        "<h2>Subtasks</h2>", success,
        f'<figure><img alt="per-subtask success" src="{_data_uri("image/png", subtasks_png)}">'
        "</figure>",
        "<h2>Runs</h2>", f"<p>{html.escape(HEALTH_NOTE)}</p>",
        _table([*RUN_HEADER, *study.run_points],
               [row.cells(study.run_points) for row in study.run_rows]),
    ]
    if videos:
        parts.append("<h2>Rollouts</h2><div class=\"videos\">")
        for label, video in videos.items():
            parts.append(f"<figure><video controls muted loop width=\"320\" "
                         f"src=\"{_data_uri('video/webm', video)}\"></video>"
                         f"<figcaption>{html.escape(label)}</figcaption></figure>")
        parts.append("</div>")
    if gallery:
        parts.append(f"<h2>Codebook of {html.escape(gallery_run or '')}</h2>"
                     "<p>Each code as the dataset state nearest its goal; the share of the "
                     "prior's and of the trained policy's probability it gets over the dataset's "
                     "states, most chosen by the policy first.</p><div class=\"gallery\">")
        for view in gallery:
            parts.append(
                f'<figure><img alt="code {view.code}" src="{_data_uri("image/jpeg", view.jpeg)}">'
                f"<figcaption>code {view.code}: prior {view.prior_share:.1%}, policy "
                f"{view.policy_share:.1%}</figcaption></figure>")
        parts.append("</div>")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(study.title)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
