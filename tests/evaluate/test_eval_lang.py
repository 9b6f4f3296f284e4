"""`eval lang`: accuracy over <code>.txt sample files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluate.lang import evaluate_lang_dir, evaluate_lang_dir_short
from pipeline.lib.language import LanguageDetector, LanguageGuess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lang"


class _FirstWordDetector:
    """Says the first word of each sample is its language: a detector whose answers we know."""

    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]:
        return [LanguageGuess(t.split()[0], 1.0) for t in texts]


def test_scores_are_computed_per_file(tmp_path: Path) -> None:
    (tmp_path / "ar.txt").write_text("ar one\nar two\nfa three\n\nar four\n", encoding="utf-8")
    (tmp_path / "fa.txt").write_text("fa x\nur y\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored\n", encoding="utf-8")
    result = evaluate_lang_dir(str(tmp_path), _FirstWordDetector())
    assert result == {"accuracy": 4 / 6, "per_language": {"ar": 0.75, "fa": 0.5}, "n": 6}


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        evaluate_lang_dir(str(tmp_path), _FirstWordDetector())


def test_shipped_samples_score_high() -> None:
    detector = LanguageDetector.load()
    result = evaluate_lang_dir(str(FIXTURES), detector)
    assert set(result) == {"accuracy", "per_language", "n"}
    assert set(result["per_language"]) >= {"ar", "fa", "prs", "ur", "ps", "ckb", "sd", "ug", "en", "fr"}
    assert result["n"] > 600
    assert result["accuracy"] >= 0.95
    for code, accuracy in result["per_language"].items():
        assert accuracy >= (0.75 if code == "prs" else 0.9), code
    short = evaluate_lang_dir_short(str(FIXTURES), detector)
    assert short["n"] > 100
    assert short["accuracy"] >= 0.9
