"""`newspipe eval ner`: conlleval-style entity P/R/F1 of the entity pipeline on a CoNLL file.

Each sentence's tokens are joined with single spaces and run through the same code articles go
through (`tag_entities`); predicted character spans are projected back onto the whitespace tokens
(a token overlapping a span is tagged, the first one B-) and scored by exact chunk match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.lib.entities import tag_entities
from pipeline.lib.model import EntityMention
from pipeline.lib.ner import ENTITY_TYPES, bio_spans, read_conll, spans_to_bio

Sentence = tuple[list[str], list[str]]


def score_chunks(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Exact-match chunk P/R/F1 per type and micro, from parallel BIO tag sequences."""
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for g_tags, p_tags in zip(gold, pred, strict=True):
        g = set(bio_spans(g_tags))
        p = set(bio_spans(p_tags))
        for _, _, t in g:
            n_gold[t] += 1
        for _, _, t in p:
            n_pred[t] += 1
        for _, _, t in g & p:
            tp[t] += 1

    def prf(t_p: int, n_p: int, n_g: int) -> dict[str, float | int]:
        precision = t_p / n_p if n_p else 0.0
        recall = t_p / n_g if n_g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": n_g}

    per_type = {t: prf(tp[t], n_pred[t], n_gold[t]) for t in ENTITY_TYPES}
    # Micro counts only the four reported types, so stray labels cannot inflate it.
    micro = prf(
        sum(tp[t] for t in ENTITY_TYPES), sum(n_pred[t] for t in ENTITY_TYPES), sum(n_gold[t] for t in ENTITY_TYPES)
    )
    return {"per_type": per_type, "micro": micro}


def evaluate_sentences(
    sentences: Sequence[Sentence],
    tagger: Any,
    gazetteer: Any = None,
    crf_only: bool = False,
    doc_size: int = 1,
) -> dict[str, Any]:
    """Score `tagger` (+ `gazetteer`) on already-read sentences; see `evaluate_conll`.

    `doc_size` > 1 tags that many consecutive sentences as one text (one line each), as an
    article is tagged, so document-level steps (consistency, surname linking) take part.
    """
    gold: list[list[str]] = [list(tags) for _, tags in sentences]
    pred: list[list[str]] = []
    for b in range(0, len(sentences), max(1, doc_size)):
        block = [list(tokens) for tokens, _ in sentences[b : b + max(1, doc_size)]]
        lines = [" ".join(tokens) for tokens in block]
        text = "\n".join(lines)
        if crf_only:
            mentions = tagger.tag(text, gazetteer=gazetteer)
        else:
            mentions = tag_entities(text, gazetteer, tagger)
        base = 0
        for tokens, line in zip(block, lines):
            end = base + len(line)
            mine = [
                EntityMention(m.surface, m.type, m.start - base, m.end - base, m.canonical, m.wikidata_id)
                for m in mentions
                if base <= m.start < end
            ]
            pred.append(spans_to_bio(tokens, mine))
            base = end + 1
    return score_chunks(gold, pred)


def evaluate_conll(
    path: str, tagger: Any, gazetteer: Any = None, crf_only: bool = False, doc_size: int = 1
) -> dict[str, Any]:
    """conlleval-style scores of the entity pipeline on a CoNLL file.

    Returns {"per_type": {"PER"|"LOC"|"ORG"|"MISC": {"precision","recall","f1","support"}},
    "micro": {...}} with fractions in [0, 1]. `crf_only=True` scores `tagger.tag_tokens` alone
    (no gazetteer combination).
    """
    return evaluate_sentences(read_conll(path), tagger, gazetteer, crf_only=crf_only, doc_size=doc_size)
