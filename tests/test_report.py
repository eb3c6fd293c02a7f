from ptgm_cli import report


def test_progress_resumed_midway_counts_its_rate_from_the_resume(monkeypatch):
    clock = iter([100.0, 102.0])  # the bar starts, then 2 s later 40 more steps are done
    monkeypatch.setattr(report.time, "monotonic", lambda: next(clock))
    with report.console.capture() as captured:
        with report.progress(1000, "train-rl", completed=800) as bar:
            bar.advance(40)
    assert "840/1000 (20.0/s)" in captured.get()
