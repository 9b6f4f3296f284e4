"""Classify: IPTC Media Topics (top level) with calibrated scores, multi-label."""

from __future__ import annotations

from typing import Iterable

from pipeline.lib.topics import TopicClassifier
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Stage, StageFn
from pipeline.transforms.convert import topic_proto
from pipeline.transforms.models import SharedModel


class _ClassifyFn(StageFn):
    stage = "classify"

    def __init__(self) -> None:
        super().__init__()
        self._classifier = SharedModel("topics", TopicClassifier.load)

    def setup(self) -> None:
        self.classifier = self._classifier.get()

    def process_one(self, art: Article) -> Iterable[Article]:
        out = Article()
        out.CopyFrom(art)
        del out.topics[:]
        # Every topic at or above the threshold tuned with the model; at least the best one.
        out.topics.extend(topic_proto(t) for t in self.classifier.predict(art.title, art.body))
        return [out]


class ClassifyTopics(Stage):
    step = "ClassifyTopics"

    def make_fn(self) -> StageFn:
        return _ClassifyFn()
