"""The same stages without Beam: a plain loop over the stage DoFns' logic.

Used as the bare-loop baseline in benchmarks and by `newspipe eval seeds`, so both measure exactly
the code the pipeline runs.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Iterable

from apache_beam.pvalue import TaggedOutput

from pipeline.config import Config
from pipeline.graph import enrichment_stages, stamp_version
from pipeline.lib.stories import StoryClusterer, StoryRules, keyed_cluster
from pipeline.protos.article_pb2 import Article, RawDocument
from pipeline.protos.dead_letter_pb2 import DeadLetter
from pipeline.transforms.dedupe import first_of_id, mark_copies
from pipeline.transforms.stories import story_record, with_story


class LocalPipeline:
    """Loads every model once, then `process(docs)` runs parse → classify → dedupe in-process."""

    def __init__(self, cfg: Config, ingested_at: datetime | None = None) -> None:
        self.cfg = cfg
        self.fns = [stage.make_fn() for stage in enrichment_stages(cfg, ingested_at or datetime.now(timezone.utc))]
        for fn in self.fns:
            fn.setup()

    def enrich(self, doc: RawDocument) -> tuple[list[Article], list[DeadLetter]]:
        elements: list = [doc]
        dead: list[DeadLetter] = []
        for fn in self.fns:
            produced = []
            for element in elements:
                for out in fn.process(element):
                    if isinstance(out, TaggedOutput):
                        dead.append(out.value)
                    else:
                        produced.append(out)
            elements = produced
        return elements, dead

    def process(self, docs: Iterable[RawDocument]) -> tuple[list[Article], list[DeadLetter]]:
        articles: list[Article] = []
        dead: list[DeadLetter] = []
        for doc in docs:
            a, d = self.enrich(doc)
            articles += a
            dead += d
        articles = dedupe(articles)
        if self.cfg.enrich.stories:
            articles = assign_stories(articles, StoryRules(window_days=self.cfg.stories.window_days))
        return [stamp_version(a) for a in articles], dead


def assign_stories(articles: list[Article], rules: StoryRules | None = None) -> list[Article]:
    """The keyed clustering of transforms/stories.py in-process (no story state: one batch)."""
    from pipeline.lib.stories import story_id_for

    clusterer = StoryClusterer()
    now = datetime.now(timezone.utc)
    result = keyed_cluster([story_record(clusterer, a, now) for a in articles], rules or StoryRules())
    return [with_story(a, result.story_of.get(a.id) or story_id_for(a.id)) for a in articles]


def dedupe(articles: list[Article]) -> list[Article]:
    by_id: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        by_id[a.id].append(a)
    by_content: dict[str, list[Article]] = defaultdict(list)
    for item in by_id.items():
        for a in first_of_id(item):
            by_content[a.content_hash].append(a)
    out: list[Article] = []
    for item in by_content.items():
        out.extend(mark_copies(item))
    return out
