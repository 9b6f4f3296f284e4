"""`newspipe replay`: the seeds as a stream with event time end by themselves, one partition per
event-day window, every seed article exactly once; locally and on MinIO."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.config import Config, s3_settings
from pipeline.io.sinks import read_articles
from pipeline.run import run_replay


def _check(summary, rows: list[dict]) -> None:
    assert summary.articles == 10 and summary.dead_letters == 0
    assert len(rows) == 10 and len({r["id"] for r in rows}) == 10
    by_window = Counter((r["dt"], r["_file"].split("-w")[1][:15]) for r in rows)
    # One partition per event-day window: each dt holds exactly one window, named by its start.
    days = Counter(dt for dt, _ in by_window)
    assert all(n == 1 for n in days.values()), by_window
    for (dt, window_start), _ in by_window.items():
        assert window_start == dt.replace("dt=", "").replace("-", "") + "T000000"
    # Dated pages keep their publication day as event time.
    dated = {r["title"]: r["dt"] for r in rows if r["published_at"]}
    assert "2023-09-24" in dated.values() and "2024-09-13" in dated.values()


def test_replay_seeds_daily_windows(tmp_path: Path, seeds_dir: Path) -> None:
    out = tmp_path / "stream"
    summary = run_replay([str(seeds_dir / "*")], str(out), Config(), speedup=1000, window_seconds=86400)
    _check(summary, read_articles(str(out)))
    manifest = json.loads(Path(summary.manifest_uri).read_text())
    assert manifest["mode"] == "replay"
    assert sum(w["articles"] for w in manifest["windows"].values()) == 10
    assert manifest["counts"]["per_stage"]["parse.out"] == 10


@pytest.mark.minio
def test_replay_to_minio(seeds_dir: Path, s3_bucket: str) -> None:
    uri = f"s3://{s3_bucket}/stream"
    summary = run_replay([str(seeds_dir / "*")], uri, Config(), rate=20, window_seconds=86400)
    _check(summary, read_articles(uri, s3_settings(Config())))
