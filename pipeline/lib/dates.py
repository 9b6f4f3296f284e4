"""Publication dates from page/feed text to tz-aware UTC datetimes: the one place that parses dates.

Fast paths handle ISO-8601, RFC 2822 (feeds), English "24th, September 2023 GMT", "day month year"
with Arabic month names (Gregorian يناير..., Levantine كانون الثاني... and the numbered "كانون 2",
Maghrebi جانفي..., pairs such as "يناير/كانون الثاني") and numeric day/month/year, in any digit system
(ASCII, Arabic-Indic ٠-٩, Persian ۰-۹, mixed) and through bidi marks (U+200E/U+200F/U+061C...),
which dateparser lacks in part. A line with a Hijri and a Gregorian date gives the Gregorian one; a
Hijri date alone gives None. Everything else goes to dateparser (ar+en), but only when the text
carries a four-digit year, so nothing is invented from a weekday or a bare "today"; relative
phrases ("منذ 3 ساعات") are read only against an explicit `relative_base`. A date later than
`not_after` (the fetch time) plus a day of clock/zone slack is None: it is a misreading (an event
date, a swapped day/month), not a publication date, and the article falls back to its fetch time.
"""

from __future__ import annotations

import email.utils
import functools
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.lib.arabic import clean_line, match_key

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("يناير", "كانون الثاني", "كانون ثاني", "كانون 2", "جانفي", "ينير"),
    2: ("فبراير", "شباط", "فيفري"),
    3: ("مارس", "آذار"),
    4: ("أبريل", "إبريل", "نيسان", "أفريل"),
    5: ("مايو", "أيار", "ماي"),
    6: ("يونيو", "يونيه", "حزيران", "جوان"),
    7: ("يوليو", "يوليه", "تموز", "جويلية", "يوليوز"),
    8: ("أغسطس", "آب", "أوت", "غشت"),
    9: ("سبتمبر", "أيلول", "شتنبر"),
    10: ("أكتوبر", "تشرين الأول", "تشرين أول", "تشرين 1", "اكتوبر"),
    11: ("نوفمبر", "تشرين الثاني", "تشرين ثاني", "تشرين 2", "نونبر"),
    12: ("ديسمبر", "كانون الأول", "كانون أول", "كانون 1", "دجنبر"),
}
_MONTHS = {match_key(name): number for number, names in _MONTH_NAMES.items() for name in names}
_MONTH_ALT = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
# "13 سبتمبر 2024", "24 يوليو (تموز) عام 2024", "كانون الثاني 2024 - 10:30", in match_key form.
# A second name of the same month may follow: "يناير/كانون الثاني", "كانون الثاني - يناير".
_ARABIC_DATE = re.compile(
    rf"(?:(?<!\d)(\d{{1,2}})\s+(?:من\s+)?)?\b({_MONTH_ALT})(?!\w)\s*(?:[/\-–]\s*(?:{_MONTH_ALT})(?!\w)\s*)?"
    rf"(?:\([^()]{{0,20}}\)\s*)?"
    rf"(?:[,،]\s*)?(?:عام\s+|سنه\s+)?(\d{{4}})(?!\d)"
    rf"(?:[^\d]{{0,12}}?(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?\s*(ص|م|am|pm)?)?"
)
_RFC2822 = re.compile(
    r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s+(?:[+-]\d{4}|[A-Z]{1,5}))?$"
)
_EN_MONTHS = {m.lower(): i for i, m in enumerate(
    "January February March April May June July August September October November December".split(), start=1)}
_EN_MONTHS |= {m[:3]: i for m, i in list(_EN_MONTHS.items())} | {"sept": 9}
# "24th, September 2023 GMT", "3 Sep 2024", "September 24, 2023": the aggregator and feed formats.
_ENGLISH_DATE = re.compile(
    r"^(?:[A-Za-z]{3,9},?\s+)?(?:(\d{1,2})(?:st|nd|rd|th)?,?\s+([A-Za-z]{3,9})\.?|([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,)"
    r"\s*,?\s*(\d{4})(?:\s+(?:GMT|UTC|Z))?$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2[01]\d\d)(?!\d)")
# Numeric dates, day first ("13/09/2024") or year first ("2024/09/13"), optionally with a time.
_NUMERIC_DATE = re.compile(
    r"(?<![\d/.-])(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})(?![\d/])"
    r"(?:[^\d]{0,12}?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(ص|م|am|pm)?)?",
    re.IGNORECASE,
)
_HIJRI = re.compile(r"(?<!\d)1[34]\d\d\s*(?:هـ|ه\b)")


def _zone(name: str) -> tzinfo:
    return timezone.utc if name.upper() in ("UTC", "GMT", "Z") else ZoneInfo(name)


def _to_utc(value: datetime, default_tz: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone(default_tz))
    return value.astimezone(timezone.utc)


# Publication dates outside this window are misreadings; the ends of datetime's range also
# overflow when shifted to UTC ("0001-01-01T00:00+14:00"), and years < 1000 break dt= partitions.
_EARLIEST = datetime(1800, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def _sane_utc(value: datetime, default_tz: str) -> datetime | None:
    try:
        value = _to_utc(value, default_tz)
    except (OverflowError, ValueError):
        return None
    return value if _EARLIEST <= value < _LATEST else None


def _iso(text: str) -> datetime | None:
    if not (len(text) >= 10 and text[4] == "-" and text[:4].isdigit()):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _rfc2822(text: str) -> datetime | None:
    if not _RFC2822.match(text):
        return None
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _english(text: str) -> datetime | None:
    found = _ENGLISH_DATE.match(text)
    if found is None:
        return None
    day_a, month_a, month_b, day_b, year = found.groups()
    month = _EN_MONTHS.get((month_a or month_b).lower())
    if month is None:
        return None
    try:
        return datetime(int(year), month, int(day_a or day_b), tzinfo=timezone.utc)
    except ValueError:
        return None


def _arabic(text: str) -> datetime | None:
    found = _ARABIC_DATE.search(match_key(text))
    if found is None:
        return None
    day_s, month_s, year_s, hour_s, minute_s, second_s, meridiem = found.groups()
    hour = int(hour_s) if hour_s else 0
    if meridiem in ("م", "pm") and hour < 12:
        hour += 12
    try:
        return datetime(
            int(year_s),
            _MONTHS[month_s],
            int(day_s) if day_s else 1,
            hour,
            int(minute_s or 0),
            int(second_s or 0),
        )
    except ValueError:  # e.g. 31 February
        return None


def _numeric(text: str) -> datetime | None:
    """The first numeric date whose year is Gregorian (1800-2199): in a dual-calendar line
    ("1445/10/05 هـ - 2024/04/14 م") the Hijri date is skipped. Day first unless the year leads."""
    for found in _NUMERIC_DATE.finditer(text):
        first, _, second, third, hour_s, minute_s, second_s, meridiem = found.groups()
        if len(first) == 4 and len(third) <= 2:
            year, month, day = int(first), int(second), int(third)
        elif len(third) == 4 and len(first) <= 2:
            day, month, year = int(first), int(second), int(third)
        else:
            continue
        if not 1800 <= year < 2200:
            continue  # a Hijri year (13xx/14xx) or no year at all
        hour = int(hour_s) if hour_s else 0
        if meridiem and meridiem.lower() in ("م", "pm") and hour < 12:
            hour += 12
        try:
            return datetime(year, month, day, hour, int(minute_s or 0), int(second_s or 0))
        except ValueError:
            continue  # e.g. month 13 of a month-first date: left to dateparser
    return None


@functools.lru_cache(maxsize=8)
def _dateparser(default_tz: str) -> Any:
    """One DateDataParser per default zone: building it loads locale data and is slow."""
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["ar", "en"],
        settings={
            "TIMEZONE": default_tz,
            "TO_TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "REQUIRE_PARTS": ["month", "year"],
            "PREFER_DAY_OF_MONTH": "first",
            "DATE_ORDER": "DMY",  # numeric dates on Arabic pages are day first
        },
    )


# Clock skew and zones: a page stamped in UTC+14 with a naive local time reads up to a day ahead.
FUTURE_SLACK = timedelta(days=1)


def parse_published(
    raw: str,
    *,
    default_tz: str = "UTC",
    relative_base: datetime | None = None,
    not_after: datetime | None = None,
) -> datetime | None:
    """Parse a publication date to an aware UTC datetime, or None when the text has no date.

    Naive results are read in `default_tz`. A missing day becomes the 1st; a missing year is never
    filled in. Relative phrases need `relative_base` (e.g. the fetch time), else None. With
    `not_after` (the fetch time), a date more than a day after it is None: no page is published
    after it was fetched, so such a date is a misreading, and the caller falls back to fetch time.
    """
    value = _parse(raw, default_tz, relative_base)
    if value is not None and not_after is not None and value > _to_utc(not_after, default_tz) + FUTURE_SLACK:
        return None
    return value


def _parse(raw: str, default_tz: str, relative_base: datetime | None) -> datetime | None:
    text = clean_line(raw or "")
    if not text or len(text) > 200:
        return None
    for fast in (_iso, _rfc2822, _english, _arabic):
        value = fast(text)
        if value is not None:
            return _sane_utc(value, default_tz)
    if _HIJRI.search(text) or _NUMERIC_DATE.search(text):
        value = _numeric(text)  # the Gregorian half of a dual-calendar line, or a plain d/m/y
        if value is not None:
            return _sane_utc(value, default_tz)
    if _HIJRI.search(text):
        return None  # Hijri years would be misread as Gregorian
    parser = _dateparser(default_tz)
    if _YEAR.search(text):
        value = parser.get_date_data(text).date_obj
        return _sane_utc(value, default_tz) if value is not None else None
    if relative_base is not None:
        from dateparser import parse

        base = _to_utc(relative_base, default_tz).replace(tzinfo=None)
        value = parse(
            text,
            languages=["ar", "en"],
            settings={"RELATIVE_BASE": base, "TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True},
        )
        # Only accept phrases that point at most a few weeks back from the base.
        if value is not None and timedelta(0) <= base.replace(tzinfo=timezone.utc) - value <= timedelta(days=62):
            return value.astimezone(timezone.utc)
    return None
