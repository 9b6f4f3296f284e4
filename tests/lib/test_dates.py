"""parse_published: formats seen on Arabic pages and feeds, and no dates invented from nothing."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta, timezone

import pytest

import pipeline.lib.dates as dates_module
from pipeline.lib.dates import parse_published

UTC = timezone.utc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("24th, September 2023 GMT", datetime(2023, 9, 24, tzinfo=UTC)),
        ("13th, September 2024 GMT", datetime(2024, 9, 13, tzinfo=UTC)),
        ("30 أكتوبر 2024", datetime(2024, 10, 30, tzinfo=UTC)),
        ("الأحد 13 سبتمبر 2024", datetime(2024, 9, 13, tzinfo=UTC)),
        ("١٤ سبتمبر ٢٠٢٣", datetime(2023, 9, 14, tzinfo=UTC)),
        ("15 كانون الثاني 2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("3 تشرين الأول 2022", datetime(2022, 10, 3, tzinfo=UTC)),
        ("24 يوليو (تموز) عام 2024", datetime(2024, 7, 24, tzinfo=UTC)),
        ("10 أوت 2016 - 14:30", datetime(2016, 8, 10, 14, 30, tzinfo=UTC)),
        ("5 آب 2023 الساعة 5:30 م", datetime(2023, 8, 5, 17, 30, tzinfo=UTC)),
        ("نيسان 2024", datetime(2024, 4, 1, tzinfo=UTC)),
        ("2024-09-13", datetime(2024, 9, 13, tzinfo=UTC)),
        ("2024-09-13T08:31:00+01:00", datetime(2024, 9, 13, 7, 31, tzinfo=UTC)),
        ("2024-09-13T08:31:00Z", datetime(2024, 9, 13, 8, 31, tzinfo=UTC)),
        ("Tue, 10 Sep 2024 08:00:00 +0300", datetime(2024, 9, 10, 5, 0, tzinfo=UTC)),
        ("Tue, 10 Sep 2024 08:00:00 GMT", datetime(2024, 9, 10, 8, 0, tzinfo=UTC)),
        ("13/09/2024", datetime(2024, 9, 13, tzinfo=UTC)),
        ("2 Sep 2024 10:00 pm", datetime(2024, 9, 2, 22, 0, tzinfo=UTC)),
    ],
)
def test_known_formats(raw: str, expected: datetime) -> None:
    value = parse_published(raw)
    assert value == expected
    assert value is not None and value.utcoffset() == timedelta(0)


@pytest.mark.parametrize("raw", ["", "   ", "hello", "الأحد", "13 سبتمبر", "منذ 3 ساعات", "1445 هـ", "x" * 500])
def test_no_date_evidence_gives_none(raw: str) -> None:
    assert parse_published(raw) is None


def test_relative_needs_a_base() -> None:
    base = datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert parse_published("منذ 3 ساعات", relative_base=base) == datetime(2024, 1, 1, 9, tzinfo=UTC)


def test_naive_times_use_default_tz() -> None:
    assert parse_published("2024-01-01 10:00", default_tz="Asia/Riyadh") == datetime(2024, 1, 1, 7, tzinfo=UTC)
    assert parse_published("15 كانون الثاني 2024", default_tz="Asia/Beirut") == datetime(2024, 1, 14, 22, tzinfo=UTC)


def test_impossible_day_is_none() -> None:
    assert parse_published("31 فبراير 2024") is None


# --------------------------------------------------------------------------- the Arabic dates grid (issue 15 part 4)


FAMILIES = {
    "gregorian": ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"],
    "levantine": ["كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين الأول",
                  "تشرين الثاني", "كانون الأول"],
    "levantine_numbered": ["كانون 2", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين 1",
                           "تشرين 2", "كانون 1"],
    "maghrebi": ["جانفي", "فيفري", "مارس", "أفريل", "ماي", "جوان", "جويلية", "أوت", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"],
    "moroccan": ["يناير", "فبراير", "مارس", "أبريل", "ماي", "يونيو", "يوليوز", "غشت", "شتنبر", "أكتوبر", "نونبر", "دجنبر"],
}
_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
DIGITS = {
    "ascii": lambda day, year: (day, year),
    "arabic_indic": lambda day, year: (day.translate(_ARABIC_INDIC), year.translate(_ARABIC_INDIC)),
    "persian": lambda day, year: (day.translate(_PERSIAN), year.translate(_PERSIAN)),
    "mixed": lambda day, year: (day.translate(_ARABIC_INDIC), year[:2] + year[2:].translate(_PERSIAN)),
}
RLM, LRM, ALM = "\u200f", "\u200e", "\u061c"
BIDI = {
    "none": lambda day, month, year: f"{day} {month} {year}",
    "rlm_wrapped": lambda day, month, year: f"{RLM}{day} {month} {year}{RLM}",  # the known news site
    "lrm_inside": lambda day, month, year: f"{LRM}{day}{LRM} {month} {LRM}{year}{LRM}",
    "alm_and_rlm": lambda day, month, year: f"{ALM}{day}{RLM} {month}{ALM} {year[:2]}{RLM}{year[2:]}",
}
DUAL = {
    "gregorian_only": lambda gregorian, hijri: gregorian,
    "hijri_first": lambda gregorian, hijri: f"الأحد {hijri} هـ الموافق {gregorian} م",
    "hijri_after": lambda gregorian, hijri: f"{gregorian} م - {hijri} هـ",
    "hijri_numeric": lambda gregorian, hijri: f"1445/09/05 هـ | {gregorian}",
}
GRID = list(itertools.product(FAMILIES, range(1, 13), DIGITS, BIDI, DUAL))


@pytest.fixture
def no_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every grid cell must be read by a fast path: dateparser is slow and misses some forms."""
    def refuse(default_tz: str) -> None:
        raise AssertionError("dateparser was called")

    monkeypatch.setattr(dates_module, "_dateparser", refuse)


@pytest.mark.usefixtures("no_dateparser")
@pytest.mark.parametrize(("family", "month", "digits", "bidi", "dual"), GRID)
def test_arabic_dates_grid(family: str, month: int, digits: str, bidi: str, dual: str) -> None:
    day_text, year_text = DIGITS[digits](str(7 + month), "2024")
    gregorian = BIDI[bidi](day_text, FAMILIES[family][month - 1], year_text)
    hijri_day, hijri_year = DIGITS[digits]("5", "1445")
    raw = DUAL[dual](gregorian, f"{hijri_day} رمضان {hijri_year}")
    assert parse_published(raw) == datetime(2024, month, 7 + month, tzinfo=UTC), raw


@pytest.mark.usefixtures("no_dateparser")
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15 يناير/كانون الثاني 2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("15 كانون الثاني - يناير 2024", datetime(2024, 1, 15, tzinfo=UTC)),
        ("كانون 2 2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("3 تشرين 2، 2023 - 10:30", datetime(2023, 11, 3, 10, 30, tzinfo=UTC)),
        ("1445/10/05 هـ - 2024/04/14 م", datetime(2024, 4, 14, tzinfo=UTC)),
        ("٠٥/١٠/١٤٤٥ هـ الموافق ١٤/٠٤/٢٠٢٤", datetime(2024, 4, 14, tzinfo=UTC)),
        ("\u200f١٣\u200f/\u200f٠٩\u200f/\u200f٢٠٢٤\u200f", datetime(2024, 9, 13, tzinfo=UTC)),
        ("۲۰۲۴/۰۹/۱۳ ۱۰:۳۰", datetime(2024, 9, 13, 10, 30, tzinfo=UTC)),
        ("13/09/2024 05:30 م", datetime(2024, 9, 13, 17, 30, tzinfo=UTC)),
    ],
)
def test_dual_names_numbered_months_and_numeric_dates(raw: str, expected: datetime) -> None:
    assert parse_published(raw) == expected


# Documented None: a Hijri date alone (no Gregorian to pick), an impossible day, no year.
@pytest.mark.parametrize("raw", ["5 رمضان 1445 هـ", "1445/09/05 هـ", "٥ رمضان ١٤٤٥ هـ", "30 شباط 2024", "15 كانون 2"])
def test_documented_none_cells(raw: str) -> None:
    assert parse_published(raw) is None


FETCHED = datetime(2024, 3, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10 آذار 2024", datetime(2024, 3, 10, tzinfo=UTC)),
        ("11 مارس 2024 - 10:00", datetime(2024, 3, 11, 10, tzinfo=UTC)),  # within a day: clock/zone slack
        ("2024-03-11T11:59:00Z", datetime(2024, 3, 11, 11, 59, tzinfo=UTC)),
        ("12 مارس 2024", None),  # after the fetch: a misreading, not a publication date
        ("15 يناير 2030", None),
        ("2030-01-01T00:00:00Z", None),
    ],
)
def test_future_dates_relative_to_fetch_time_are_none(raw: str, expected: datetime | None) -> None:
    assert parse_published(raw, not_after=FETCHED) == expected
    assert parse_published(raw) is not None  # without a fetch time the date is read as written


def test_fast_paths_stay_fast() -> None:
    samples = ["24th, September 2023 GMT", "\u200f١٤ سبتمبر ٢٠٢٣\u200f", "الأحد 5 رمضان 1445 هـ الموافق 14 أبريل 2024 م",
               "2024-09-13T08:31:00+01:00", "15 كانون 2 2024", "٠٥/١٠/١٤٤٥ هـ الموافق ١٤/٠٤/٢٠٢٤"]
    start = time.perf_counter()
    for _ in range(2000):
        for raw in samples:
            parse_published(raw)
    per_parse = (time.perf_counter() - start) / (2000 * len(samples))
    assert per_parse < 200e-6, f"{per_parse * 1e6:.0f} µs per parse"
