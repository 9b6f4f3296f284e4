"""A dask worker killed in the middle of `newspipe run`: the job retries on the worker left, or fails and
commits nothing; either way no row is missing or written twice, a rerun gives the same rows, and the
manifest's counts are once per element (the metrics come from the task results dask kept).

Its own throwaway cluster (a scheduler and 2 workers without a nanny on free 127.0.0.1 ports), since a
worker is killed for good, as a lost machine would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.runners, pytest.mark.slow]


def _corpus(path: Path, n: int) -> Path:
    from benchmarks.synth import write_corpus

    write_corpus(path, n, per_file=25)
    return path


def test_worker_killed_mid_run(rs, dask_address: str, tmp_path: Path) -> None:
    from distributed import Client

    corpus = _corpus(tmp_path / "corpus", 160)
    reference = rs.run(f"{corpus}/*", tmp_path / "local", [], "160 articles runner: direct")
    cluster = rs.start_dask_cluster(tmp_path / "cluster", workers=2)
    out = tmp_path / "dask"
    try:
        cmd = [sys.executable, "-m", "pipeline", "run", "-i", f"{corpus}/*", "-o", str(out), "--json",
               "--config", str(rs.DASK_CONFIG), f"--dask_client_address={cluster.address}", "--dask_npartitions=8"]
        job = subprocess.Popen(cmd, cwd=rs.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ.copy())
        killed = None
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
            deadline = time.monotonic() + 300
            while killed is None and job.poll() is None and time.monotonic() < deadline:
                for addr, keys in client.processing().items():
                    # a worker in the middle of an enrichment stage (after the read, before the sinks)
                    if any("Enrich" in str(k) for k in keys) and names.get(addr) == "w0":
                        time.sleep(0.5)
                        cluster.kill_worker(0)
                        killed = addr
                        break
                time.sleep(0.1)
        stdout, stderr = job.communicate(timeout=900)
        assert killed is not None, f"the job ended before a worker could be killed mid-run:\n{stderr[-3000:]}"
        print(f"killed worker w0 ({killed}) mid-run; the job exited {job.returncode}")
        if job.returncode == 0:  # dask re-ran the lost worker's tasks on the other one
            summary = json.loads(stdout[stdout.find("{"):])
            rs.assert_equivalent(reference.output, out, "worker killed mid-run vs local")
            manifest = json.loads(Path(summary["manifest_uri"]).read_text())
            local_manifest = json.loads(Path(reference.summary["manifest_uri"]).read_text())
            assert manifest["counts"] == local_manifest["counts"], "counts not once per element under retry"
        else:  # the job gave up: nothing may be committed
            assert not list(out.glob("articles/**/part-*")), "a failed run left rows behind"
        # A rerun into the same output (on the worker left) gives the same rows, none twice.
        rerun = rs.run(f"{corpus}/*", out, [f"--dask_client_address={cluster.address}"], "rerun after the kill",
                       extra=["--config", str(rs.DASK_CONFIG)])
        rs.assert_equivalent(reference.output, rerun.output, "rerun after a worker was killed vs local")
    finally:
        cluster.stop()
