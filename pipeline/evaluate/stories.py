"""Story partitions compared: pairwise and B-cubed F1 of one output's stories against another's
(e.g. successive incremental runs against one batch run), after following `merged_into`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable


def resolve(story_of: dict[str, str], merges: dict[str, str]) -> dict[str, str]:
    """article id -> story id with merged stories followed to the story they were merged into."""

    def root(story: str) -> str:
        seen = set()
        while story in merges and story not in seen:
            seen.add(story)
            story = merges[story]
        return story

    return {article: root(story) for article, story in story_of.items()}


def merges_of(stories_rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {r["story_id"]: r["merged_into"] for r in stories_rows if r.get("merged_into")}


def _clusters(labels: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for item, label in labels.items():
        out[label].add(item)
    return out


def pairwise_f1(reference: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    """Precision/recall/F1 over same-story pairs (items: the ids both partitions hold)."""
    common = reference.keys() & predicted.keys()
    ref = {k: reference[k] for k in common}
    pred = {k: predicted[k] for k in common}

    def pairs(labels: dict[str, str]) -> set[tuple[str, str]]:
        out = set()
        for members in _clusters(labels).values():
            ordered = sorted(members)
            out.update((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:])
        return out

    rp, pp = pairs(ref), pairs(pred)
    tp = len(rp & pp)
    precision = tp / len(pp) if pp else 1.0
    recall = tp / len(rp) if rp else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "reference_pairs": len(rp)}


def bcubed_f1(reference: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    common = reference.keys() & predicted.keys()
    ref_c = _clusters({k: reference[k] for k in common})
    pred_c = _clusters({k: predicted[k] for k in common})
    precision = recall = 0.0
    for item in common:
        r, p = ref_c[reference[item]], pred_c[predicted[item]]
        overlap = len(r & p)
        precision += overlap / len(p)
        recall += overlap / len(r)
    n = len(common) or 1
    precision, recall = precision / n, recall / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def partition_scores(
    reference_rows: list[dict[str, Any]], rows: list[dict[str, Any]], stories_rows: Iterable[dict[str, Any]] = (),
    reference_stories: Iterable[dict[str, Any]] = (),
) -> dict[str, float]:
    """Scores of `rows`' stories against `reference_rows`' (article rows with id and story_id)."""
    ref = resolve({r["id"]: r["story_id"] for r in reference_rows}, merges_of(reference_stories))
    pred = resolve({r["id"]: r["story_id"] for r in rows}, merges_of(stories_rows))
    pw, b3 = pairwise_f1(ref, pred), bcubed_f1(ref, pred)
    return {
        "articles": len(ref.keys() & pred.keys()),
        "multi_article_stories": sum(1 for m in _clusters(ref).values() if len(m) > 1),
        "pairwise_precision": round(pw["precision"], 4), "pairwise_recall": round(pw["recall"], 4),
        "pairwise_f1": round(pw["f1"], 4), "bcubed_f1": round(b3["f1"], 4),
        "merges": len(merges_of(stories_rows)),
    }
