"""Language: the body's language and confidence, "und" when unsure."""

from __future__ import annotations

import re
from typing import Iterable

from pipeline.lib.language import LanguageDetector
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Stage, StageFn
from pipeline.transforms.models import SharedModel

_CODE = re.compile(r"[a-z]{2,3}")  # ISO 639-1/-3, the same shape the lang= partition accepts


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
        hint = art.language.strip().lower()
        if _CODE.fullmatch(hint):  # given by the producer (JSONL `language`) as a code: trust it
            out.language = hint
            out.language_confidence = 1.0
            return [out]
        # Anything else ("../../etc", "a\x00b", 300 characters, "7") is not a language: detect.
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
