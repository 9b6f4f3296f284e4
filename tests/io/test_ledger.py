"""The incremental ledger: a dead run's claims are taken over once its heartbeat is old, a live run's never."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline.io.ledger import LIVE_DIR, Ledger
from pipeline.io.storage import LocalStorage, join


def _inputs(tmp_path: Path, n: int = 3) -> list:
    storage = LocalStorage()
    for i in range(n):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / f"{i}.txt").write_text(f"article {i}", encoding="utf-8")
    return storage.list(join(str(tmp_path / "in"), "*.txt"))


def _age_heartbeat(out: str, run_id: str, minutes: float) -> None:
    at = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    LocalStorage().write_bytes(join(out, LIVE_DIR, f"{run_id}.json"),
                               json.dumps({"run_id": run_id, "at": at.isoformat()}).encode("utf-8"))


def test_a_live_run_keeps_its_claims_and_a_dead_one_loses_them_after_the_heartbeat_timeout(tmp_path: Path) -> None:
    storage, out, files = LocalStorage(), str(tmp_path / "out"), _inputs(tmp_path)
    first = Ledger(storage, out, "run-a")
    first.start_heartbeat()
    assert len(first.claim(files).mine) == 3
    second = Ledger(storage, out, "run-b")
    claims = second.claim(files)
    assert (len(claims.mine), len(claims.busy)) == (0, 3)  # run-a beats: its claims hold
    _age_heartbeat(out, "run-a", minutes=9)
    assert len(second.claim(files).busy) == 3  # 9 minutes: still within the 10-minute timeout
    first._beating.set()  # run-a "dies": no more beats, and its heartbeat is 11 minutes old
    _age_heartbeat(out, "run-a", minutes=11)
    claims = second.claim(files)
    assert (len(claims.mine), len(claims.busy)) == (3, 0)
    second.commit(claims.mine)
    assert len(Ledger(storage, out, "run-c").claim(files).done) == 3


def test_a_claim_without_a_heartbeat_waits_for_stale_after(tmp_path: Path) -> None:
    storage, out, files = LocalStorage(), str(tmp_path / "out"), _inputs(tmp_path, 1)
    assert len(Ledger(storage, out, "old-run").claim(files).mine) == 1  # never beat (an older newspipe)
    assert len(Ledger(storage, out, "new-run").claim(files).busy) == 1
    assert len(Ledger(storage, out, "new-run", stale_after=timedelta(0)).claim(files).mine) == 1


def test_the_heartbeat_is_rewritten_while_the_run_goes_and_removed_when_it_ends(tmp_path: Path) -> None:
    storage, out = LocalStorage(), str(tmp_path / "out")
    ledger = Ledger(storage, out, "run-a", heartbeat_seconds=0.05)
    ledger.start_heartbeat()
    beat = Path(out) / LIVE_DIR / "run-a.json"
    first = json.loads(beat.read_text())["at"]
    import time

    deadline = time.monotonic() + 10
    while json.loads(beat.read_text())["at"] == first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert json.loads(beat.read_text())["at"] > first
    ledger.stop_heartbeat()
    assert not beat.exists()
