"""Helpers for the reliability tests: a MinIO server of our own that a test may kill and restart,
newspipe as a subprocess, and row comparison against a clean run."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHED_MINIO = Path.home() / ".cache/newspipe/minio-v0.0.0-20260212201848-7aac2a2c5b7c/minio"
# Columns that legitimately differ between two runs over the same input.
RUN_COLUMNS = {"ingested_at", "_file"}
N_ARTICLES = 80
# One row per file, so a run writes 80 article files and a fault lands among them. Enrichment is
# covered elsewhere; without it the runs here are quick.
CORPUS_CONFIG = "output:\n  max_rows_per_file: 1\nenrich: {entities: false, topics: false, stories: false}\n"


def minio_binary() -> str:
    """NEWSPIPE_TEST_MINIO_BIN, else the binary tests/run.sh caches; skip (fail in CI) without one."""
    path = os.environ.get("NEWSPIPE_TEST_MINIO_BIN") or str(CACHED_MINIO)
    if not os.access(path, os.X_OK):
        reason = f"no MinIO binary at {path}: set NEWSPIPE_TEST_MINIO_BIN or run `bash tests/run.sh` once"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MinioServer:
    """A throwaway MinIO server on 127.0.0.1 that can be stopped and restarted on the same port/data."""

    binary: str
    data: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=lambda: "reltest-" + secrets.token_hex(4))
    password: str = field(default_factory=lambda: "S3CR3T-" + secrets.token_hex(16))
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for a newspipe process talking to this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEWSPIPE_TEST_S3"))}
        env.update(AWS_ENDPOINT_URL=self.endpoint, AWS_ACCESS_KEY_ID=self.user,
                   AWS_SECRET_ACCESS_KEY=self.password, AWS_REGION="us-east-1")
        env.update(overrides)
        return env

    def start(self, timeout: float = 30.0) -> "MinioServer":
        self.data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MINIO_ROOT_USER": self.user, "MINIO_ROOT_PASSWORD": self.password,
               "MINIO_BROWSER": "off"}
        log = self.data.parent / f"minio-{self.port}.log"
        deadline = time.monotonic() + timeout
        while True:  # the port may still be held for a moment after a kill
            with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(
                    [self.binary, "server", str(self.data), "--address", f"127.0.0.1:{self.port}",
                     "--console-address", f"127.0.0.1:{free_port()}", "--quiet"],
                    stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                )
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.endpoint + "/minio/health/live", timeout=1) as resp:
                        if resp.status == 200:
                            return self
                except OSError:
                    time.sleep(0.1)
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"MinIO did not start on port {self.port}")
            time.sleep(0.3)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def client(self, access_key: str | None = None, secret_key: str | None = None):  # type: ignore[no-untyped-def]
        from minio import Minio

        return Minio(f"127.0.0.1:{self.port}", access_key=access_key or self.user,
                     secret_key=secret_key or self.password, secure=False)

    def make_bucket(self) -> str:
        name = "rel-" + secrets.token_hex(5)
        self.client().make_bucket(name)
        return name

    def object_names(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(o.object_name for o in self.client().list_objects(bucket, prefix=prefix, recursive=True))

    def committed_articles(self, bucket: str, prefix: str) -> list[Path]:
        """Article objects as MinIO has committed them on disk (read without asking the server)."""
        root = self.data / bucket / prefix / "articles"
        return sorted(p.parent for p in root.rglob("xl.meta")) if root.exists() else []


def newspipe(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=env, timeout=timeout)


def start_newspipe(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows keyed by id, without the per-run columns; fails on a duplicate id."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        assert row["id"] not in out, f"duplicate article {row['id']} in {row['_file']} and {out[row['id']]['_file']}"
        out[row["id"]] = {k: v for k, v in row.items() if k not in RUN_COLUMNS}
        out[row["id"]]["_file"] = row["_file"]
    return out


def assert_same_rows(got: list[dict[str, Any]], clean: list[dict[str, Any]]) -> None:
    """Exactly the clean run's rows: no row lost, none duplicated, every content column equal."""
    got_ids, clean_ids = by_id(got), by_id(clean)
    missing, extra = set(clean_ids) - set(got_ids), set(got_ids) - set(clean_ids)
    assert not missing and not extra, f"{len(missing)} rows lost, {len(extra)} unexpected rows"
    for key, row in clean_ids.items():
        want = {k: v for k, v in row.items() if k != "_file"}
        have = {k: v for k, v in got_ids[key].items() if k != "_file"}
        diff = sorted(k for k in want if want[k] != have.get(k))
        assert not diff, f"article {key}: columns {diff} differ from the clean run"


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The CLI's user-error contract: exit 2, one `error:` line on stderr, no traceback."""
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "apitools not found" not in line]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]
