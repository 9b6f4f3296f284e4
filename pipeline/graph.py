"""The one place that wires the transform chain. Batch, incremental and streaming share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import apache_beam as beam

from pipeline import __version__
from pipeline.config import Config, S3Settings
from pipeline.io.sinks import WriteArticles, WriteDeadLetters
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.classify import ClassifyTopics
from pipeline.transforms.clean import CleanArticles
from pipeline.transforms.dedupe import Deduplicate
from pipeline.transforms.entities import TagEntities
from pipeline.transforms.language import DetectLanguage
from pipeline.transforms.metadata import ExtractMetadata
from pipeline.transforms.parse import ParseAndSplit


@dataclass(frozen=True)
class RunContext:
    run_id: str
    output: str
    started_at: datetime
    settings: S3Settings | None


def _stamp_version(a: Article) -> Article:
    out = Article()
    out.CopyFrom(a)
    out.pipeline_version = __version__
    return out


class Enrich(beam.PTransform):
    """RawDocument → enriched, deduplicated Article; returns (articles, [dead-letter PCollections])."""

    def __init__(self, cfg: Config, ingested_at: datetime) -> None:
        super().__init__()
        self.cfg = cfg
        self.ingested_at = ingested_at

    def expand(self, docs):  # type: ignore[no-untyped-def]
        dead = []
        articles, d = docs | "ParseAndSplit" >> ParseAndSplit()
        dead.append(d)
        articles, d = articles | "Clean" >> CleanArticles()
        dead.append(d)
        articles, d = articles | "Metadata" >> ExtractMetadata(self.ingested_at)
        dead.append(d)
        articles, d = articles | "Language" >> DetectLanguage(self.cfg.language.min_confidence)
        dead.append(d)
        if self.cfg.enrich.entities:
            articles, d = articles | "Entities" >> TagEntities(self.cfg.enrich.ner_model)
            dead.append(d)
        if self.cfg.enrich.topics:
            articles, d = articles | "Classify" >> ClassifyTopics(self.cfg.enrich.topic_threshold)
            dead.append(d)
        articles = articles | "Dedupe" >> Deduplicate() | "StampVersion" >> beam.Map(_stamp_version)
        return articles, dead


def build(p: beam.Pipeline, cfg: Config, source: beam.PTransform, ctx: RunContext) -> None:
    """Wire source → enrichment → sinks onto `p`."""
    docs, read_dead = p | "Read" >> source
    articles, dead = docs | "Enrich" >> Enrich(cfg, ctx.started_at)
    all_dead = [read_dead, *dead] | "AllDeadLetters" >> beam.Flatten()
    articles | "WriteArticles" >> WriteArticles(ctx.output, ctx.run_id, cfg, ctx.settings)
    all_dead | "WriteDeadLetters" >> WriteDeadLetters(ctx.output, ctx.run_id, ctx.settings)
