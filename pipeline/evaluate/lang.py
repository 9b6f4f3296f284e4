"""Language-identification accuracy over a directory of labelled samples (`newspipe eval lang`).

Layout: DIR/<code>.txt, one sample per line, where the file name stem is the expected language
code ("ar.txt", "ckb.txt", ...). Blank lines are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pipeline.lib.language import LanguageGuess

# Samples shorter than this are also scored on their own: short text is the hard case.
SHORT_CHARS = 40


class _Detector(Protocol):
    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]: ...


def read_samples(path: str) -> dict[str, list[str]]:
    """Expected code -> samples, for every *.txt file in `path` (sorted by code)."""
    samples: dict[str, list[str]] = {}
    for file in sorted(Path(path).glob("*.txt")):
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
        samples[file.stem] = [line for line in lines if line]
    if not samples:
        raise FileNotFoundError(f"no <code>.txt sample files in {path}")
    return samples


def evaluate_lang_dir(path: str, detector: _Detector) -> dict:
    """{"accuracy": overall share correct, "per_language": {code: share correct}, "n": samples}."""
    correct = total = 0
    per_language: dict[str, float] = {}
    for code, texts in read_samples(path).items():
        guesses = detector.detect_batch(texts)
        hits = sum(1 for guess in guesses if guess.code == code)
        per_language[code] = hits / len(texts) if texts else 0.0
        correct += hits
        total += len(texts)
    return {"accuracy": correct / total if total else 0.0, "per_language": per_language, "n": total}


def evaluate_lang_dir_short(path: str, detector: _Detector, max_chars: int = SHORT_CHARS) -> dict:
    """`evaluate_lang_dir` restricted to samples shorter than `max_chars` characters."""
    correct = total = 0
    per_language: dict[str, float] = {}
    for code, texts in read_samples(path).items():
        short = [t for t in texts if len(t) < max_chars]
        if not short:
            continue
        hits = sum(1 for guess in detector.detect_batch(short) if guess.code == code)
        per_language[code] = hits / len(short)
        correct += hits
        total += len(short)
    return {"accuracy": correct / total if total else 0.0, "per_language": per_language, "n": total}


def confusions(path: str, detector: _Detector) -> list[tuple[str, str, str]]:
    """(expected, got, sample) for every miss: what `eval lang` prints to explain its score."""
    misses = []
    for code, texts in read_samples(path).items():
        for text, guess in zip(texts, detector.detect_batch(texts)):
            if guess.code != code:
                misses.append((code, guess.code, text))
    return misses
