"""Dedupe: one row per article id, and exact copies (same content hash) point at their original.

An article seen twice with the same id (the same file given twice, an overlapping glob) is kept
once. Different articles with the same body (syndicated copies under other outlets/URLs) are all
kept; every copy but the canonical one (the smallest id) gets `duplicate_of`.
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


class Deduplicate(beam.PTransform):
    def expand(self, articles):  # type: ignore[no-untyped-def]
        return (
            articles
            | "KeyById" >> beam.Map(lambda a: (a.id, a))
            | "GroupById" >> beam.GroupByKey()
            | "KeepOnePerId" >> beam.FlatMap(first_of_id)
            | "KeyByContent" >> beam.Map(lambda a: (a.content_hash, a))
            | "GroupByContent" >> beam.GroupByKey()
            | "MarkExactDuplicates" >> beam.FlatMap(mark_copies)
        )
