"""MinIO killed mid-run (issue 7 part 1): a separate server is SIGKILLed as soon as the first article
files are committed. With enough retries the run rides out the outage; with few it stops with one
clear line. Either way the objects it leaves are whole, and running the same input again ends with
exactly the rows of a clean run: none lost, none twice."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from relkit import CORPUS_CONFIG, MinioServer, assert_same_rows, by_id, one_line_error, start_newspipe

from pipeline.config import S3Settings
from pipeline.io.sinks import read_articles

# Retry budget well over the outage (jitter keeps every wait >= half its nominal 0.2 s * 2^k).
SURVIVE = "storage:\n  retries: 10\n  backoff_seconds: 0.2\n"
GIVE_UP = "storage:\n  retries: 2\n  backoff_seconds: 0.05\n"
OUTAGE_SECONDS = 3.0


def _settings(server: MinioServer) -> S3Settings:
    return S3Settings(endpoint=server.endpoint, region="us-east-1", access_key=server.user, secret_key=server.password)


def _config(tmp_path: Path, storage: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(CORPUS_CONFIG + storage)
    return path


def _run_killing_server(server: MinioServer, corpus: Path, config: Path, output: str, bucket: str,
                        restart_after: float | None) -> tuple[subprocess.CompletedProcess, int]:
    """Run newspipe; SIGKILL the server once article files exist; restart it after `restart_after`
    seconds (None: only after the run has ended). Returns the run and the files committed at the kill."""
    args = ["run", "-i", str(corpus), "-o", output, "-c", str(config), "--json"]
    proc = start_newspipe(args, env=server.env())
    deadline = time.monotonic() + 240
    while not server.committed_articles(bucket, "x"):
        assert proc.poll() is None, f"run ended before its first article file: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "no article file within 240 s"
        time.sleep(0.01)
    server.stop(signal.SIGKILL)
    at_kill = len(server.committed_articles(bucket, "x"))
    try:
        if restart_after is not None:
            time.sleep(restart_after)
            server.start()
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if restart_after is None:
        server.start()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), at_kill


def test_run_rides_out_a_killed_server(own_minio: MinioServer, corpus: Path, clean_rows, tmp_path: Path) -> None:
    bucket = own_minio.make_bucket()
    output = f"s3://{bucket}/x"
    config = _config(tmp_path, SURVIVE)
    run, at_kill = _run_killing_server(own_minio, corpus, config, output, bucket, restart_after=OUTAGE_SECONDS)

    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert at_kill < summary["counters"]["sink.files"], "the server must go down while files are still being written"
    assert summary["articles"] == len(clean_rows) and summary["already_present"] == 0
    rows = read_articles(output, _settings(own_minio))
    assert_same_rows(rows, clean_rows)
    assert f"x/_runs/{summary['run_id']}/manifest.json" in own_minio.object_names(bucket, "x/_runs/")

    again = start_newspipe(["run", "-i", str(corpus), "-o", output, "-c", str(config), "--json"], env=own_minio.env())
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-3000:]
    second = json.loads(stdout)
    assert second["articles"] == 0 and second["already_present"] == len(clean_rows)
    assert_same_rows(read_articles(output, _settings(own_minio)), clean_rows)


def test_run_gives_up_in_one_line_and_a_rerun_completes(own_minio: MinioServer, corpus: Path, clean_rows,
                                                        tmp_path: Path) -> None:
    bucket = own_minio.make_bucket()
    output = f"s3://{bucket}/x"
    run, at_kill = _run_killing_server(own_minio, corpus, _config(tmp_path, GIVE_UP), output, bucket,
                                       restart_after=None)

    line = one_line_error(run)
    assert f"cannot reach {own_minio.endpoint} after 2 attempts" in line, line
    assert "is the server running" in line
    assert run.stdout.strip() == "", "a failed run prints no summary"

    # What the failed run left is whole: every article object parses, its rows are clean rows, none
    # twice; no manifest claims the run finished. Its chunk in flight stays in _staging/ (the store was
    # gone, so it could not even be discarded): no reader looks there, and a later commit sweeps it.
    names = own_minio.object_names(bucket, "x/")
    assert not [n for n in names if n.startswith("x/_runs/")], names
    visible = [n for n in names if not n.startswith("x/_staging/")]
    assert all(n.startswith("x/articles/") and n.endswith(".parquet") for n in visible), names
    partial = read_articles(output, _settings(own_minio))
    assert len(names) >= at_kill > 0 and len(partial) < len(clean_rows)
    clean = by_id(clean_rows)
    for key, row in by_id(partial).items():
        assert {k: v for k, v in row.items() if k != "_file"} == {k: v for k, v in clean[key].items() if k != "_file"}

    config = _config(tmp_path, "")
    again = start_newspipe(["run", "-i", str(corpus), "-o", output, "-c", str(config), "--json"], env=own_minio.env())
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr[-3000:]
    second = json.loads(stdout)
    assert second["already_present"] == len(partial)
    assert second["articles"] == len(clean_rows) - len(partial)
    assert_same_rows(read_articles(output, _settings(own_minio)), clean_rows)
