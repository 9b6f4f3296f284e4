"""`newspipe run --incremental`: only new inputs, exactly once, also with two runs at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Config, s3_settings
from pipeline.io.sinks import read_articles
from pipeline.run import run_batch

ROOT = Path(__file__).resolve().parents[2]


def _copy_seeds(dst: Path, names: list[str]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(ROOT / "seeds" / name, dst / name)


def _incremental_twice(inbox: Path, output: str, settings=None) -> None:
    seeds = sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
    _copy_seeds(inbox, seeds[:4])
    first = run_batch([str(inbox)], output, Config(), incremental=True)
    assert first.inputs == 4 and first.articles == 8
    _copy_seeds(inbox, seeds[4:])
    second = run_batch([str(inbox)], output, Config(), incremental=True)
    assert second.inputs == 1 and second.articles == 2
    assert second.inputs_skipped == {"already_committed": 4, "claimed_by_another_run": 0}
    third = run_batch([str(inbox)], output, Config(), incremental=True)
    assert third.inputs == 0 and third.articles == 0
    rows = read_articles(output, settings)
    assert len(rows) == 10 and len({r["id"] for r in rows}) == 10


def test_incremental_processes_only_new_files(tmp_path: Path) -> None:
    _incremental_twice(tmp_path / "inbox", str(tmp_path / "out"))


def test_a_changed_file_is_processed_again(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _copy_seeds(inbox, ["002_778974e6473988db.txt"])
    out = str(tmp_path / "out")
    assert run_batch([str(inbox)], out, Config(), incremental=True).inputs == 1
    page = inbox / "002_778974e6473988db.txt"
    page.write_text(page.read_text(encoding="utf-8") + "\nسطر إضافي في نهاية الصفحة.\n", encoding="utf-8")
    os.utime(page, (1_800_000_000, 1_800_000_000))
    assert run_batch([str(inbox)], out, Config(), incremental=True).inputs == 1


def test_two_runs_started_together_process_each_input_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    _copy_seeds(inbox, sorted(p.name for p in (ROOT / "seeds").glob("*.txt")))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline", "run", "--incremental", "-i", str(inbox), "-o", str(out), "--json", "-q"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(2)]
    summaries = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-2000:]
        summaries.append(json.loads(stdout))
    assert sum(s["inputs"] for s in summaries) == 5
    rows = read_articles(str(out))
    assert len(rows) == 10 and len({r["id"] for r in rows}) == 10


@pytest.mark.minio
def test_incremental_on_minio(tmp_path: Path, s3_bucket: str) -> None:
    _incremental_twice(tmp_path / "inbox", f"s3://{s3_bucket}/inc", s3_settings(Config()))
