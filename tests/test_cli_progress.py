"""The plain progress line (not a terminal: CI, cron) reports live counts of an in-process run."""

from __future__ import annotations

import time

from pipeline import progress
from pipeline.cli import _live_progress


def test_plain_progress_lines_show_live_counts(capsys) -> None:
    with _live_progress(True, every=0.05):
        progress.add("read.out", 3)
        progress.add("parse.out", 7)
        progress.add("articles_written", 5)
        progress.add("dead_letters", 2)
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "progress: files read 3 · articles 7 processed, 5 written · dead letters 2" in err


def test_no_progress_when_disabled(capsys) -> None:
    with _live_progress(False, every=0.01):
        time.sleep(0.05)
    assert "progress:" not in capsys.readouterr().err
