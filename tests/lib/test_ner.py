"""NER tokenizer, morphology helpers, BIO helpers, training re-tokenization and the shipped model."""

from __future__ import annotations

import pytest

from pipeline.lib.model import EntityMention
from pipeline.lib.ner import (
    FeatureExtractor,
    NerTagger,
    bio_spans,
    spans_to_bio,
    split_proclitics,
    tokenize,
)
from pipeline.training.train_ner import to_pieces


def test_tokenizer_keeps_offsets_and_splits_arabic_punctuation() -> None:
    text = "قال «المسؤول»، هل وصل؟ نعم؛ 3.5 مليون (تقريباً)"
    toks = tokenize(text)
    for t in toks:
        assert text[t.start : t.end] == t.text
    assert [t.text for t in toks] == [
        "قال",
        "«",
        "المسؤول",
        "»",
        "،",
        "هل",
        "وصل",
        "؟",
        "نعم",
        "؛",
        "3.5",
        "مليون",
        "(",
        "تقريباً",
        ")",
    ]


def test_tokenizer_handles_newlines_and_harakat() -> None:
    text = "مُحَمَّد\n\nذهب"
    assert [(t.text, t.start, t.end) for t in tokenize(text)] == [("مُحَمَّد", 0, 8), ("ذهب", 10, 13)]


def test_split_proclitics() -> None:
    assert split_proclitics("والعراق") == ("و", True, "عراق")
    assert split_proclitics("للولايات") == ("ل", True, "ولايات")
    assert split_proclitics("بواشنطن") == ("ب", False, "واشنطن")
    assert split_proclitics("الي") == ("", False, "الي")  # too short to strip


def test_bio_spans_conlleval_rules() -> None:
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG", "I-ORG"]
    assert bio_spans(tags) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 7, "ORG")]


def test_spans_to_bio_overlap_projection() -> None:
    tokens = ["زار", "وفد", "بالقاهرة", "أمس"]  # text: 'زار وفد بالقاهرة أمس'
    mention = EntityMention("القاهرة", "LOC", 9, 16)  # inside the clitic-attached token
    assert spans_to_bio(tokens, [mention]) == ["O", "O", "B-LOC", "O"]
    two = EntityMention("وفد بالقاهرة", "ORG", 4, 16)
    assert spans_to_bio(tokens, [two]) == ["O", "B-ORG", "I-ORG", "O"]


def test_to_pieces_carries_tags_over_punctuation() -> None:
    pieces, tags = to_pieces(["(لبنان", "الجنوبي)", "قال"], ["B-LOC", "I-LOC", "O"])
    assert pieces == ["(", "لبنان", "الجنوبي", ")", "قال"]
    assert tags == ["O", "B-LOC", "I-LOC", "O", "O"]


def test_features_are_stable_and_mark_context() -> None:
    fx = FeatureExtractor()
    seq = fx.sequence(["قال", "الرئيس", "زيد", "والعراق"])
    assert "w=زيد" in seq[2] and "-1trig=PERT" in seq[2]
    assert "clitic=و" in seq[3] and "al" in seq[3] and "core=عراق" in seq[3]
    assert fx.sequence(["قال", "الرئيس", "زيد", "والعراق"]) == seq


@pytest.fixture(scope="module")
def tagger() -> NerTagger:
    return NerTagger.load()


def _found(ents: list[EntityMention]) -> set[tuple[str, str]]:
    return {(e.surface, e.type) for e in ents}


def test_tag_finds_people_places_orgs(tagger: NerTagger) -> None:
    text = "قال الرئيس المصري عبد الفتاح السيسي إن مصر ستستضيف القمة في القاهرة."
    ents = tagger.tag(text)
    for e in ents:
        assert text[e.start : e.end] == e.surface and e.type in {"PER", "LOC", "ORG", "MISC"}
        assert e.canonical == "" and e.wikidata_id == ""
    found = _found(ents)
    assert ("عبد الفتاح السيسي", "PER") in found
    assert ("القاهرة", "LOC") in found
    assert ("مصر", "LOC") in found


def test_tag_strips_proclitic_but_keeps_article(tagger: NerTagger) -> None:
    text = "وصل الوفد إلى بغداد والتقى بممثلين عن الأمم المتحدة وسافر بعدها إلى والقاهرة"
    ents = tagger.tag(text)
    surfaces = {e.surface for e in ents}
    assert "بغداد" in surfaces
    assert "القاهرة" in surfaces  # 'و' stripped, 'ال' kept
    assert not any(s.startswith("والقاهرة") for s in surfaces)


def test_tag_tokens_shape(tagger: NerTagger) -> None:
    tokens = ["أعلنت", "شركة", "تويوتا", "في", "طوكيو", "عن", "أرباحها"]
    tags = tagger.tag_tokens(tokens)
    assert len(tags) == len(tokens)
    assert tags[4] == "B-LOC"
    assert all(t == "O" or t[:2] in ("B-", "I-") for t in tags)
