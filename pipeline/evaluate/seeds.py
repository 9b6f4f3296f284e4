"""`newspipe eval seeds`: score extracted articles against the seed gold (tests/fixtures/seeds.gold.json).

Works on article rows (pipeline.io.schema.article_row dicts), so the same scorer checks the
in-process pipeline (`evaluate_seed_files`) and rows read back from a Beam run's output.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

GOLD_PATH = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "seeds.gold.json"


def _ws(text: str) -> str:
    return " ".join((text or "").split())


def _frac(ok: int, total: int) -> float:
    return round(ok / total, 4) if total else 1.0


class _Tally:
    def __init__(self) -> None:
        self.ok: dict[str, int] = defaultdict(int)
        self.total: dict[str, int] = defaultdict(int)
        self.failures: list[str] = []

    def check(self, name: str, passed: bool, what: str) -> None:
        self.total[name] += 1
        if passed:
            self.ok[name] += 1
        else:
            self.failures.append(f"{name}: {what}")

    def fractions(self) -> dict[str, float]:
        return {k: _frac(self.ok[k], self.total[k]) for k in sorted(self.total)}


def _entity_found(gold_entity: dict[str, Any], system: list[dict[str, Any]]) -> tuple[bool, bool | None]:
    """(found, qid_correct) under the gold README's rule: same type and (same surface, or same
    Wikidata id, or same canonical name). qid_correct is None when the gold gives no id."""
    surfaces = set(gold_entity["surface"])
    qid = gold_entity.get("wikidata")
    matches = [
        e for e in system
        if e["type"] == gold_entity["type"]
        and (e["surface"] in surfaces or (qid and e["wikidata_id"] == qid) or e["canonical"] == gold_entity["canonical"])
    ]
    if not matches:
        return False, (False if qid else None)
    if not qid:
        return True, None
    return True, all(e["wikidata_id"] == qid for e in matches)


def evaluate_rows(rows: Iterable[dict[str, Any]], gold: dict[str, Any]) -> dict[str, Any]:
    """Score article rows against the gold; returns fractions in [0, 1] plus the failures."""
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_file[os.path.basename(row["source_uri"])].append(row)
    tally = _Tally()
    ent_found = ent_total = qid_ok = qid_total = 0
    where: dict[tuple[str, int], dict[str, Any]] = {}
    for gfile in gold["files"]:
        name = gfile["file"]
        got = by_file.get(name, [])
        tally.check("split", len(got) == len(gfile["articles"]), f"{name}: {len(got)} articles, gold {len(gfile['articles'])}")
        boiler = set(gfile.get("boilerplate_lines", []))
        fragments = list(gfile.get("boilerplate_fragments", [])) + [
            t for r in gfile.get("related", []) for t in (r["headline"], r.get("summary") or "") if t
        ]
        for index, ga in enumerate(gfile["articles"]):
            label = f"{name}#{index}"
            match = next((r for r in got if _ws(r["title"]) == _ws(ga["title"])), None)
            tally.check("title", match is not None, f"{label}: no article titled {ga['title']!r}")
            if match is None:
                continue
            where[(name, index)] = match
            tally.check("role", match["role"] == ga["role"], f"{label}: role {match['role']}")
            body = _ws(match["body"])
            tally.check("body_start", body.startswith(_ws(ga["body_starts_with"])), f"{label}: body starts {body[:40]!r}")
            tally.check("body_end", body.endswith(_ws(ga["body_ends_with"])), f"{label}: body ends {body[-40:]!r}")
            tally.check(
                "paragraphs", len(match["paragraphs"]) == ga["paragraph_count"],
                f"{label}: {len(match['paragraphs'])} paragraphs, gold {ga['paragraph_count']}",
            )
            tally.check(
                "captions", [_ws(c) for c in match["image_captions"]] == [_ws(c) for c in ga.get("image_captions", [])],
                f"{label}: captions {match['image_captions']}",
            )
            published = match["published_at"].date().isoformat() if match["published_at"] else None
            tally.check("date", published == ga.get("published"), f"{label}: published {published}")
            tally.check("outlet", (match["outlet"] or None) == ga.get("source_outlet"), f"{label}: outlet {match['outlet']!r}")
            tally.check(
                "keywords_raw", (match["keywords_raw"] or None) == ga.get("keywords_raw"),
                f"{label}: keywords_raw {match['keywords_raw']!r}",
            )
            if ga.get("keywords"):
                tally.check("keywords", list(match["keywords"]) == ga["keywords"], f"{label}: keywords {match['keywords']}")
            lines = {_ws(line) for line in match["body"].split("\n")}
            tally.check(
                "no_boilerplate", not (lines & {_ws(b) for b in boiler}) and not any(_ws(f) in body for f in fragments),
                f"{label}: boilerplate inside body",
            )
            for ge in ga.get("entities", []):
                found, qid_correct = _entity_found(ge, match["entities"])
                ent_total += 1
                ent_found += found
                if not found:
                    tally.failures.append(f"entities: {label}: missed {ge['type']} {ge['surface']}")
                if qid_correct is not None:
                    qid_total += 1
                    qid_ok += bool(qid_correct)
                    if not qid_correct:
                        tally.failures.append(f"qid: {label}: {ge['canonical']} not linked to {ge['wikidata']}")
            if ga.get("iptc_topics"):
                codes = {t["code"] for t in match["topics"]}
                tally.check("topics", bool(codes & set(ga["iptc_topics"])), f"{label}: topics {sorted(codes)}")
    pairs_ok, pairs = 0, 0
    for pair in gold.get("same_story", []):
        a, b = (where.get((m["file"], m["article"])) for m in pair)
        pairs += 1
        if a and b and a["story_id"] and a["story_id"] == b["story_id"]:
            pairs_ok += 1
            pair_story = a["story_id"]
            for (fname, idx), row in where.items():
                if (fname, idx) not in {(m["file"], m["article"]) for m in pair}:
                    tally.check("story_separation", row["story_id"] != pair_story, f"{fname}#{idx} joined the pair's story")
        else:
            tally.failures.append(f"same_story: {pair} not clustered")
    result: dict[str, Any] = tally.fractions()
    result["entity_recall"] = _frac(ent_found, ent_total)
    result["qid_accuracy"] = _frac(qid_ok, qid_total)
    result["same_story"] = _frac(pairs_ok, pairs)
    result["counts"] = {"entities": ent_total, "qids": qid_total, "same_story_pairs": pairs}
    result["failures"] = tally.failures
    return result


def evaluate_seed_files(seed_paths: Iterable[str], gold: dict[str, Any], cfg: Any = None) -> dict[str, Any]:
    """Run the in-process pipeline (pipeline/local.py) over the seed files and score it."""
    from datetime import datetime, timezone

    from pipeline.config import Config
    from pipeline.io.schema import article_row
    from pipeline.io.sources import raw_documents
    from pipeline.io.storage import LocalStorage
    from pipeline.local import LocalPipeline

    cfg = cfg or Config()
    local = LocalPipeline(cfg, datetime.now(timezone.utc))
    storage = LocalStorage()
    docs = []
    for path in seed_paths:
        info = storage.stat(path)
        assert info is not None, path
        docs.extend(d for d in raw_documents(info, storage.read_bytes(path), cfg) if not isinstance(d, tuple))
    articles, _ = local.process(docs)
    return evaluate_rows([article_row(a) for a in articles], gold)
