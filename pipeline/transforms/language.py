"""Language: the body's language and confidence, "und" when unsure."""

from __future__ import annotations

from typing import Iterable

from pipeline.lib.language import LanguageDetector
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Stage, StageFn
from pipeline.transforms.models import SharedModel


class _LanguageFn(StageFn):
    stage = "language"

    def __init__(self, min_confidence: float) -> None:
        super().__init__()
        self._detector = SharedModel(
            f"language-{min_confidence}", lambda: LanguageDetector.load(min_confidence=min_confidence)
        )

    def setup(self) -> None:
        self.detector = self._detector.get()

    def process_one(self, art: Article) -> Iterable[Article]:
        out = Article()
        out.CopyFrom(art)
        if art.language:  # given by the producer (JSONL `language`): trust it
            out.language_confidence = 1.0
            return [out]
        guess = self.detector.detect(art.title + "\n" + art.body)
        out.language = guess.code
        out.language_confidence = round(float(guess.confidence), 4)
        return [out]


class DetectLanguage(Stage):
    step = "DetectLanguage"

    def __init__(self, min_confidence: float) -> None:
        super().__init__()
        self.min_confidence = min_confidence

    def make_fn(self) -> StageFn:
        return _LanguageFn(self.min_confidence)
