"""Story-assignment cost per article against a story state of N earlier articles.

Builds `_state/stories/` for N synthetic articles published at a fixed rate (2,740 a day: a
million a year; random MinHash signatures, 12 entities each from a 50,000-name vocabulary, 1 in 4
undated), then times what a run does for a batch of new articles published on the day after:
read the partitions they need (pipeline/io/story_state.iter_partition: key filter over the window's
segments) and decide the pairs with their rows (RunIndex), group the new articles by key and
evaluate the rule (edges_in_group), union-find (assign_stories): what AssignStories does.

    python benchmarks/story_lookup.py --sizes 10000,100000,1000000 [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.io.storage import LocalStorage, join  # noqa: E402
from pipeline.io.story_state import (  # noqa: E402
    STATE_DIR, _to_bytes, day_partition, ingest_partition, iter_partition, state_table, wanted_partitions,
)
from pipeline.lib.stories import (  # noqa: E402
    RunIndex, StoryRecord, StoryRules, assign_stories, edges_in_group, group_keys, key_hash, lookup_keys, story_id_for,
)

PER_DAY = 2740
START = date(2024, 1, 1).toordinal()


def _records(rng: np.random.Generator, n: int, first: int, day0: int, ingest_day: int, vocab: int = 50_000,
             old: bool = True) -> list[StoryRecord]:
    sigs = rng.integers(0, 2**32, size=(n, 128), dtype=np.uint32)
    ents = rng.integers(0, vocab, size=(n, 12))
    out = []
    for i in range(n):
        day = day0 + (i // PER_DAY if old else 0)
        dated = i % 4 != 3
        aid = f"a{first + i:08d}"
        out.append(StoryRecord(
            article_id=aid, signature=sigs[i].tobytes(), entities=tuple(sorted(f"Q{e}" for e in set(ents[i]))),
            published=day * 86400.0 if dated else None, day=day, ingest_day=ingest_day if not old else day,
            content_hash=f"h{first + i}", story_id=story_id_for(aid) if old else "", canonical=aid if old else "",
        ))
    return out


def _table(batch: list[StoryRecord], rules: StoryRules, rng: np.random.Generator, cache: dict) -> "pa.Table":
    """state_table's layout; band keys of random signatures never match anything, so they are random
    64-bit values here (hashing 42 of them per row would dominate the build, not the lookup)."""
    import pyarrow as pa

    table = state_table(batch[:0], rules)
    keys = []
    for r in batch:
        own = lookup_keys_no_bands(r, rules)
        hashed = [cache[k] if k in cache else cache.setdefault(k, key_hash(k)) for k in own]
        keys.append(sorted(set(hashed) | set(rng.integers(-2**63, 2**63 - 1, size=42).tolist())))
    cols = {name: [getattr(r, name) for r in batch]
            for name in ("article_id", "story_id", "canonical", "content_hash", "day", "ingest_day", "published",
                         "signature")}
    cols["entities"] = [list(r.entities) for r in batch]
    cols["keys"] = keys
    return pa.table(cols, schema=table.schema)


def lookup_keys_no_bands(r: StoryRecord, rules: StoryRules) -> list[str]:
    return [k for k in lookup_keys(r, rules) if not k.startswith("b")]


def build_state(out: str, n: int, rules: StoryRules, seed: int = 1) -> int:
    """Write N state rows, partitioned as a run would (each day ingested on its publication day)."""
    storage = LocalStorage()
    rng = np.random.default_rng(seed)
    cache: dict = {}
    for start in range(0, n, PER_DAY):
        batch = _records(rng, min(PER_DAY, n - start), start, START + start // PER_DAY, 0)
        day = batch[0].day
        storage.write_bytes(join(out, STATE_DIR, day_partition(day), "seg-bench.parquet"),
                            _to_bytes(_table(batch, rules, rng, cache)))
        for dated in (True, False):
            part = [r for r in batch if r.dated == dated]
            if part:
                storage.write_bytes(join(out, STATE_DIR, ingest_partition(day, dated), "seg-bench.parquet"),
                                    _to_bytes(_table(part, rules, rng, cache)))
        if len(cache) > 2_000_000:
            cache.clear()
    return START + (n - 1) // PER_DAY + 1  # the day after the last


def time_lookup(out: str, next_day: int, batch: int, rules: StoryRules) -> dict:
    """What AssignStories does for `batch` new articles, in one process: the partitions and keys they
    need; each partition read a batch of rows at a time and decided against the run's records
    (ReadStoryState's RunIndex); the new articles' own candidate groups; union-find."""
    rng = np.random.default_rng(99)
    new = _records(rng, batch, 10**7, next_day, next_day, old=False)
    storage = LocalStorage()
    t0 = time.perf_counter()
    wanted: dict[str, set[int]] = {}
    for r in new:
        keys = {key_hash(k) for k in lookup_keys(r, rules)}
        for part in wanted_partitions(r, rules):
            wanted.setdefault(part, set()).update(keys)
    index = RunIndex(new, rules)
    t_keys = time.perf_counter()
    edges, old, rows_read = set(), {}, 0
    for part, keys in wanted.items():
        for rows, row_keys, parents in iter_partition(storage, out, part, keys):
            rows_read += len(rows)
            by_id = {r.article_id: r for r in rows}
            for a, b in index.edges(rows, row_keys, parents):
                edges.add((a, b))
                old[b] = (by_id[b].story_id, by_id[b].sort_time)
    t_read = time.perf_counter()
    groups: dict[str, list] = {}
    for r in new:
        for k in group_keys(r, rules):
            groups.setdefault(k, []).append(r)
    edges |= {e for k, members in groups.items() for e in edges_in_group(k, members, rules)}
    assign_stories(sorted(edges), old)
    t_done = time.perf_counter()
    return {"batch": batch, "state_rows_read": rows_read, "partitions": len(wanted), "edges": len(edges),
            "ms_per_article": round((t_done - t0) * 1000 / batch, 3),
            "keys_ms": round((t_keys - t0) * 1000 / batch, 3),
            "read_and_state_pairs_ms": round((t_read - t_keys) * 1000 / batch, 3),
            "own_groups_and_union_find_ms": round((t_done - t_read) * 1000 / batch, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rules = StoryRules()
    results = []
    for n in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            next_day = build_state(tmp, n, rules)
            built = time.perf_counter() - t0
            result = {"index_articles": n, "build_seconds": round(built, 1), **time_lookup(tmp, next_day, args.batch, rules)}
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
