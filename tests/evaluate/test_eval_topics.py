"""Tests for pipeline.evaluate.topics on the tiny hand-written ANT-format fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluate.topics import classification_report, evaluate_ant
from pipeline.lib.ant import iter_ant, text_sha1
from pipeline.lib.model import TopicScore
from pipeline.lib.topics import TopicClassifier

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TAR = str(FIXTURES / "ant_small.tar.xz")
MANIFEST = str(FIXTURES / "ant_small_manifest.tsv")


class AlwaysSport:
    def predict_batch(self, docs: list[tuple[str, str]]) -> list[list[TopicScore]]:
        return [[TopicScore("15000000", "sport", 1.0)] for _ in docs]


def test_reader_parses_fixture_and_manifest_agrees() -> None:
    docs = list(iter_ant(TAR, MANIFEST))
    assert len(docs) == 30
    doc, row = next((d, r) for d, r in docs if d.docno == "FX-politic-1-20200101")
    assert doc.category == "politic" and doc.iptc == "11000000"
    assert doc.source == "OutletB" and doc.path == "OutletB/politic/FX-politic-1-20200101.txt"
    assert doc.title == "البرلمان يصادق على قانون المالية"
    assert doc.text.startswith("صادق البرلمان")
    assert row.text_sha1 == text_sha1(doc.text)
    # The fixture has one text syndicated under sport and internationalNews.
    dup = [r for _, r in docs if r.dup_text_count == 2]
    assert len(dup) == 2 and dup[0].dup_text_cats == ("internationalNews", "sport")


def test_classification_report_by_hand() -> None:
    rep = classification_report(["a", "a", "b", "b"], ["a", "b", "b", "c"])
    assert rep["accuracy"] == 0.5
    assert rep["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert rep["per_class"]["b"]["precision"] == 0.5 and rep["per_class"]["b"]["recall"] == 0.5
    assert "c" not in rep["per_class"]  # macro over gold classes only
    assert rep["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert rep["confusion"] == {"labels": ["a", "b", "c"], "matrix": [[1, 1, 0], [0, 1, 1], [0, 0, 0]]}


def test_evaluate_ant_with_constant_classifier_exact_numbers() -> None:
    rep = evaluate_ant(TAR, MANIFEST, AlwaysSport())
    assert rep["skipped"] == 6
    assert rep["accuracy"] == pytest.approx(4 / 24)
    assert rep["per_class"]["15000000"] == {
        "precision": pytest.approx(4 / 24),
        "recall": 1.0,
        "f1": pytest.approx(2 * (1 / 6) / (1 + 1 / 6)),
        "support": 4,
    }
    assert rep["per_class"]["01000000"]["f1"] == 0.0
    assert rep["macro_f1"] == pytest.approx(rep["per_class"]["15000000"]["f1"] / 6)


def test_evaluate_ant_schema_and_plausible_scores() -> None:
    rep = evaluate_ant(TAR, MANIFEST, TopicClassifier.load())
    assert set(rep) == {"accuracy", "macro_f1", "per_class", "confusion", "skipped"}
    assert rep["skipped"] == 6
    gold_codes = {"01000000", "04000000", "11000000", "13000000", "14000000", "15000000"}
    assert set(rep["per_class"]) == gold_codes
    for stats in rep["per_class"].values():
        assert set(stats) == {"precision", "recall", "f1", "support"}
        assert stats["support"] == 4
        assert all(0.0 <= stats[k] <= 1.0 for k in ("precision", "recall", "f1"))
    labels, matrix = rep["confusion"]["labels"], rep["confusion"]["matrix"]
    assert gold_codes <= set(labels) and len(matrix) == len(labels)
    assert sum(map(sum, matrix)) == 24
    assert 0.0 <= rep["accuracy"] <= 1.0 and 0.0 <= rep["macro_f1"] <= 1.0
    # Short but unambiguous made-up articles: a working model gets most of them.
    assert rep["accuracy"] >= 0.75, rep
