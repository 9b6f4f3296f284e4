"""Fuzzing the page splitter and HTML extraction: pages built from the layouts' marker lines mixed
with Arabic text and hostile characters. split_page never raises, keeps only text from the input,
never leaves a layout's marker line inside a body, and runs in time linear in the page."""

from __future__ import annotations

import time

import pytest
from fuzz_support import LONG, arabic_sentence, budget, hostile_text, page_line, time_limit
from hypothesis import given
from hypothesis import strategies as st

from pipeline.lib.arabic import match_key
from pipeline.lib.pages import detect_format, extract_html, split_page

RELATED = {match_key(m) for m in ("مقالات ذات صلة", "مواضيع ذات صلة", "أخبار ذات صلة")}
READ_MORE = {match_key(m) for m in ("إقرأ أيضاً", "اقرأ أيضا", "إقرأ أيضا", "اقرأ كذلك")}
PREFIXES = {match_key(m) for m in ("تاريخ النشر", "المصدر", "كلمات دلالية")}


def _key(line: str) -> str:
    return match_key(line).rstrip(":：").strip()


def is_marker(line: str, page_format: str) -> bool:
    """A fixed marker line of the given layout (the lines split_page cuts on and must drop)."""
    if page_format == "asharq":
        return line == "TT" or _key(line) in RELATED
    if page_format == "aggregator":
        head, sep, _ = line.partition(":")
        return _key(line) in READ_MORE or bool(sep and len(head) <= 40 and match_key(head) in PREFIXES)
    return False


page = st.lists(page_line, max_size=60).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda nl: nl.join(lines))
)


def check_split(text: str) -> list:
    with time_limit(10, "split_page"):
        articles = split_page(text)
    lines = [line.strip() for line in text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    for index, art in enumerate(articles):
        assert art.role == ("main" if index == 0 else "secondary")
        assert art.page_format in {"asharq", "aggregator", "generic"}
        assert art.title and any(art.title == line for line in lines), "the title is a line of the page"
        assert art.body == "\n\n".join(art.paragraphs)
        for para in art.paragraphs:
            assert para and para == para.strip()
            assert any(para in line for line in lines), f"paragraph not from the input: {para!r}"
            assert not is_marker(para, art.page_format), f"{art.page_format} marker inside a body: {para!r}"
        for caption in art.image_captions:
            assert any(caption == line for line in lines)
        for item in art.related:
            assert item.headline and item.headline in text
    if any(lines_ for lines_ in lines):
        assert articles, "a page with text yields at least one article (generic fallback)"
        assert articles[0].paragraphs or articles[0].page_format == "generic"
    else:
        assert articles == []
    return articles


@budget(400)
@given(text=page)
def test_split_page_marker_soup(text: str) -> None:
    check_split(text)
    assert detect_format(text) in {"asharq", "aggregator", "generic"}


@budget(200)
@given(text=st.one_of(st.text(max_size=2000), hostile_text, st.lists(hostile_text, max_size=20).map("\n".join)))
def test_split_page_random_text(text: str) -> None:
    check_split(text)


@st.composite
def asharq_page(draw) -> str:  # type: ignore[no-untyped-def]
    """Well-formed asharq articles, to check the body survives marker noise around it."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        title = draw(arabic_sentence(min_words=4, max_words=8, end=""))
        captions = draw(st.lists(arabic_sentence(min_words=4, max_words=8, end=" (رويترز)"), max_size=2))
        # Distinct paragraphs: a line shown twice in a row right after the header is a caption by
        # design (asharq shows captions twice), so a repeated first paragraph is not a body.
        body = draw(st.lists(arabic_sentence(min_words=10, max_words=30, end="."), min_size=1, max_size=4, unique=True))
        if body[0] in captions or body[0] == title:
            continue
        related = draw(st.lists(arabic_sentence(min_words=4, max_words=8, end=""), max_size=3))
        block = [title, *captions, "TT", title, *captions, *body]
        if related:
            block += ["مقالات ذات صلة", *related]
        parts.append("\n".join(block))
    return "\n".join(parts) or "عنوان\nTT\nعنوان\nنص الخبر الوحيد هنا."


@budget(150)
@given(text=asharq_page())
def test_asharq_pages_keep_their_bodies(text: str) -> None:
    articles = check_split(text)
    assert articles and all(a.page_format == "asharq" for a in articles)
    assert all("TT" not in a.paragraphs for a in articles)


def _seconds(fn, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


@pytest.mark.parametrize(
    "unit",
    [
        # aggregator: title, date, body, read-more, glued teasers on one line
        "عنوان الخبر الأول هنا اليوم\nتاريخ النشر: 2024\nقال الرئيس إن الوضع جيد جدا في البلاد.وأضاف الرئيس أن الأمور بخير\nإقرأ أيضاً:\n",
        # asharq: title, TT, title, body, related block with teasers
        "عنوان الخبر\nصورة من الحدث (رويترز)\nTT\nعنوان الخبر\nنص الخبر هنا طويل جدا وفيه كلمات كثيرة.\nمقالات ذات صلة\nعنوان تشويقي (رويترز)\nملخص\n",
        # one long line of glued teaser-shaped sentences (was quadratic)
        "عنوان خبر جديد مهم جدا اليوم قال المسؤول إن الأمر جيد تماما.",
        "TT\n",
        "\n\n\n",
    ],
)
def test_split_page_time_is_linear(unit: str) -> None:
    n = 800 if not LONG else 4000
    prefix = "عنوان الصفحة الأولى هنا\nتاريخ النشر: 2024-01-01\nنص الخبر الأول هنا.\n" if "\n" not in unit else ""
    small = _seconds(split_page, prefix + unit * n)
    with time_limit(60, "split_page x8"):
        big = _seconds(split_page, prefix + unit * (8 * n))
    assert big < 16 * small + 0.5, f"8x input took {big:.2f}s vs {small:.2f}s: not linear"


# --------------------------------------------------------------------------- extract_html

tag = st.sampled_from(["div", "p", "span", "article", "b", "i", "table", "td", "script", "style", "h1", "title", "a"])


@st.composite
def broken_html(draw) -> str:  # type: ignore[no-untyped-def]
    pieces = []
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 5))
        name = draw(tag)
        if kind == 0:
            pieces.append(f"<{name}>")
        elif kind == 1:
            pieces.append(f"</{name}>")
        elif kind == 2:
            pieces.append(f"<{name} class='{draw(hostile_text)}'>")
        elif kind == 3:
            pieces.append(draw(st.sampled_from(["<!--", "-->", "<![CDATA[", "&#0;", "&#x110000;", "&amp", "<", ">", "<?xml?>", "<!DOCTYPE html>"])))
        else:
            pieces.append(draw(st.one_of(arabic_sentence(min_words=5, max_words=30), hostile_text)))
    return "".join(pieces)


def check_html(html: str, url: str = "") -> list:
    with time_limit(20, "extract_html"):
        articles = extract_html(html, url=url)
    for art in articles:
        assert isinstance(art.title, str) and isinstance(art.body, str)
        assert art.body == "\n\n".join(art.paragraphs)
        assert art.page_format in {"html", "asharq", "aggregator", "generic"}
    return articles


@budget(80)
@given(html=broken_html(), url=st.sampled_from(["", "https://example.org/a", "javascript:alert(1)", "../../etc/passwd", "http://[::1"]))
def test_extract_html_broken_markup(html: str, url: str) -> None:
    check_html(html, url)


@pytest.mark.parametrize(
    "html",
    [
        "<html><body>" + "<div>" * 10_000 + "نص عربي طويل في الصفحة " * 50 + "</div>" * 10_000 + "</body></html>",
        "<html><body>" + "<div><p>" * 3000 + "نص عربي " * 50,  # never closed
        "<html><body><p title='" + "a" * 2_000_000 + "'>نص عربي طويل في الصفحة هنا</p></body></html>",
        "<html><body><p>" + "نص عربي طويل " * 100 + "</p>" + "<p class='x" + "\x00" * 1000 + "'>" + "</body></html>",
        "",
        "\x00" * 100,
        "<" * 50_000,
        "<html>" + "<!--" * 10_000,
        "<html><head><title>" + "ع" * 200_000 + "</title></head><body><p>نص</p></body></html>",
    ],
    ids=["nested-10k", "unclosed-3k", "attr-2MB", "nul-attr", "empty", "nuls", "lt-50k", "comments", "title-200k"],
)
def test_extract_html_pathological(html: str) -> None:
    articles = check_html(html)
    if html.startswith("<html><body><p>نص عربي طويل"):
        # one untitled paragraph becomes the title (and the parse stage dead-letters the empty body)
        assert articles and "نص عربي طويل" in articles[0].title + articles[0].body
