"""Entities: gazetteer + trained tagger, linked to Wikidata where certain; offsets into body/title."""

from __future__ import annotations

from typing import Iterable

from pipeline.lib.entities import tag_entities
from pipeline.lib.gazetteer import Gazetteer
from pipeline.lib.ner import NerTagger
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Stage, StageFn
from pipeline.transforms.convert import entity_proto
from pipeline.transforms.models import SharedModel


class _EntitiesFn(StageFn):
    stage = "entities"

    def __init__(self, use_ner_model: bool) -> None:
        super().__init__()
        self._gazetteer = SharedModel("gazetteer", Gazetteer.load)
        self._tagger = SharedModel("ner", NerTagger.load) if use_ner_model else None

    def setup(self) -> None:
        self.gazetteer = self._gazetteer.get()
        self.tagger = self._tagger.get() if self._tagger else None

    def process_one(self, art: Article) -> Iterable[Article]:
        out = Article()
        out.CopyFrom(art)
        del out.entities[:]
        for m in tag_entities(art.title, self.gazetteer, self.tagger):
            out.entities.append(entity_proto(m, in_title=True))
        for m in tag_entities(art.body, self.gazetteer, self.tagger):
            out.entities.append(entity_proto(m))
        return [out]


class TagEntities(Stage):
    step = "TagEntities"

    def __init__(self, use_ner_model: bool = True) -> None:
        super().__init__()
        self.use_ner_model = use_ner_model

    def make_fn(self) -> StageFn:
        return _EntitiesFn(self.use_ner_model)
