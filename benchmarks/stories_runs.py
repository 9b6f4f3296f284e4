"""Stories across runs vs one batch: N synthetic articles (benchmarks/synth.py) run as one batch
pipeline (a single chunk) and as K successive `run --incremental` runs on one output, files added
to the inbox a K-th at a time. Prints pairwise and B-cubed F1 of the runs' story partition (merges
followed) against the batch's.

    python benchmarks/stories_runs.py -n 10000 -k 10 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from benchmarks.synth import write_corpus
    from pipeline.config import Config, InputConfig
    from pipeline.evaluate.stories import partition_scores
    from pipeline.io.sinks import read_articles, read_stories
    from pipeline.run import run_batch

    with tempfile.TemporaryDirectory() as tmp:
        corpus, inbox = Path(tmp) / "corpus", Path(tmp) / "inbox"
        files = sorted(write_corpus(corpus, args.n))
        one_chunk = Config().replace(input=InputConfig(chunk_mb=0, chunk_files=0))
        t0 = time.perf_counter()
        batch = run_batch([str(corpus)], str(Path(tmp) / "batch"), one_chunk)
        t_batch = time.perf_counter() - t0
        inbox.mkdir()
        t0 = time.perf_counter()
        written = 0
        for k in range(args.k):
            for path in files[k::args.k]:  # each run gets a share of every kind of file
                shutil.copy2(path, inbox / path.name)
            written += run_batch([str(inbox)], str(Path(tmp) / "runs"), Config(), incremental=True).articles
        t_runs = time.perf_counter() - t0
        scores = partition_scores(read_articles(str(Path(tmp) / "batch")), read_articles(str(Path(tmp) / "runs")),
                                  read_stories(str(Path(tmp) / "runs")), read_stories(str(Path(tmp) / "batch")))
    result = {"n": args.n, "runs": args.k, "batch_articles": batch.articles, "runs_articles": written,
              "batch_seconds": round(t_batch, 1), "runs_seconds": round(t_runs, 1), **scores}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
