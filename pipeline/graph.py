"""The one place that wires the transform chain. Batch, incremental and streaming share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipeline import __version__
from pipeline.config import Config, S3Settings
from pipeline.io.sinks import WriteArticles, WriteDeadLetters, WriteStories
from pipeline.io.story_state import StoryState
from pipeline.io.sources import ReadFile
from pipeline.lib.stories import StoryRules
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Stage
from pipeline.transforms.classify import ClassifyTopics
from pipeline.transforms.clean import CleanArticles
from pipeline.transforms.dedupe import Deduplicate
from pipeline.transforms.entities import TagEntities
from pipeline.transforms.language import DetectLanguage
from pipeline.transforms.metadata import ExtractMetadata
from pipeline.transforms.parse import ParseAndSplit
from pipeline.transforms.stories import AssignStories
from pipeline.transforms.windowing import FlushDeadLetters, WindowByEventTime


@dataclass(frozen=True)
class RunContext:
    run_id: str
    output: str
    started_at: datetime
    settings: S3Settings | None
    state_tag: str = ""  # names this pipeline's story-state segments (a chunk, a replay window); default run_id


def stamp_version(a: Article) -> Article:
    out = Article()
    out.CopyFrom(a)
    out.pipeline_version = __version__
    return out


def enrichment_stages(cfg: Config, ingested_at: datetime) -> list[Stage]:
    """The per-article stages in order; the one list both Beam (`Enrich`) and pipeline/local.py run."""
    stages: list[Stage] = [
        ParseAndSplit(),
        CleanArticles(),
        ExtractMetadata(ingested_at),
        DetectLanguage(cfg.language.min_confidence),
    ]
    if cfg.enrich.entities:
        stages.append(TagEntities(cfg.enrich.ner_model))
    if cfg.enrich.topics:
        stages.append(ClassifyTopics())
    return stages


class Enrich(beam.PTransform):
    """RawDocument → enriched, deduplicated Article; returns (articles, [dead-letter PCollections]).

    `resume` maps a stage name ("clean", "entities", ...) to records that enter the chain at that
    stage: re-driven dead letters whose payload is the input that stage once failed on.
    """

    def __init__(
        self, cfg: Config, ingested_at: datetime, resume: dict | None = None, ctx: RunContext | None = None,
        staged: bool = False,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.ingested_at = ingested_at
        self.resume = resume or {}
        self.ctx = ctx  # with it, stories and duplicates join the output's story state (pipeline/io/story_state.py)
        self.staged = staged

    def expand(self, docs):  # type: ignore[no-untyped-def]
        dead = []
        articles = docs
        for stage in enrichment_stages(self.cfg, self.ingested_at):
            name = stage.make_fn().stage
            if name in self.resume:
                articles = (articles, self.resume[name]) | f"Resume{stage.step}" >> beam.Flatten()
            articles, stage_dead = articles | stage.step >> stage
            dead.append(stage_dead)
        if self.cfg.enrich.stories:
            articles = articles | "Stories" >> self._stories()
        else:
            articles = articles | "Dedupe" >> Deduplicate()
        articles = articles | "StampVersion" >> beam.Map(stamp_version)
        return articles, dead

    def _stories(self) -> AssignStories:
        rules = StoryRules(window_days=self.cfg.stories.window_days)
        ctx = self.ctx
        if ctx is None:
            return AssignStories(self.ingested_at, rules)
        tag = ctx.state_tag or ctx.run_id
        state = StoryState(ctx.output, tag, ctx.settings, rules)
        sink = WriteStories(ctx.output, tag, ctx.settings, ctx.started_at, staged=self.staged)
        return AssignStories(self.ingested_at, rules, state, sink)


def build(
    p: beam.Pipeline, cfg: Config, source: beam.PTransform, ctx: RunContext, resume: dict[str, list] | None = None
) -> None:
    """Batch: files → enrichment → sinks, staged until the run commits (pipeline/io/commit.py).
    `resume`: stage name → records that re-enter there."""
    docs, read_dead = p | "Read" >> source
    resumed = {name: p | f"Redriven{name.title()}" >> beam.Create(items) for name, items in (resume or {}).items()}
    articles, dead = docs | "Enrich" >> Enrich(cfg, ctx.started_at, resumed, ctx, staged=True)
    all_dead = [read_dead, *dead] | "AllDeadLetters" >> beam.Flatten()
    articles | "WriteArticles" >> WriteArticles(ctx.output, ctx.run_id, cfg, ctx.settings, staged=True)
    all_dead | "WriteDeadLetters" >> WriteDeadLetters(ctx.output, ctx.run_id, ctx.settings, staged=True)


def build_streaming(
    p: beam.Pipeline,
    cfg: Config,
    source: beam.PTransform,
    ctx: RunContext,
    window_seconds: int,
    lateness_seconds: int,
    flag_too_late: bool = True,
) -> None:
    """Streaming: timestamped file refs → event-time windows → the same enrichment → windowed sinks.

    Windowing comes first so that every grouping downstream (dedupe, stories, sinks) is per window.
    """
    refs = p | "Replay" >> source
    windowed, too_late = refs | "Window" >> WindowByEventTime(window_seconds, lateness_seconds, flag_too_late)
    docs, read_dead = windowed | "ReadFile" >> ReadFile(cfg, ctx.settings)
    articles, dead = docs | "Enrich" >> Enrich(cfg, ctx.started_at, ctx=ctx)
    unwindowed = [
        pc | f"UnwindowDeadLetters{i}" >> beam.WindowInto(GlobalWindows())
        for i, pc in enumerate([too_late, read_dead, *dead])
    ]
    all_dead = unwindowed | "AllDeadLetters" >> beam.Flatten() | "FlushDeadLetters" >> FlushDeadLetters()
    articles | "WriteArticles" >> WriteArticles(ctx.output, ctx.run_id, cfg, ctx.settings)
    all_dead | "WriteDeadLetters" >> WriteDeadLetters(ctx.output, ctx.run_id, ctx.settings)
