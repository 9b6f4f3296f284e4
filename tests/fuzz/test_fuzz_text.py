"""Fuzzing the text-level parsers: dates, Arabic normalisers, gazetteer and NER spans."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone

import pytest
from fuzz_support import ARABIC_WORDS, arabic_sentence, budget, hostile_text, time_limit
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.lib.arabic import clean_line, clean_text, match_form, match_form_with_offsets, match_key
from pipeline.lib.dates import parse_published
from pipeline.lib.entities import tag_entities
from pipeline.lib.gazetteer import Gazetteer
from pipeline.lib.ner import NerTagger

EARLIEST = datetime(1800, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)

# --------------------------------------------------------------------------- dates

date_piece = st.one_of(
    st.integers(-99999, 99999).map(str),
    st.sampled_from(["-", "T", ":", "+", "Z", " ", "/", ".", "،", "(", ")", "ص", "م", "am", "pm", "GMT", "+14:00", "-1400"]),
    st.sampled_from(["يناير", "كانون الثاني", "فيفري", "Sep", "Mon,", "عام", "منذ", "ساعات", "هـ", "أمس", "today"]),
    st.sampled_from(["0001", "9999", "0000", "1799", "2200", "10000", "٢٠٢٤", "١٢"]),
)
date_like = st.lists(date_piece, max_size=12).map("".join)


def check_date(raw: str, **kw) -> datetime | None:  # type: ignore[no-untyped-def]
    with time_limit(5, "parse_published"):
        value = parse_published(raw, **kw)
    if value is not None:
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert EARLIEST <= value < LATEST, value
        assert len(value.strftime("%Y-%m-%d")) == 10  # a well-formed dt= partition
    return value


@budget(400)
@given(raw=st.one_of(date_like, st.text(max_size=80), hostile_text))
@example(raw="0001-01-01T00:00:00+14:00")
@example(raw="9999-12-31T23:59:59-14:00")
@example(raw="Fri, 31 Dec 9999 23:00:00 -0500")
@example(raw="1 يناير 0001")
@example(raw="31 ديسمبر 9999 - 23:59 م")
@example(raw="0999-06-01")
@example(raw="2024-02-30T25:61:61")
@example(raw="\x00 2024-01-01")
@example(raw="2" * 199 + "4")
def test_parse_published_never_raises_and_stays_sane(raw: str) -> None:
    check_date(raw)


@budget(100)
@given(raw=date_like, tz=st.sampled_from(["UTC", "Asia/Riyadh", "Pacific/Kiritimati", "America/Adak", "Asia/Tokyo"]))
def test_parse_published_other_zones_and_relative(raw: str, tz: str) -> None:
    check_date(raw, default_tz=tz)
    check_date(raw, default_tz=tz, relative_base=datetime(2024, 1, 1, tzinfo=timezone.utc))


def test_out_of_range_dates_are_none_not_errors() -> None:
    for raw in ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59", "0001-01-01"]:
        assert check_date(raw) is None
        assert check_date(raw, default_tz="Asia/Tokyo") is None
    assert check_date("2024-09-13T08:31:00+14:00") == datetime(2024, 9, 12, 18, 31, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- arabic normalisers

any_text = st.one_of(st.text(max_size=300), hostile_text, st.lists(arabic_sentence(), max_size=5).map("\n".join))


@budget(400)
@given(text=any_text)
@example(text="\ufefb\u0640\u064b \r\n\n\n\n x")
@example(text="İstanbul ﷲ ﷺ")
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once
    assert "\n\n\n" not in once and once == once.strip()
    line = clean_line(text)
    assert "\n" not in line and clean_line(line) == line


@budget(400)
@given(text=any_text)
@example(text="İİ aİ")
@example(text="\u0130\u064b\u0640ß\ufb00")
def test_match_form_with_offsets_maps_back(text: str) -> None:
    form, kept = match_form_with_offsets(text)
    assert len(form) == len(kept)
    assert kept == sorted(set(kept)) and all(0 <= i < len(text) for i in kept)
    for ch, i in zip(form, kept):
        folded = match_form(text[i])
        assert ch == folded[:1] or (not folded and ch == " ") or len(folded) > 1, (ch, text[i])
    if len(form) == len(match_form(text)):
        assert form == match_form(text)


@budget(300)
@given(text=any_text)
def test_match_key_is_stable(text: str) -> None:
    key = match_key(text)
    assert match_key(key) == key
    assert key == " ".join(key.split())


# --------------------------------------------------------------------------- gazetteer and NER


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load()


@pytest.fixture(scope="module")
def tagger() -> NerTagger:
    return NerTagger.load()


entity_text = st.lists(
    st.one_of(st.sampled_from(ARABIC_WORDS), st.sampled_from(["\n", "  ", "\t", ".", "،", "(", ")", "«", "»"]), hostile_text),
    max_size=60,
).map(" ".join)


def check_spans(text: str, mentions) -> None:  # type: ignore[no-untyped-def]
    for m in mentions:
        assert 0 <= m.start < m.end <= len(text), (m, len(text))
        assert m.surface == text[m.start : m.end]
        assert m.type in {"PER", "LOC", "ORG", "MISC"}


@budget(300)
@given(text=entity_text)
@example(text="ﻻ القاهرة\u200f\u0640 مُحَمَّد بن سلمان İ القاهرة")
@example(text="وزير  الخارجية\t\tالمصري\n\nفي   القاهرة")
def test_gazetteer_find_spans_are_exact(gazetteer: Gazetteer, text: str) -> None:
    check_spans(text, gazetteer.find(text))


@budget(200)
@given(text=entity_text)
def test_ner_tag_spans_are_exact(gazetteer: Gazetteer, tagger: NerTagger, text: str) -> None:
    check_spans(text, tagger.tag(text))
    check_spans(text, tagger.tag(text, gazetteer=gazetteer))


@budget(200)
@given(text=entity_text)
def test_tag_entities_spans_are_exact_and_disjoint(gazetteer: Gazetteer, tagger: NerTagger, text: str) -> None:
    mentions = tag_entities(text, gazetteer, tagger)
    check_spans(text, mentions)
    for a, b in itertools.pairwise(mentions):
        assert a.end <= b.start


def test_tag_entities_time_is_linear(gazetteer: Gazetteer, tagger: NerTagger) -> None:
    """Was quadratic (every CRF span against every gazetteer span): 205 s on a 1.9 MB body."""
    sentence = "قال وزير الخارجية المصري إن القاهرة تدعم الحل السلمي في المنطقة. "
    small_text, big_text = sentence * 500, sentence * 4000
    start = time.perf_counter()
    small = tag_entities(small_text, gazetteer, tagger)
    t_small = time.perf_counter() - start
    with time_limit(60, "tag_entities on 260 kB"):
        start = time.perf_counter()
        big = tag_entities(big_text, gazetteer, tagger)
        t_big = time.perf_counter() - start
    assert len(big) == 8 * len(small) > 0
    assert t_big < 16 * t_small + 1.0, f"8x text took {t_big:.2f}s vs {t_small:.2f}s"
