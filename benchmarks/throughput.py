"""Throughput benchmark: the Beam pipeline (DirectRunner) vs a bare Python loop over the same stage
logic (pipeline/local.py), on N synthetic ~5 KB articles made from the seeds. Prints articles/s,
the ratio, and peak RSS of each, all measured in this one run.

    python benchmarks/throughput.py -n 10000 [--modes bare,direct,direct2,dask2]

`dask2` starts its own `dask scheduler` and 2 `dask worker` processes (1 thread each, free 127.0.0.1
ports), times `run_batch` with `runner: dask` on them (the cluster's start-up is not timed: a cluster is
long-lived) and reports each worker's peak RSS, sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = {
    "bare": "bare Python loop over pipeline/lib (same stage code)",
    "direct": "Beam in-process FnApiRunner (runner: direct), 1 worker",
    "direct2": "the same, multi-process with 2 workers",
    "prism": "Beam on Prism (built by tests/scale/setup_runners.sh)",
    "dask2": "Beam on dask.distributed (runner: dask): a scheduler + 2 worker processes, 1 thread each",
}
PRISM = Path.home() / ".cache" / "newspipe" / "prism-v2.77.0" / "prism"


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def run_mode(mode: str, corpus: Path, out: Path) -> dict:
    """Runs inside a fresh subprocess so that peak RSS belongs to this mode alone."""
    from pipeline.config import Config

    files = sorted(str(p) for p in corpus.iterdir())
    t0 = time.perf_counter()
    if mode == "bare":
        import pyarrow.parquet as pq

        from pipeline.io.schema import articles_table
        from pipeline.io.sources import raw_documents
        from pipeline.io.storage import LocalStorage
        from pipeline.local import LocalPipeline

        local = LocalPipeline(Config())
        storage = LocalStorage()
        docs = []
        for path in files:
            info = storage.stat(path)
            docs.extend(d for d in raw_documents(info, storage.read_bytes(path), Config()) if not isinstance(d, tuple))
        articles, _ = local.process(docs)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(articles_table(articles), out / "bare.parquet", compression="zstd")
        n = len(articles)
    elif mode == "dask2":
        return _run_dask(files, out)
    else:
        from pipeline.run import run_batch

        args = {
            "direct": [],
            "direct2": ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
            "prism": ["--runner=PrismRunner", f"--prism_location={PRISM}", "--job_server_timeout=7200"],
        }[mode]
        n = run_batch(files, str(out), Config(), args).articles
    seconds = time.perf_counter() - t0
    return {"mode": mode, "articles": n, "seconds": round(seconds, 2), "articles_per_s": round(n / seconds, 1),
            "peak_rss_mb": _peak_rss_mb(), "cpu_seconds": _cpu_seconds(), "load_average": os.getloadavg()}


def _run_dask(files: list[str], out: Path, workers: int = 2) -> dict:
    import threading

    import psutil

    from pipeline.config import Config
    from pipeline.run import run_batch
    from tests.scale.conftest import start_dask_cluster

    cluster = start_dask_cluster(out.parent / "dask-cluster", workers=workers)
    peaks = [0] * workers
    cpu = [0.0] * workers
    done = threading.Event()

    def sample() -> None:
        procs = [psutil.Process(w.pid) for w in cluster.workers]
        start = [p.cpu_times().user + p.cpu_times().system for p in procs]  # the workers' start-up is not counted
        while not done.is_set():
            for i, proc in enumerate(procs):
                try:
                    peaks[i] = max(peaks[i], proc.memory_info().rss)
                    times = proc.cpu_times()
                    cpu[i] = times.user + times.system - start[i]
                except psutil.Error:
                    pass
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        t0 = time.perf_counter()
        n = run_batch(files, str(out), Config(runner="dask"), [f"--dask_client_address={cluster.address}"]).articles
        seconds = time.perf_counter() - t0
        own = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = own.ru_utime + own.ru_stime
    finally:
        done.set()
        sampler.join()
        cluster.stop()
    return {"mode": "dask2", "articles": n, "seconds": round(seconds, 2), "articles_per_s": round(n / seconds, 1),
            "peak_rss_mb": _peak_rss_mb(), "worker_peak_rss_mb": [round(b / 2**20, 1) for b in peaks],
            # the client (this process) + the workers during the run; the scheduler's few seconds are left out
            "cpu_seconds": round(client_cpu + sum(cpu), 1), "worker_cpu_seconds": [round(c, 1) for c in cpu],
            "load_average": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--modes", default="bare,direct")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--_mode", help=argparse.SUPPRESS)
    ap.add_argument("--_corpus", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._mode:
        print(json.dumps(run_mode(args._mode, args._corpus, args._out)))
        return

    from benchmarks.synth import write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, args.n)
        results = []
        for mode in args.modes.split(","):
            proc = subprocess.run(
                [sys.executable, __file__, "--_mode", mode, "--_corpus", str(corpus), "--_out", str(Path(tmp) / mode)],
                capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                print(f"{mode}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = next((r for r in results if r["mode"] == "bare"), None)
    print(f"\n{args.n} synthetic articles (~5 KB each)")
    print(f"{'mode':<10}{'articles':>10}{'seconds':>10}{'art/s':>10}{'vs bare':>10}{'peak RSS MB':>14}")
    for r in results:
        ratio = f"{base['articles_per_s'] / r['articles_per_s']:.2f}x" if base else "-"
        r["slowdown_vs_bare"] = round(base["articles_per_s"] / r["articles_per_s"], 3) if base else None
        print(f"{r['mode']:<10}{r['articles']:>10}{r['seconds']:>10}{r['articles_per_s']:>10}{ratio:>10}{r['peak_rss_mb']:>14}")
        if "worker_peak_rss_mb" in r:
            print(f"{'':<10}peak RSS per dask worker: {', '.join(f'{m} MB' for m in r['worker_peak_rss_mb'])}")
    one = next((r for r in results if r["mode"] == "direct"), None)
    for r in results:
        if one and r["mode"] != "direct" and r["mode"] != "bare":
            r["speedup_vs_direct"] = round(r["articles_per_s"] / one["articles_per_s"], 3)
            print(f"{r['mode']}: {r['speedup_vs_direct']:.2f}x the one-process rate (direct)")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "results": results}, indent=2))


if __name__ == "__main__":
    main()
