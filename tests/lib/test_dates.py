"""parse_published: formats seen on Arabic pages and feeds, and no dates invented from nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

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
