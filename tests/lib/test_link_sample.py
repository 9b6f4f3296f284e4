"""The hand-checked link sample (tests/fixtures/ner_link_sample.tsv) and the script that draws and publishes it."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from pipeline.lib.gazetteer import Gazetteer
from pipeline.training.link_sample import FULL_COLS, PUBLIC_COLS, publish, wilson

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "ner_link_sample.tsv"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def test_wilson_interval() -> None:
    lo, hi = wilson(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(187, 200)
    assert (round(lo, 3), round(hi, 3)) == (0.892, 0.962)


def test_committed_sample_is_judged_and_matches_the_shipped_gazetteer() -> None:
    rows = _rows(SAMPLE)
    assert list(rows[0]) == PUBLIC_COLS
    assert len(rows) == 200
    # The figures quoted in pipeline/resources/ner/PROVENANCE.md and docs/quality.md.
    assert Counter(r["verdict"] for r in rows) == {"correct": 187, "wrong": 13}
    assert all(r["reason"] for r in rows if r["verdict"] != "correct")
    gaz = Gazetteer.load()
    canonical = {e.qid: e.canonical for e in gaz.entries}
    for r in rows:
        assert r["qid"] in canonical, r
        assert r["gaz_canonical"] == canonical[r["qid"]]
        assert int(r["start"]) < int(r["end"])


def test_publish_drops_the_corpus_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    judged = tmp_path / "judged.tsv"
    base = dict.fromkeys(FULL_COLS, "x")
    verdicts = ["correct", "correct", "wrong", "unsure"]
    rows = [dict(base, n=str(i), surface="باريس", left="في", right="اليوم", verdict=v, reason=v[0] * (v != "correct"))
            for i, v in enumerate(verdicts, 1)]
    with open(judged, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FULL_COLS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "public.tsv"
    publish(str(judged), str(out))
    text = out.read_text(encoding="utf-8")
    assert "باريس" not in text and "اليوم" not in text
    assert [r["verdict"] for r in _rows(out)] == ["correct", "correct", "wrong", "unsure"]
    assert "excluding unsure: 2/3" in capsys.readouterr().out
