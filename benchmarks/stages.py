"""Per-stage cost: CPU milliseconds per article for each stage's logic (the same StageFns the pipeline
runs), on N synthetic ~5 KB articles from benchmarks/synth.py. Shows where the time goes.

    python benchmarks/stages.py -n 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import io

    import pyarrow.parquet as pq
    from apache_beam.pvalue import TaggedOutput

    from benchmarks.synth import write_corpus
    from pipeline.config import Config
    from pipeline.graph import enrichment_stages
    from pipeline.io.schema import articles_table
    from pipeline.io.sources import raw_documents
    from pipeline.io.storage import LocalStorage
    from pipeline.local import assign_stories, dedupe

    cfg = Config()
    costs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_corpus(Path(tmp), args.n)
        storage = LocalStorage()
        t = time.process_time()
        elements: list = []
        for path in files:
            info = storage.stat(str(path))
            elements += [d for d in raw_documents(info, storage.read_bytes(str(path)), cfg) if not isinstance(d, tuple)]
        costs["read+decode"] = time.process_time() - t
    for stage in enrichment_stages(cfg, datetime.now(timezone.utc)):
        fn = stage.make_fn()
        t = time.process_time()
        fn.setup()
        load = time.process_time() - t
        t = time.process_time()
        produced = []
        for element in elements:
            produced += [o for o in fn.process(element) if not isinstance(o, TaggedOutput)]
        costs[fn.stage] = time.process_time() - t
        costs[f"{fn.stage} (model load, once)"] = load
        elements = produced
    t = time.process_time()
    elements = dedupe(elements)
    costs["dedupe"] = time.process_time() - t
    t = time.process_time()
    elements = assign_stories(elements)
    costs["stories"] = time.process_time() - t
    t = time.process_time()
    pq.write_table(articles_table(elements), io.BytesIO(), compression="zstd")
    costs["sink (parquet)"] = time.process_time() - t

    n = len(elements)
    print(f"\n{n} articles; CPU ms per article by stage")
    per_article = {k: round(1000 * v / n, 3) for k, v in costs.items() if "once" not in k}
    for name, ms in sorted(per_article.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<22}{ms:>9.2f}")
    total = sum(per_article.values())
    print(f"  {'total':<22}{total:>9.2f}   → {1000 / total:.0f} articles/s per core")
    for k, v in costs.items():
        if "once" in k:
            print(f"  {k:<40}{v:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"n": n, "ms_per_article": per_article, "total_ms": total}, indent=2))


if __name__ == "__main__":
    main()
