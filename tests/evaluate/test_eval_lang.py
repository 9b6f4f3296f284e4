"""`eval lang`: accuracy over <code>.txt sample files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.evaluate.lang import LinguaBaseline, evaluate_lang_dir, evaluate_lang_dir_short, evaluate_lingua_testdata
from pipeline.lib.language import ARABIC_SCRIPT_CODES, LanguageDetector, LanguageGuess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lang"
# The fixtures' languages plus a few others (all 75 would load every Latin-script model: slow).
LANGUAGES = (
    *ARABIC_SCRIPT_CODES,
    "en",
    "fr",
    "de",
    "es",
    "pt",
    "id",
    "tr",
    "ja",
    "ko",
)  # = tests/lib/test_language.py's


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
    detector = LanguageDetector.load(LANGUAGES, min_confidence=0.5)
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


def _write_testdata(root: Path, data: dict[str, dict[str, list[str]]]) -> None:
    for length, by_code in data.items():
        (root / length).mkdir(parents=True)
        for code, lines in by_code.items():
            (root / length / f"{code}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


class _SecondWordDetector:
    """Says the second word of each sample is its language (the 'baseline' in these tests)."""

    def detect_batch(self, texts: list[str]) -> list[LanguageGuess]:
        return [LanguageGuess(t.split()[1], 0.9) for t in texts]


def test_lingua_testdata_cells_side_by_side(tmp_path: Path) -> None:
    _write_testdata(
        tmp_path,
        {
            "single-words": {"ar": ["ar ar", "ar fa", "fa ar", "ar ar"], "fa": ["fa fa", "ar ar", "ur fa"]},
            "sentences": {"ar": ["ar ar", "ar ar"], "fa": ["fa ar", "prs fa"]},
        },
    )
    cache = tmp_path / "lingua.json"
    result = evaluate_lingua_testdata(
        str(tmp_path), _FirstWordDetector(), _SecondWordDetector(), baseline_cache=str(cache)
    )
    cells = result["cells"]
    assert cells["ar"]["single-words"]["ours"] == 0.75 and cells["ar"]["single-words"]["lingua"] == 0.75
    assert cells["fa"]["single-words"]["ours"] == round(1 / 3, 4)
    # "prs" (Dari) on Persian text counts as right.
    assert cells["fa"]["sentences"] == {**cells["fa"]["sentences"], "ours": 1.0, "lingua": 0.5}
    # ar precision: 3 of the 4 "ar" answers on single words are Arabic samples.
    assert result["ar"]["single-words"]["ours"] == {"precision": 0.75, "recall": 0.75}
    assert result["ar"]["sentences"]["lingua"] == {"precision": round(2 / 3, 4), "recall": 1.0}
    assert result["below_lingua"] == [{"language": "fa", "length": "single-words", "ours": 0.3333, "lingua": 0.6667}]
    # lingua's answers are kept: a second run without a baseline reads them back.
    again = evaluate_lingua_testdata(str(tmp_path), _FirstWordDetector(), None, baseline_cache=str(cache))
    assert again["cells"] == cells


def test_lingua_testdata_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        evaluate_lingua_testdata(str(tmp_path), _FirstWordDetector(), None)


LINGUA_TESTDATA = os.environ.get("NEWSPIPE_LINGUA_TESTDATA")


@pytest.mark.slow
@pytest.mark.skipif(not LINGUA_TESTDATA, reason="set NEWSPIPE_LINGUA_TESTDATA to lingua's language-testdata/")
def test_arabic_script_cells_match_or_beat_lingua(tmp_path: Path) -> None:
    """ar/fa/ur on lingua's own test data (not committed: fetch lingua-py's language-testdata/)."""
    root = Path(LINGUA_TESTDATA or "")
    for length in ("single-words", "word-pairs", "sentences"):
        (tmp_path / length).mkdir()
        for code in ("ar", "fa", "ur"):
            (tmp_path / length / f"{code}.txt").write_bytes((root / length / f"{code}.txt").read_bytes())
    result = evaluate_lingua_testdata(str(tmp_path), LanguageDetector.load(min_confidence=0.0), LinguaBaseline())
    assert result["below_lingua"] == []
    for length, stats in result["ar"].items():
        assert stats["ours"]["precision"] >= stats["lingua"]["precision"], length
        assert stats["ours"]["recall"] >= stats["lingua"]["recall"], length
