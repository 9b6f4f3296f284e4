"""Incremental-run ledger: which inputs an earlier run already committed, and who is on what now.

One small object per input version under `<output>/_state/runs/inputs/<key>.json`, where the key
hashes the input URI with its size+mtime (or ETag). A run claims an input by *creating* that object
with a conditional write (local O_EXCL, S3 `If-None-Match: *`): of two runs started together only
one can create it, so every input is processed exactly once. After the pipeline succeeds the claim
is rewritten as committed; if the run fails its claims are released.

A claim left behind by a run that died (killed, machine lost) is taken over once that run's heartbeat
(`<output>/_state/runs/live/<run_id>.json`, rewritten every `heartbeat_seconds` while the run goes) is
older than `heartbeat_timeout`: a long backfill resumes minutes after a crash, and a live run's
inputs are never taken, however long it runs. A claim whose run has no heartbeat (it ended, or an
older newspipe wrote it) is taken over after `stale_after`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pipeline.io.storage import ObjectInfo, Storage, join

log = logging.getLogger("newspipe.ledger")

LEDGER_DIR = "_state/runs/inputs"
LIVE_DIR = "_state/runs/live"


def input_key(info: ObjectInfo) -> str:
    return hashlib.sha256(f"{info.uri}\x1f{info.fingerprint}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Claims:
    mine: list[ObjectInfo]  # inputs this run claimed and must process
    done: list[ObjectInfo]  # committed by earlier runs
    busy: list[ObjectInfo]  # claimed by another run that is still going


class Ledger:
    def __init__(
        self, storage: Storage, output: str, run_id: str, stale_after: timedelta = timedelta(hours=6),
        heartbeat_seconds: float = 60.0, heartbeat_timeout: timedelta = timedelta(minutes=10),
    ) -> None:
        self.storage = storage
        self.root = join(output, LEDGER_DIR)
        self.live = join(output, LIVE_DIR)
        self.run_id = run_id
        self.stale_after = stale_after
        self.heartbeat_seconds = heartbeat_seconds
        self.heartbeat_timeout = heartbeat_timeout
        self._beating: threading.Event | None = None
        self._beats: dict[str, datetime | None] = {}

    def _live_uri(self, run_id: str) -> str:
        return join(self.live, f"{run_id}.json")

    def beat(self) -> None:
        """Say this run is alive (start_heartbeat and its thread call it)."""
        self.storage.write_bytes(self._live_uri(self.run_id),
                                 json.dumps({"run_id": self.run_id, "at": _now().isoformat()}).encode("utf-8"))

    def start_heartbeat(self) -> None:
        """Beat now and then every heartbeat_seconds from a daemon thread, until stop_heartbeat."""
        self.beat()
        self._beating = stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.heartbeat_seconds):
                try:
                    self.beat()
                except Exception as exc:  # noqa: BLE001 - a missed beat only shortens the takeover wait
                    log.warning("heartbeat of run %s not written: %s", self.run_id, exc)

        threading.Thread(target=loop, name=f"heartbeat-{self.run_id}", daemon=True).start()

    def stop_heartbeat(self) -> None:
        """Stop beating and remove the heartbeat (the run's claims are committed or released by now)."""
        if self._beating is not None:
            self._beating.set()
            self._beating = None
        try:
            self.storage.delete(self._live_uri(self.run_id))
        except Exception as exc:  # noqa: BLE001 - never hide the run's own outcome; the beat just ages
            log.warning("heartbeat of run %s not removed: %s", self.run_id, exc)

    def _last_beat(self, run_id: str) -> datetime | None:
        if run_id not in self._beats:  # once per claiming run and claim(): thousands of claims share a few runs
            record = self._read(self._live_uri(run_id))
            try:
                self._beats[run_id] = datetime.fromisoformat(record["at"]) if record else None
            except (KeyError, ValueError):
                self._beats[run_id] = None
        return self._beats[run_id]

    def _uri(self, info: ObjectInfo) -> str:
        return join(self.root, input_key(info) + ".json")

    def _record(self, info: ObjectInfo, state: str) -> bytes:
        return json.dumps(
            {"uri": info.uri, "fingerprint": info.fingerprint, "run_id": self.run_id, "state": state,
             "at": datetime.now(timezone.utc).isoformat()},
            ensure_ascii=False,
        ).encode("utf-8")

    def _read(self, uri: str) -> dict | None:
        try:
            return json.loads(self.storage.read_bytes(uri))
        except (FileNotFoundError, ValueError):
            return None
        except Exception as exc:  # noqa: BLE001 - S3 NoSuchKey surfaces as S3Error
            if getattr(exc, "code", "") in ("NoSuchKey", "NoSuchObject"):
                return None
            raise

    def claim(self, files: list[ObjectInfo]) -> Claims:
        mine, done, busy = [], [], []
        self._beats = {}
        taken: dict[str, int] = {}  # stale claims taken over, per run that left them
        for info in files:
            uri = self._uri(info)
            if self.storage.create_exclusive(uri, self._record(info, "claimed")):
                mine.append(info)
                continue
            record = self._read(uri)
            if record is None:  # vanished between our create and read: a released claim; retry once
                if self.storage.create_exclusive(uri, self._record(info, "claimed")):
                    mine.append(info)
                else:
                    busy.append(info)
            elif record.get("state") == "committed":
                done.append(info)
            elif self._is_stale(record):
                taken[str(record.get("run_id"))] = taken.get(str(record.get("run_id")), 0) + 1
                self.storage.delete(uri)
                if self.storage.create_exclusive(uri, self._record(info, "claimed")):
                    mine.append(info)
                else:
                    busy.append(info)
            else:
                busy.append(info)
        for run_id, n in sorted(taken.items()):
            log.warning("took over %d input(s) claimed by run %s, which stopped without releasing them", n, run_id)
        return Claims(mine, done, busy)

    def _is_stale(self, record: dict) -> bool:
        beat = self._last_beat(str(record.get("run_id", "")))
        if beat is not None:
            return _now() - beat > self.heartbeat_timeout
        try:
            at = datetime.fromisoformat(record["at"])
        except (KeyError, ValueError):
            return True
        return _now() - at > self.stale_after

    def commit(self, files: list[ObjectInfo]) -> None:
        for info in files:
            self.storage.write_bytes(self._uri(info), self._record(info, "committed"))

    def release(self, files: list[ObjectInfo]) -> None:
        for info in files:
            record = self._read(self._uri(info))
            if record and record.get("run_id") == self.run_id and record.get("state") == "claimed":
                self.storage.delete(self._uri(info))


def _now() -> datetime:
    return datetime.now(timezone.utc)
