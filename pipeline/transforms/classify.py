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

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold
        self._classifier = SharedModel("topics", TopicClassifier.load)

    def setup(self) -> None:
        self.classifier = self._classifier.get()

    def process_one(self, art: Article) -> Iterable[Article]:
        out = Article()
        out.CopyFrom(art)
        del out.topics[:]
        scores = self.classifier.predict(art.title, art.body)
        kept = [t for i, t in enumerate(scores) if i == 0 or t.score >= self.threshold]
        out.topics.extend(topic_proto(t) for t in kept)
        return [out]


class ClassifyTopics(Stage):
    label = "ClassifyTopics"

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold

    def make_fn(self) -> StageFn:
        return _ClassifyFn(self.threshold)
