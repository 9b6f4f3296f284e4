"""Peak memory per chunk of one `newspipe run` (default runner) over N synthetic articles: does the peak
stay flat as the story state grows chunk after chunk?

    python benchmarks/chunk_memory.py -n 30000 [--all-dated] [--chunk-mb 16] [--json out.json]

The run's RSS is sampled every 0.2 s; each chunk's peak is printed when the next chunk starts.
`--all-dated` gives the second article of each text page a date line too (benchmarks/synth.py), so
that no article is paired by ingest time (docs/stories.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--all-dated", action="store_true")
    ap.add_argument("--chunk-mb", type=int, default=None, help="input.chunk_mb (default: the config's)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--workdir", type=Path, help="keep the corpus and output here (default: a temporary folder)")
    ap.add_argument("--incremental", action="store_true",
                    help="resume: skip the inputs an earlier run into --workdir committed (run --incremental)")
    args = ap.parse_args()

    from benchmarks.synth import write_corpus
    from pipeline.config import Config, InputConfig
    from pipeline.run import run_batch

    peaks: list[int] = []
    current = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            current[0] = max(current[0], _rss_mb())
            done.wait(0.2)

    class ChunkStarts(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("chunk "):
                peaks.append(current[0])
                current[0] = 0
                if len(peaks) > 1:
                    print(f"chunk {len(peaks) - 1}: peak {peaks[-1]} MB, {time.perf_counter() - t0:.0f} s",
                          file=sys.stderr, flush=True)

    cfg = Config()
    if args.chunk_mb is not None:
        cfg = cfg.replace(input=InputConfig(chunk_mb=args.chunk_mb, chunk_files=cfg.input.chunk_files))
    logging.getLogger("newspipe").addHandler(ChunkStarts())
    logging.getLogger("newspipe").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        corpus = work / "corpus"
        done_mark = work / "corpus.done"
        if not done_mark.exists():
            write_corpus(corpus, args.n, all_dated=args.all_dated)
            done_mark.write_text(f"{args.n} articles\n")
        t0 = time.perf_counter()
        threading.Thread(target=sample, daemon=True).start()
        summary = run_batch([str(corpus)], str(work / "out"), cfg, incremental=args.incremental)
        seconds = time.perf_counter() - t0
        done.set()
        peaks.append(current[0])
    # peaks[0] is the start-up before the first chunk's log line; a one-chunk run logs no chunk line
    chunk_peaks = peaks[1:] if len(peaks) > 1 else peaks
    result = {
        "n": args.n, "all_dated": args.all_dated, "chunk_mb": cfg.input.chunk_mb, "articles": summary.articles,
        "seconds": round(seconds, 1), "chunk_peak_rss_mb": chunk_peaks,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "state_rows_read": summary.counters.get("stories.state_rows_read", 0),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
