"""Incremental-run ledger: which inputs an earlier run already committed, and who is on what now.

One small object per input version under `<output>/_state/runs/inputs/<key>.json`, where the key
hashes the input URI with its size+mtime (or ETag). A run claims an input by *creating* that object
with a conditional write (local O_EXCL, S3 `If-None-Match: *`): of two runs started together only
one can create it, so every input is processed exactly once. After the pipeline succeeds the claim
is rewritten as committed; if the run fails its claims are released. A claim left behind by a run
that died is taken over after `stale_after`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pipeline.io.storage import ObjectInfo, Storage, join

log = logging.getLogger("newspipe.ledger")

LEDGER_DIR = "_state/runs/inputs"


def input_key(info: ObjectInfo) -> str:
    return hashlib.sha256(f"{info.uri}\x1f{info.fingerprint}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Claims:
    mine: list[ObjectInfo]  # inputs this run claimed and must process
    done: list[ObjectInfo]  # committed by earlier runs
    busy: list[ObjectInfo]  # claimed by another run that is still going


class Ledger:
    def __init__(self, storage: Storage, output: str, run_id: str, stale_after: timedelta = timedelta(hours=6)) -> None:
        self.storage = storage
        self.root = join(output, LEDGER_DIR)
        self.run_id = run_id
        self.stale_after = stale_after

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
                log.warning("taking over stale claim of %s by run %s", info.uri, record.get("run_id"))
                self.storage.delete(uri)
                if self.storage.create_exclusive(uri, self._record(info, "claimed")):
                    mine.append(info)
                else:
                    busy.append(info)
            else:
                busy.append(info)
        return Claims(mine, done, busy)

    def _is_stale(self, record: dict) -> bool:
        try:
            at = datetime.fromisoformat(record["at"])
        except (KeyError, ValueError):
            return True
        return datetime.now(timezone.utc) - at > self.stale_after

    def commit(self, files: list[ObjectInfo]) -> None:
        for info in files:
            self.storage.write_bytes(self._uri(info), self._record(info, "committed"))

    def release(self, files: list[ObjectInfo]) -> None:
        for info in files:
            record = self._read(self._uri(info))
            if record and record.get("run_id") == self.run_id and record.get("state") == "claimed":
                self.storage.delete(self._uri(info))
