"""Metadata: publication date, keyword phrases, stable id and content hash."""

from __future__ import annotations

from typing import Iterable

from pipeline.lib.dates import parse_published
from pipeline.lib.gazetteer import Gazetteer, split_keywords
from pipeline.lib.ids import article_id, content_hash
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Stage, StageFn
from pipeline.transforms.convert import set_time
from pipeline.transforms.models import SharedModel


class _MetadataFn(StageFn):
    stage = "metadata"

    def __init__(self, ingested_at) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.ingested_at = ingested_at
        self._gazetteer = SharedModel("gazetteer", Gazetteer.load)

    def setup(self) -> None:
        self.gazetteer = self._gazetteer.get()

    def process_one(self, art: Article) -> Iterable[Article]:
        out = Article()
        out.CopyFrom(art)
        if art.published_raw and not art.HasField("published_at"):
            # Nothing is published after it was ingested: a later date is a misreading (None).
            published = parse_published(art.published_raw, not_after=self.ingested_at)
            if published is not None:
                set_time(out.published_at, published)
        if art.keywords_raw and not art.keywords:
            out.keywords.extend(split_keywords(art.keywords_raw, self.gazetteer))
        set_time(out.ingested_at, self.ingested_at)
        out.content_hash = content_hash(art.body)
        out.id = article_id(art.outlet, art.url, art.title, out.content_hash)
        return [out]


class ExtractMetadata(Stage):
    step = "ExtractMetadata"

    def __init__(self, ingested_at) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.ingested_at = ingested_at

    def make_fn(self) -> StageFn:
        return _MetadataFn(self.ingested_at)
