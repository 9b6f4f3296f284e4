"""evaluate_conll: exact output shape, hand-computed scores with oracle taggers, and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluate.ner import evaluate_conll, score_chunks
from pipeline.lib.model import EntityMention
from pipeline.lib.ner import bio_spans, read_conll

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ner_small.conll"


def _gold_mentions() -> dict[str, list[EntityMention]]:
    """Sentence text -> gold character spans, computed from the fixture itself."""
    out: dict[str, list[EntityMention]] = {}
    for tokens, tags in read_conll(str(FIXTURE)):
        text = " ".join(tokens)
        starts = []
        pos = 0
        for tok in tokens:
            starts.append(pos)
            pos += len(tok) + 1
        mentions = []
        for first, last, typ in bio_spans(tags):
            start, end = starts[first], starts[last - 1] + len(tokens[last - 1])
            mentions.append(EntityMention(text[start:end], typ, start, end))
        out[text] = mentions
    return out


class OracleTagger:
    """Returns the gold spans, minus any type listed in `drop` and any surface in `drop_surfaces`."""

    def __init__(self, drop: tuple[str, ...] = (), drop_surfaces: tuple[str, ...] = ()):
        self.gold = _gold_mentions()
        self.drop = drop
        self.drop_surfaces = drop_surfaces

    def tag(self, text: str) -> list[EntityMention]:
        out, base = [], 0
        for line in text.split("\n"):  # several sentences, one per line (doc_size > 1)
            for m in self.gold[line]:
                if m.type not in self.drop and m.surface not in self.drop_surfaces:
                    out.append(EntityMention(m.surface, m.type, m.start + base, m.end + base))
            base += len(line) + 1
        return out


def test_fixture_counts() -> None:
    sentences = read_conll(str(FIXTURE))
    assert len(sentences) == 10
    types = [t for _, tags in sentences for _, _, t in bio_spans(tags)]
    assert {t: types.count(t) for t in set(types)} == {"PER": 4, "LOC": 9, "ORG": 7, "MISC": 1}


def test_perfect_tagger_scores_one_with_exact_shape() -> None:
    result = evaluate_conll(str(FIXTURE), OracleTagger())
    assert set(result) == {"per_type", "micro"}
    assert set(result["per_type"]) == {"PER", "LOC", "ORG", "MISC"}
    for scores in [*result["per_type"].values(), result["micro"]]:
        assert set(scores) == {"precision", "recall", "f1", "support"}
        assert scores["precision"] == scores["recall"] == scores["f1"] == 1.0
    assert result["per_type"]["LOC"]["support"] == 9
    assert result["micro"]["support"] == 21


def test_missing_entities_lower_recall_only() -> None:
    # All 9 LOC and one of the 4 PER are missed: 11 of 21 found, every prediction correct.
    result = evaluate_conll(str(FIXTURE), OracleTagger(drop=("LOC",), drop_surfaces=("ليلى",)))
    loc, per, micro = result["per_type"]["LOC"], result["per_type"]["PER"], result["micro"]
    assert (loc["precision"], loc["recall"], loc["f1"], loc["support"]) == (0.0, 0.0, 0.0, 9)
    assert per["precision"] == 1.0 and per["recall"] == pytest.approx(3 / 4)
    assert per["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert micro["precision"] == 1.0
    assert micro["recall"] == pytest.approx(11 / 21)
    assert micro["f1"] == pytest.approx(22 / 32)


def test_partial_and_wrong_type_spans_are_errors() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-ORG"]]  # truncated person, mistyped place
    result = score_chunks(gold, pred)
    assert result["micro"]["precision"] == 0.0 and result["micro"]["recall"] == 0.0
    assert result["per_type"]["ORG"]["support"] == 0
    # An I- after O starts a new chunk (conlleval), so it matches a gold B- chunk of one token.
    assert score_chunks([["O", "B-LOC"]], [["O", "I-LOC"]])["micro"]["f1"] == 1.0


def test_shipped_model_on_fixture() -> None:
    from pipeline.lib.ner import NerTagger

    tagger = NerTagger.load()
    combined = evaluate_conll(str(FIXTURE), tagger)
    crf_only = evaluate_conll(str(FIXTURE), tagger, crf_only=True)
    assert combined["micro"]["f1"] >= 0.7
    assert crf_only["micro"]["f1"] >= 0.7
    assert combined["per_type"]["LOC"]["recall"] >= 0.75


def test_sentences_tagged_as_documents_score_the_same_spans() -> None:
    from pipeline.evaluate.ner import evaluate_sentences

    sentences = read_conll(str(FIXTURE))
    tagger = OracleTagger(drop_surfaces=("ليلى",))
    one = evaluate_sentences(sentences, tagger)
    for size in (3, 4, 10):
        assert evaluate_sentences(sentences, tagger, doc_size=size) == one
    assert one["micro"]["recall"] == pytest.approx(20 / 21)
