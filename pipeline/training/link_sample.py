"""Draw a reproducible sample of linked entity mentions from ANT, for hand-checking link precision.

A linked mention is an entity with `wikidata_id` set by `tag_entities`, run as the pipeline runs it
(`Gazetteer.load()`, `NerTagger.load()`: the shipped gazetteer and model; title and body tagged
separately, as `transforms/entities.py` does).

    python -m pipeline.training.link_sample draw --ant /work/shared/data/ant --out /tmp/links.tsv
    # judge: fill the `verdict` (correct | wrong | unsure) and `reason` columns by hand
    python -m pipeline.training.link_sample publish --judged /tmp/links.tsv \
        --out pipeline/resources/ner/link_sample.tsv

`draw` writes article path, field, offsets, surface, QID, the gazetteer's type/canonical name/country
for the QID, and ~80 characters of context on each side. `publish` drops the corpus text (surface,
context: ANT's texts belong to the news outlets, see its SOURCE.md), keeps ids, offsets, QIDs and
verdicts, and prints the counts with a 95% Wilson interval. Articles: the v2.1 archive, one per
duplicate-text group (manifest `text_sha1`), `--articles` of them drawn with `--seed`; then
`--size` mentions drawn with the same seed from all their linked mentions.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from collections import Counter
from pathlib import Path

from pipeline.lib.ant import iter_ant_tar, read_manifest

V21 = "ant_v2.1_train_sources.tar.xz"
V21_MANIFEST = "manifest_v2.1_train_sources.tsv"
CONTEXT = 80
FULL_COLS = ["n", "path", "field", "start", "end", "surface", "type", "qid", "gaz_type", "gaz_canonical",
             "gaz_country", "left", "right", "verdict", "reason"]
PUBLIC_COLS = ["n", "path", "field", "start", "end", "type", "qid", "gaz_type", "gaz_canonical", "gaz_country",
               "verdict", "reason"]


def _clean(s: str) -> str:
    return " ".join(s.split())


def draw(ant_dir: str, out: str, seed: int, n_articles: int, size: int) -> None:
    from pipeline.lib.entities import tag_entities
    from pipeline.lib.gazetteer import Gazetteer
    from pipeline.lib.ner import NerTagger

    manifest = read_manifest(str(Path(ant_dir) / V21_MANIFEST))
    first: dict[str, str] = {}
    for path in sorted(manifest):
        first.setdefault(manifest[path].text_sha1, path)
    pool = sorted(first.values())
    chosen = set(random.Random(seed).sample(pool, n_articles))
    gaz, tagger = Gazetteer.load(), NerTagger.load()
    by_qid: dict = {}
    for i, e in enumerate(gaz.entries):  # first entry per QID (table order), as lookups prefer
        by_qid.setdefault(e.qid, (e, gaz._country[i]))
    linked = []
    for doc in iter_ant_tar(str(Path(ant_dir) / V21)):
        if doc.path not in chosen:
            continue
        for field, text in (("title", doc.title), ("text", doc.text)):
            for m in tag_entities(text, gaz, tagger):
                if m.wikidata_id:
                    linked.append((doc.path, field, m, text))
    linked.sort(key=lambda r: (r[0], r[1], r[2].start))
    print(f"{len(chosen)} of {len(pool)} articles, {len(linked)} linked mentions", file=sys.stderr)
    sample = sorted(random.Random(seed).sample(range(len(linked)), min(size, len(linked))))
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        w.writerow(FULL_COLS)
        for n, i in enumerate(sample, 1):
            path, field, m, text = linked[i]
            entry, country = by_qid.get(m.wikidata_id, (None, ""))
            w.writerow([n, path, field, m.start, m.end, _clean(m.surface), m.type, m.wikidata_id,
                        entry.type if entry else "", entry.canonical if entry else "", country,
                        _clean(text[max(0, m.start - CONTEXT):m.start]), _clean(text[m.end:m.end + CONTEXT]), "", ""])


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def publish(judged: str, out: str) -> None:
    with open(judged, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    counts = Counter(r["verdict"] for r in rows)
    bad = set(counts) - {"correct", "wrong", "unsure"}
    if bad:
        raise SystemExit(f"unjudged or unknown verdicts: {sorted(bad)}")
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        w.writerow(PUBLIC_COLS)
        for r in rows:
            w.writerow([r[c] for c in PUBLIC_COLS])
    k, n_wrong, n_unsure = counts["correct"], counts["wrong"], counts["unsure"]
    for label, n in (("excluding unsure", k + n_wrong), ("unsure counted wrong", k + n_wrong + n_unsure)):
        lo, hi = wilson(k, n)
        print(f"{label}: {k}/{n} = {k / n:.3f} (95% Wilson {lo:.3f}-{hi:.3f})")
    print(f"correct {k}, wrong {n_wrong}, unsure {n_unsure}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("draw")
    d.add_argument("--ant", default="/work/shared/data/ant")
    d.add_argument("--out", required=True)
    d.add_argument("--seed", type=int, default=20261202)
    d.add_argument("--articles", type=int, default=300)
    d.add_argument("--size", type=int, default=200)
    p = sub.add_parser("publish")
    p.add_argument("--judged", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "draw":
        draw(a.ant, a.out, a.seed, a.articles, a.size)
    else:
        publish(a.judged, a.out)


if __name__ == "__main__":
    main()
