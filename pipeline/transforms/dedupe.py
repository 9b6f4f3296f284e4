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


def copy_links(item: tuple[str, dict[str, list]], window_days: int = 7) -> Iterable[tuple[str, str]]:
    """(content hash, {"record": this run's StoryRecords, "old": earlier runs' state records}) →
    (article id, duplicate_of) for each copy: the rule of `mark_copies`, where earlier runs' articles
    with the same content hash inside the story window come first. A new copy points at their
    canonical; the same article again keeps what it was written with. Only ids travel, not articles."""
    from pipeline.lib.stories import StoryRules, admissible

    _, joined = item
    records = {r.article_id: r for r in joined["record"]}
    if not records:
        return
    rules = StoryRules(window_days=window_days)
    earlier = {
        r.article_id: r.canonical for r in joined["old"]
        if r.article_id in records or any(admissible(rec, r, rules) for rec in records.values())
    }
    canonical = min(earlier.values()) if earlier else min(records)
    for article_id in sorted(records):
        target = earlier.get(article_id, canonical)
        if target == article_id:
            continue
        Metrics.counter(METRICS_NAMESPACE, "dedupe.exact_duplicates").inc()
        if earlier and article_id not in earlier:
            Metrics.counter(METRICS_NAMESPACE, "dedupe.copies_of_earlier_runs").inc()
        yield article_id, target


class KeepOnePerId(beam.PTransform):
    def expand(self, articles):  # type: ignore[no-untyped-def]
        return (
            articles
            | "KeyById" >> beam.Map(lambda a: (a.id, a))
            | "GroupById" >> beam.GroupByKey()
            | "KeepOnePerId" >> beam.FlatMap(first_of_id)
        )


class CopyLinks(beam.PTransform):
    """(this run's StoryRecords, earlier runs' StoryRecords) → (article id, duplicate_of) of each copy,
    grouped by content hash (copy_links). The articles stay where they are: SetStoryIds applies it."""

    def __init__(self, window_days: int = 7) -> None:
        super().__init__()
        self.window_days = window_days

    def expand(self, inputs):  # type: ignore[no-untyped-def]
        records, old = inputs
        return (
            {"record": records | "KeyRecordsByContent" >> beam.Map(lambda r: (r.content_hash, r)),
             "old": old | "KeyStateByContent" >> beam.FlatMap(
                 lambda r: [(r.content_hash, r)] if r.content_hash else [])}
            | "GroupByContent" >> beam.CoGroupByKey()
            | "CopyLinks" >> beam.FlatMap(copy_links, self.window_days)
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
