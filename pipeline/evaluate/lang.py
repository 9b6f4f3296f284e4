"""Language-identification accuracy over a directory of labelled samples (`newspipe eval lang`).

Layout: DIR/<code>.txt, one sample per line, where the file name stem is the expected language
code ("ar.txt", "ckb.txt", ...). Blank lines are skipped.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

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


# --- lingua's test data, side by side with lingua ---------------------------------------------

LENGTHS = ("single-words", "word-pairs", "sentences")
# Dari is Persian (ISO 639-1 "fa" is the macrolanguage): a "prs" answer on Persian text is right.
SAME_LANGUAGE = {("fa", "prs")}


class _Guesser(Protocol):
    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]: ...


def read_lingua_testdata(path: str, lengths: tuple[str, ...] = LENGTHS) -> dict[str, dict[str, list[str]]]:
    """{length: {code: samples}} from a directory laid out as lingua's `language-testdata/`."""
    root = Path(path)
    if (root / "language-testdata").is_dir():
        root = root / "language-testdata"
    data: dict[str, dict[str, list[str]]] = {}
    for length in lengths:
        files = sorted((root / length).glob("*.txt"))
        if files:
            data[length] = {
                f.stem: [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()] for f in files
            }
    if not data:
        raise FileNotFoundError(f"no {'/'.join(lengths)} folders of <code>.txt files in {path}")
    return data


class LinguaBaseline:
    """lingua alone: high-accuracy mode over all its languages (or `languages`), as lingua evaluates itself."""

    def __init__(self, languages: list[str] | None = None) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        if languages:
            langs = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in languages]
            self._detector = LanguageDetectorBuilder.from_languages(*langs).build()
        else:
            self._detector = LanguageDetectorBuilder.from_all_languages().build()

    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]:
        out = []
        for values in self._detector.compute_language_confidence_values_in_parallel(texts):
            # detect_language_of's rule: the top language, none when the top two tie.
            if not values or values[0].value <= 0 or (len(values) > 1 and values[0].value == values[1].value):
                out.append(LanguageGuess("und", 0.0))
            else:
                out.append(LanguageGuess(values[0].language.iso_code_639_1.name.lower(), values[0].value))
        return out


def _is_right(expected: str, got: str) -> bool:
    return got == expected or (expected, got) in SAME_LANGUAGE


def _precision_recall(
    predictions: dict[str, list[LanguageGuess]], label: str, min_confidence: float = 0.0
) -> tuple[float, float]:
    def code(g: LanguageGuess) -> str:
        return g.code if g.confidence >= min_confidence else "und"

    tp = sum(1 for g in predictions.get(label, []) if code(g) == label)
    predicted = sum(1 for guesses in predictions.values() for g in guesses if code(g) == label)
    total = len(predictions.get(label, []))
    return (tp / predicted if predicted else 0.0), (tp / total if total else 0.0)


def evaluate_lingua_testdata(
    path: str,
    detector: _Guesser,
    baseline: _Guesser | None,
    *,
    lengths: tuple[str, ...] = LENGTHS,
    min_confidence: float = 0.5,
    label: str = "ar",
    baseline_cache: str | None = None,
) -> dict:
    """Accuracy per language and length, ours against lingua's, plus `label` precision/recall.

    Accuracy is of the top answer (lingua, like its own evaluation, always answers); `answered`
    and `answered_accuracy` show what `min_confidence` (the run's threshold for "und") does.
    baseline_cache: a JSON file keeping lingua's answers between runs (they do not change).
    """
    import json

    data = read_lingua_testdata(path, lengths)
    cached: dict[str, list[list]] = {}
    if baseline_cache and Path(baseline_cache).exists():
        cached = json.loads(Path(baseline_cache).read_text(encoding="utf-8"))
    cells: dict[str, dict[str, dict]] = {}
    label_stats: dict[str, dict] = {}
    calibration: dict[str, list[dict]] = {}
    below: list[dict] = []
    for length, by_code in data.items():
        ours_all: dict[str, list[LanguageGuess]] = {}
        theirs_all: dict[str, list[LanguageGuess]] = {}
        for code, texts in by_code.items():
            ours = detector.detect_batch(texts)
            key = f"{length}/{code}"
            if key in cached and len(cached[key]) == len(texts):
                theirs = [LanguageGuess(c, v) for c, v in cached[key]]
            elif baseline is not None:
                theirs = baseline.detect_batch(texts)
                cached[key] = [[g.code, g.confidence] for g in theirs]
            else:
                theirs = []
            ours_all[code], theirs_all[code] = ours, theirs
            n = len(texts)
            ours_acc = sum(_is_right(code, g.code) for g in ours) / n
            answered = [g for g in ours if g.confidence >= min_confidence]
            cell: dict[str, Any] = {
                "n": n,
                "ours": round(ours_acc, 4),
                "answered": round(len(answered) / n, 4),
                "answered_accuracy": round(sum(_is_right(code, g.code) for g in answered) / len(answered), 4)
                if answered
                else None,
            }
            if theirs:
                cell["lingua"] = round(sum(_is_right(code, g.code) for g in theirs) / n, 4)
                if cell["ours"] < cell["lingua"]:
                    below.append({"language": code, "length": length, "ours": cell["ours"], "lingua": cell["lingua"]})
            cell["confusions"] = dict(Counter(g.code for g in ours if not _is_right(code, g.code)).most_common(3))
            cells.setdefault(code, {})[length] = cell
        calibration[length] = _reliability(
            [(g.confidence, _is_right(code, g.code)) for code, guesses in ours_all.items() for g in guesses]
        )
        if label in ours_all:
            p, r = _precision_recall(ours_all, label)
            pt, rt = _precision_recall(ours_all, label, min_confidence)
            stats = {
                "ours": {"precision": round(p, 4), "recall": round(r, 4)},
                "ours_at_min_confidence": {"precision": round(pt, 4), "recall": round(rt, 4)},
            }
            if all(theirs_all.values()):
                pl, rl = _precision_recall(theirs_all, label)
                stats["lingua"] = {"precision": round(pl, 4), "recall": round(rl, 4)}
            label_stats[length] = stats
    if baseline_cache:
        Path(baseline_cache).write_text(json.dumps(cached), encoding="utf-8")
    return {
        "cells": cells,
        label: label_stats,
        "below_lingua": below,
        "min_confidence": min_confidence,
        "calibration": calibration,
    }


CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.9, 0.99, 1.0001)


def _reliability(pairs: list[tuple[float, bool]]) -> list[dict]:
    """Per confidence bin: how many answers, their mean confidence and the share that was right."""
    out = []
    for low, high in itertools.pairwise(CONFIDENCE_BINS):
        inside = [(c, ok) for c, ok in pairs if low <= c < high]
        if inside:
            out.append(
                {
                    "bin": f"[{low}, {min(high, 1.0)}{']' if high > 1 else ')'}",
                    "n": len(inside),
                    "mean_confidence": round(sum(c for c, _ in inside) / len(inside), 4),
                    "accuracy": round(sum(ok for _, ok in inside) / len(inside), 4),
                }
            )
    return out
