"""Build the NER name-prior table (pipeline/resources/ner/name_priors.tsv.gz) from the extra corpora.

    python -m pipeline.training.build_name_priors --extra /work/shared/data/ner-extra \
        --out pipeline/resources/ner/name_priors.tsv.gz

For every match-form word that is part of an entity somewhere in WikiFANE gold, AQMAR train
(gold) or WikiANN-ar (silver), and for every Arabic name part of Wikidata person labels, the
table holds P(type | word) per source, bucketed into a few levels ("PER3" = P(PER | word) >= 0.5),
and how often the word is part of a Wikidata person label. The CRF sees these as weighted
features (`pipeline.lib.ner.NamePriors`), not as hard matches: the lists hold common words too.

Sources are kept apart (gold 'g', silver 's', Wikidata count 'wd') so the CRF learns how far to
trust each. Text is tokenised the way inference does it (`to_pieces`), so glued punctuation is
split off. Licence: WikiFANE and AQMAR are CC BY-SA 3.0, WikiANN is Wikipedia text (CC BY-SA),
Wikidata is CC0: the table is a derived work and carries CC BY-SA 3.0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from pipeline.lib.arabic import match_form
from pipeline.lib.ner import ENTITY_TYPES, is_punct, prior_bucket, read_conll

GOLD_FILES = ("wikifane-gold/wikifane-gold.coarse.txt", "aqmar/aqmar.train.nogroups.txt")
SILVER_FILES = tuple(
    f"wikiann-ar/wikiann-ar.{part}.clean.txt" for part in ("train", "dev", "test", "extra")
)
WIKIDATA_FILE = "name-lists/wikidata-person-name-tokens.tsv"


def _count(paths: Iterable[Path]) -> dict[str, Counter[str]]:
    """word -> Counter of the types it carries ('O' when outside entities)."""
    from pipeline.training.train_ner import to_pieces

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for path in paths:
        for toks, tags in read_conll(path):
            pieces, ptags = to_pieces(toks, tags)
            for piece, tag in zip(pieces, ptags):
                if is_punct(piece):
                    continue
                typ = tag.partition("-")[2] if tag != "O" else "O"
                counts[match_form(piece)][typ if typ in ENTITY_TYPES else "O"] += 1
    return counts


def _codes(c: Counter[str]) -> str:
    """'PER3,LOC1' for the types with a bucket; '' when the word is never (or too rarely) a name."""
    total = sum(c.values())
    out = []
    for t in ENTITY_TYPES:
        b = prior_bucket(c[t], total)
        if b:
            out.append(f"{t}{b}")
    return ",".join(out)


def build(extra: str, out: str) -> dict:
    t0 = time.time()
    root = Path(extra)
    gold = _count(root / f for f in GOLD_FILES)
    silver = _count(root / f for f in SILVER_FILES if (root / f).exists())
    wd: Counter[str] = Counter()
    with open(root / WIKIDATA_FILE, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[2].isdigit():
                wd[match_form(parts[0])] += int(parts[2])
    rows = []
    for w in sorted(set(gold) | set(silver) | set(wd)):
        if not w or "\t" in w:
            continue
        g = _codes(gold[w]) if w in gold else ""
        s = _codes(silver[w]) if w in silver else ""
        n = wd.get(w, 0)
        if g or s or n:
            rows.append(f"{w}\t{g}\t{s}\t{n}\n")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(b"word\tgold\tsilver\twikidata_person_count\n")
        gz.write("".join(rows).encode())
    stats = {
        "rows": len(rows),
        "gold_words": len(gold),
        "silver_words": len(silver),
        "wikidata_words": len(wd),
        "bytes": Path(out).stat().st_size,
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(stats))
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extra", default="/work/shared/data/ner-extra")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "resources" / "ner" / "name_priors.tsv.gz"))
    args = ap.parse_args()
    build(args.extra, args.out)


if __name__ == "__main__":
    main()
