"""Dedupe: one row per article id, and exact copies (same content hash) point at their original.

An article seen twice with the same id (the same file given twice, an overlapping glob) is kept
once. Different articles with the same body (syndicated copies under other outlets/URLs) are all
kept; every copy but the canonical one (the smallest id) gets `duplicate_of`. With the story state
(pipeline/io/story_state.py) a copy of an article an earlier run wrote points at that article's
canonical instead (written rows never change).
"""

from __future__ import annotations

from typing import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import METRICS_NAMESPACE


def first_of_id(item: tuple[str, Iterable[Article]]) -> Iterable[Article]:
    _, copies = item
    ordered = sorted(copies, key=lambda a: (a.source_uri, a.role))
    if len(ordered) > 1:
        Metrics.counter(METRICS_NAMESPACE, "dedupe.repeated_id_dropped").inc(len(ordered) - 1)
    yield ordered[0]


def mark_copies(item: tuple[str, Iterable[Article]]) -> Iterable[Article]:
    _, group = item
    ordered = sorted(group, key=lambda a: a.id)
    canonical = ordered[0].id
    for art in ordered[1:]:
        out = Article()
        out.CopyFrom(art)
        out.duplicate_of = canonical
        Metrics.counter(METRICS_NAMESPACE, "dedupe.exact_duplicates").inc()
        yield out
    yield ordered[0]


def mark_copies_across_runs(item: tuple[str, dict[str, list]], window_days: int = 7) -> Iterable[Article]:
    """`mark_copies`, where earlier runs' articles with the same content hash (state records with
    `canonical`) inside the story window come first: a new copy points at their canonical; the same
    article again keeps what it was written with."""
    from pipeline.lib.stories import StoryRules, admissible

    _, joined = item
    rules = StoryRules(window_days=window_days)
    records = {r.article_id: r for r in joined["record"]}
    new = joined["new"]
    if not new:
        return
    earlier = {
        r.article_id: r.canonical for r in joined["old"]
        if r.article_id in records or any(admissible(records[a.id], r, rules) for a in new if a.id in records)
    }
    if not earlier:
        yield from mark_copies((_, new))
        return
    canonical = min(earlier.values())
    for art in new:
        target = earlier.get(art.id, canonical)
        if target == art.id:
            yield art
            continue
        out = Article()
        out.CopyFrom(art)
        out.duplicate_of = target
        Metrics.counter(METRICS_NAMESPACE, "dedupe.exact_duplicates").inc()
        if art.id not in earlier:
            Metrics.counter(METRICS_NAMESPACE, "dedupe.copies_of_earlier_runs").inc()
        yield out


class KeepOnePerId(beam.PTransform):
    def expand(self, articles):  # type: ignore[no-untyped-def]
        return (
            articles
            | "KeyById" >> beam.Map(lambda a: (a.id, a))
            | "GroupById" >> beam.GroupByKey()
            | "KeepOnePerId" >> beam.FlatMap(first_of_id)
        )


class MarkCopies(beam.PTransform):
    """(articles, their StoryRecords, earlier runs' StoryRecords) → articles with duplicate_of, grouped
    by content hash."""

    def __init__(self, window_days: int = 7) -> None:
        super().__init__()
        self.window_days = window_days

    def expand(self, inputs):  # type: ignore[no-untyped-def]
        articles, records, old = inputs
        return (
            {"new": articles | "KeyByContent" >> beam.Map(lambda a: (a.content_hash, a)),
             "record": records | "KeyRecordsByContent" >> beam.Map(lambda r: (r.content_hash, r)),
             "old": old | "KeyStateByContent" >> beam.FlatMap(
                 lambda r: [(r.content_hash, r)] if r.content_hash else [])}
            | "GroupByContent" >> beam.CoGroupByKey()
            | "MarkExactDuplicates" >> beam.FlatMap(mark_copies_across_runs, self.window_days)
        )


class Deduplicate(beam.PTransform):
    def expand(self, articles):  # type: ignore[no-untyped-def]
        return (
            articles
            | "OnePerId" >> KeepOnePerId()
            | "KeyByContent" >> beam.Map(lambda a: (a.content_hash, a))
            | "GroupByContent" >> beam.GroupByKey()
            | "MarkExactDuplicates" >> beam.FlatMap(mark_copies)
        )
