"""NER tokenizer, morphology helpers, BIO helpers, training re-tokenization and the shipped model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.lib.model import EntityMention
from pipeline.lib.ner import (
    DEFAULT_MODEL,
    FeatureExtractor,
    NerTagger,
    bio_spans,
    read_conll,
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


# Affix features of a fixed text as the four separate builders of NER v3 produced them (before
# they became one `_affix_fns` helper). Same features => same labels with any model; checked also
# label for label with the v3 model on 1,190 dev sentences (with and without gazetteer) at the change.
_AFFIX_TEXT = "قال الرئيس زيد، و والعراق بواشنطن 3.5 ب لل Obama."
_AFFIX_V3 = [
    ["p1=ق", "p2=قا", "s1=ل", "s2=ال", "-1s2=ال", "1s2=ال", "cs1=ل", "cs2=ال", "cp2=قا"],
    ["p1=ا", "p2=ال", "p3=الر", "s1=س", "s2=يس", "s3=ييس", "-1s2=يس", "1s2=يس", "cs1=س", "cs2=يس", "cs3=ييس", "cp2=ري"],
    ["p1=ز", "p2=زي", "s1=د", "s2=يد", "-1s2=يد", "1s2=يد", "cs1=د", "cs2=يد", "cp2=زي"],
    ["-1s2=،", "1s2=،"],
    ["-1s2=و", "1s2=و", "cp2=و"],
    ["p1=و", "p2=وا", "p3=وال", "s1=ق", "s2=اق", "s3=راق", "-1s2=اق", "1s2=اق", "cs1=ق", "cs2=اق", "cs3=راق", "cp2=عر"],
    ["p1=ب", "p2=بو", "p3=بوا", "s1=ن", "s2=طن", "s3=نطن", "-1s2=طن", "1s2=طن", "cs1=ن", "cs2=طن", "cs3=نطن", "cp2=وا"],
    ["p1=3", "p2=3.", "s1=5", "s2=.5", "-1s2=.5", "1s2=.5", "cs1=5", "cs2=.5", "cp2=3."],
    ["-1s2=ب", "1s2=ب", "cp2=ب"],
    ["p1=ل", "s1=ل", "-1s2=لل", "1s2=لل", "cs1=ل", "cp2=لل"],
    ["p1=o", "p2=ob", "p3=oba", "s1=a", "s2=ma", "s3=ama", "-1s2=ma", "1s2=ma", "cs1=a", "cs2=ma", "cs3=ama", "cp2=ob"],
    ["-1s2=.", "1s2=."],
]


def test_affix_helper_gives_the_v3_affix_features() -> None:
    from pipeline.lib.ner import _AFFIXES, _affix_fns

    fx = FeatureExtractor()
    got = []
    for tok in tokenize(_AFFIX_TEXT):
        a = fx.analyse(tok.text)
        feats: list[str] = []
        for spec in _AFFIXES:
            own, rel = _affix_fns(spec)[1](a)
            feats += own + [f for k in sorted(rel) for f in rel[k]]
        got.append(feats)
    assert got == _AFFIX_V3
    # and every one of them reaches the CRF's feature list of that token
    seq = fx.sequence([t.text for t in tokenize(_AFFIX_TEXT)])
    for i, feats in enumerate(_AFFIX_V3):
        own = [f for f in feats if f[0].isalpha()]  # not the ones shown to neighbours
        assert set(own) <= set(seq[i])


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


TRAIN = Path("/work/shared/data/anercorp-train/ANERCorp_CamelLab_train.txt")


def _dev_pieces(limit: int | None = None) -> list[list[str]]:
    if not TRAIN.exists():
        pytest.skip("ANERcorp train split not available")
    sentences = read_conll(TRAIN)
    dev = sentences[len(sentences) - round(len(sentences) * 0.1) :]
    return [to_pieces(toks, tags)[0] for toks, tags in dev[:limit]]


def test_compiled_scores_equal_feature_weights(tagger: NerTagger) -> None:
    """The cached feature-group blocks sum to exactly what the training features weigh."""
    sc = tagger._scorer(None)
    for pieces in _dev_pieces(60):
        n = len(pieces)
        em = sc.emissions(pieces, np.zeros(n, dtype=int), np.full(n, n))
        feats = sc.fx.sequence(pieces)
        ref = np.stack([tagger.weights[[tagger.attr_index.get(f, 0) for f in fs]].sum(axis=0) for fs in feats])
        np.testing.assert_allclose(em, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("with_gazetteer", [False, True])
def test_numpy_viterbi_matches_crfsuite_on_dev(tagger: NerTagger, with_gazetteer: bool) -> None:
    """Same labels as CRFsuite's own tagger on every dev sentence (features from the same extractor)."""
    import pycrfsuite

    from pipeline.lib.gazetteer import Gazetteer

    gaz = Gazetteer.load() if with_gazetteer else None
    fx = tagger.extractor(gaz)
    crf = pycrfsuite.Tagger()
    crf.open(str(DEFAULT_MODEL))
    dev = _dev_pieces()
    ours = tagger._decode(dev, gaz)
    assert ours == [crf.tag(fx.sequence(p)) for p in dev]
    # And tag() over several lines at once decodes each line on its own, as the batch above did
    # (document consistency, which reads across lines on purpose, is off for this check).
    saved = tagger.document_consistency
    tagger.document_consistency = frozenset()
    lines = [" ".join(p) for p in dev[:40]]
    expected: list[EntityMention] = []
    base = 0
    for line in lines:
        expected += [EntityMention(m.surface, m.type, m.start + base, m.end + base) for m in tagger.tag(line, gaz)]
        base += len(line) + 1
    try:
        assert tagger.tag("\n".join(lines), gaz) == expected
    finally:
        tagger.document_consistency = saved


def test_name_priors_levels_and_features() -> None:
    from pipeline.lib.ner import NamePriors, prior_bucket

    # P = count / (total + 2): one sighting is 0.33 (level 2), 10 of 10 is 0.83 (level 4)
    pairs = [(0, 5), (1, 1), (2, 2), (9, 10), (10, 10), (1, 15), (1, 40)]
    assert [prior_bucket(c, t) for c, t in pairs] == [0, 2, 3, 3, 4, 1, 0]
    pri = NamePriors({"زيد": (("PER3",), ("PER2", "LOC1"), 40), "عراق": ((), ("LOC4",), 0)})
    assert pri.features("زيد", "زيد", 1000) == ("gPER3", "sPER2", "sLOC1", "wd2l")
    assert pri.features("زيد", "زيد", 10) == ("gPER3", "sPER2", "sLOC1", "wd2h")
    assert pri.features("والعراق", "عراق", 5) == ("csLOC4",)  # the core's, marked 'c'
    fx = FeatureExtractor(priors=pri)
    seq = fx.sequence(["قال", "زيد", "والعراق"])
    assert "pr:gPER3" in seq[1] and "-1pr:gPER3" in seq[2] and "1pr:gPER3" in seq[0]


def test_sport_sentences_mark_their_tokens() -> None:
    fx = FeatureExtractor(sport_context=True)  # a training option (v4 lever, not in the shipped model)
    sport = fx.sequence(["فاز", "برشلونة", "في", "المباراة"])
    plain = fx.sequence(["زار", "برشلونة", "أمس"])
    assert "sport" in sport[1] and any(f.startswith("sport&c1=") for f in sport[1])
    assert not any(f.startswith("sport") for feats in plain for f in feats)


def test_document_consistency_votes_spreads_and_links_surnames(tagger: NerTagger) -> None:
    from pipeline.lib.arabic import match_form

    flat = ["قال", "زيد", "الخطيب", "إن", "الخطيب", "زار", "حلب", ".", "وصل", "حلب", "وحلب"]
    ids: dict[str, int] = {}
    cores = np.array([ids.setdefault(split_proclitics(match_form(t))[2], len(ids)) for t in flat])  # core ids
    lengths = [8, 3]
    spans = [(1, 3, "PER"), (6, 7, "LOC"), (9, 10, "ORG"), (10, 11, "LOC")]
    em = np.zeros((len(flat), len(tagger.labels)))
    saved = tagger.document_consistency
    try:
        tagger.document_consistency = frozenset({"vote", "spread", "surname"})
        got = tagger._consistent(cores, lengths, spans, em)
        # the lone surname becomes PER; حلب is LOC by 2 votes to 1, proclitic or not
        assert got == [(1, 3, "PER"), (4, 5, "PER"), (6, 7, "LOC"), (9, 10, "LOC"), (10, 11, "LOC")]
        tagger.document_consistency = frozenset({"spread"})
        untagged = [(1, 3, "PER"), (6, 7, "LOC")]
        assert tagger._consistent(cores, lengths, untagged, em) == [(1, 3, "PER"), (6, 7, "LOC"), (9, 10, "LOC"), (10, 11, "LOC")]
        # the CRF's own scores can veto a spread: O far above B-LOC at position 9
        veto = em.copy()
        veto[9, tagger.labels.index("O")] = 10.0
        assert (9, 10, "LOC") not in tagger._consistent(cores, lengths, untagged, veto)
    finally:
        tagger.document_consistency = saved
