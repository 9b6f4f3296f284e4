"""Splitter tests: the five seeds against the gold, synthetic pages of both layouts, edge cases, HTML."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import time

import pytest

from pipeline.evaluate.pages import check_page, read_sample
from pipeline.lib.dates import parse_published
from pipeline.lib.pages import cut_glued_teaser, detect_format, extract_html, inline_teaser, split_page, teaser_openers

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLD = json.loads((ROOT / "tests" / "fixtures" / "seeds.gold.json").read_text(encoding="utf-8"))
PAGES = ROOT / "tests" / "fixtures" / "pages"
SYNTHETIC = sorted(PAGES.glob("*.txt"))


def _norm(text: str) -> str:
    return " ".join(text.split())


def _seed(record: dict) -> str:
    return (ROOT / "seeds" / record["file"]).read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=GOLD["files"], ids=lambda record: record["file"][:3])
def seed(request: pytest.FixtureRequest) -> tuple[dict, list]:
    return request.param, split_page(_seed(request.param))


def test_seed_format(seed: tuple[dict, list]) -> None:
    record, articles = seed
    assert detect_format(_seed(record)) == record["format"]
    assert {article.page_format for article in articles} == {record["format"]}


def test_seed_articles(seed: tuple[dict, list]) -> None:
    record, articles = seed
    assert len(articles) == len(record["articles"])
    for article, gold in zip(articles, record["articles"]):
        assert article.role == gold["role"]
        assert article.title == gold["title"]
        assert _norm(article.body).startswith(_norm(gold["body_starts_with"]))
        assert _norm(article.body).endswith(_norm(gold["body_ends_with"]))
        assert len(article.paragraphs) == gold["paragraph_count"]
        assert article.body == "\n\n".join(article.paragraphs)
        assert article.image_captions == gold["image_captions"]


def test_seed_metadata(seed: tuple[dict, list]) -> None:
    record, articles = seed
    for article, gold in zip(articles, record["articles"]):
        published = parse_published(article.published_raw) if article.published_raw else None
        expected = dt.date.fromisoformat(gold["published"]) if gold["published"] else None
        assert (published.date() if published else None) == expected
        assert article.outlet == (gold["source_outlet"] or "")
        assert article.keywords_raw == (gold["keywords_raw"] or "")


def test_seed_related(seed: tuple[dict, list]) -> None:
    record, articles = seed
    found = [item for article in articles for item in article.related]
    assert [item.headline for item in found] == [item["headline"] for item in record["related"]]
    assert [item.summary for item in found] == [item["summary"] for item in record["related"]]
    assert [item.byline for item in found] == [item["byline"] or "" for item in record["related"]]


def test_seed_no_boilerplate_in_bodies(seed: tuple[dict, list]) -> None:
    record, articles = seed
    banned_lines = set(record["boilerplate_lines"])
    fragments = list(record.get("boilerplate_fragments", []))
    fragments += [item["headline"] for item in record["related"]] + [item["summary"] for item in record["related"]]
    for article in articles:
        assert not banned_lines & set(article.paragraphs)
        for fragment in fragments:
            assert fragment not in article.body


@pytest.mark.parametrize("path", SYNTHETIC, ids=lambda path: path.stem)
def test_synthetic_page(path: pathlib.Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    text = path.read_text(encoding="utf-8")
    articles = split_page(text)
    assert detect_format(text) == expected["format"]
    assert len(articles) == len(expected["articles"])
    for article, want in zip(articles, expected["articles"]):
        assert article.role == want["role"]
        assert article.page_format == expected["format"]
        assert article.title == want["title"]
        assert len(article.paragraphs) == want["paragraph_count"]
        assert article.paragraphs[0].startswith(want["body_starts_with"])
        assert article.paragraphs[-1].endswith(want["body_ends_with"])
        assert article.image_captions == want.get("image_captions", [])
        assert [[r.headline, r.summary, r.byline] for r in article.related] == want["related"]
        assert article.outlet == want.get("outlet", "")
        assert article.keywords_raw == want.get("keywords_raw", "")
        published = parse_published(article.published_raw) if article.published_raw else None
        assert (published.date().isoformat() if published else None) == want.get("published")
        if "paragraph_3" in want:
            assert article.paragraphs[2] == want["paragraph_3"]
        for item in article.related:  # teasers never leak into a body
            assert item.headline not in article.body and item.summary not in article.body
        for caption in article.image_captions:
            assert caption not in article.paragraphs


def test_synthetic_pages_cover_both_layouts() -> None:
    formats = [json.loads(p.with_suffix(".expected.json").read_text(encoding="utf-8"))["format"] for p in SYNTHETIC]
    assert formats.count("asharq") >= 4 and formats.count("aggregator") >= 4


def test_glue_without_teaser_is_kept_as_body() -> None:
    line = "وقال مدير الأشغال إن فرق العمل ستعمل على مدار الساعة لتقليص مدة الإغلاق.تم تركيب لوحات إرشادية عند المداخل."
    assert cut_glued_teaser(line) == (None, line)
    with_comma = "وقال المدرب، في مؤتمر صحافي عقده أمس، إن الفريق جاهز تماما للمباراة.وأضاف أن اللاعبين في حالة جيدة"
    assert cut_glued_teaser(with_comma) == (None, with_comma)
    abbreviation = "مقاتلة روسية فوق البحر في صورة نشرتها وكالة أ.ف.ب للأنباء اليوم"
    assert cut_glued_teaser(abbreviation) == (None, abbreviation)


def test_glued_teaser_is_cut() -> None:
    teaser, rest = cut_glued_teaser(
        "ارتفاع أسعار الذهب في الأسواق المحلية أعلنت شعبة الذهب، الأحد، ارتفاع سعر الغرام.وتابع الوزير حديثه أمام النواب"
    )
    assert teaser is not None
    assert teaser.headline == "ارتفاع أسعار الذهب في الأسواق المحلية"
    assert teaser.summary == "أعلنت شعبة الذهب، الأحد، ارتفاع سعر الغرام."
    assert rest == "وتابع الوزير حديثه أمام النواب"


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n", "\ufeff", "\r\n\r\n"])
def test_blank_text_gives_nothing(text: str) -> None:
    assert split_page(text) == []
    assert detect_format(text) == "generic"


def test_one_line_is_a_generic_article() -> None:
    [article] = split_page("  خبر من سطر واحد فقط  ")
    assert (article.title, article.body, article.paragraphs, article.page_format, article.role) == (
        "خبر من سطر واحد فقط",
        "",
        [],
        "generic",
        "main",
    )


def test_unknown_layout_is_one_generic_article() -> None:
    [article] = split_page("عنوان الخبر\n\nالفقرة الأولى من النص.\nالفقرة الثانية.\n")
    assert article.title == "عنوان الخبر"
    assert article.paragraphs == ["الفقرة الأولى من النص.", "الفقرة الثانية."]
    assert article.body == "الفقرة الأولى من النص.\n\nالفقرة الثانية."


def test_binary_garbage_does_not_raise() -> None:
    garbage = bytes(range(256)).decode("latin-1") * 20 + "\x00\x01TT\x00"
    articles = split_page(garbage)
    assert len(articles) == 1 and articles[0].page_format == "generic"


@pytest.mark.parametrize("unit", ["كلمة ", "word.word ", "تاريخ النشر: ", "a" * 9 + ". "])
def test_long_single_line_is_fast(unit: str) -> None:
    text = (unit * (100_000 // len(unit) + 1))[:100_000]
    start = time.perf_counter()
    articles = split_page(text)
    assert time.perf_counter() - start < 1.0
    assert len(articles) <= 1


def test_long_aggregator_lines_are_fast() -> None:
    body = ("قال مسؤول إن الوضع مستقر.وأضاف أن " * 3000).strip()
    text = f"عنوان طويل لخبر عن الاقتصاد المحلي\nتاريخ النشر: 1 يناير 2024\n{body}\nالمصدر: مثال"
    start = time.perf_counter()
    [article] = split_page(text)
    assert time.perf_counter() - start < 1.0
    assert article.outlet == "مثال" and len(article.paragraphs) == 1


def test_crlf_and_bom_are_handled() -> None:
    record = next(r for r in GOLD["files"] if r["format"] == "aggregator")
    text = _seed(record)
    plain = split_page(text)
    windows = split_page("\ufeff" + text.replace("\n", "\r\n"))
    assert [(a.title, a.paragraphs, a.published_raw, a.outlet) for a in windows] == [
        (a.title, a.paragraphs, a.published_raw, a.outlet) for a in plain
    ]
    assert windows[0].title == record["articles"][0]["title"]


# --------------------------------------------------------------------------- HTML

HTML_PAGE = """<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>افتتاح معرض الكتاب الدولي في الرباط | صحيفة المدينة</title>
<meta property="og:title" content="افتتاح معرض الكتاب الدولي في الرباط">
<meta property="og:site_name" content="صحيفة المدينة">
<meta property="article:published_time" content="2024-05-10T09:30:00+01:00">
</head><body>
<nav><a href="/">الرئيسية</a> <a href="/sport">رياضة</a></nav>
<article>
<h1>افتتاح معرض الكتاب الدولي في الرباط</h1>
<p>افتتح وزير الثقافة، صباح الجمعة، الدورة التاسعة والعشرين من المعرض الدولي للنشر والكتاب في الرباط بمشاركة أكثر من 700 دار نشر من 48 دولة.</p>
<p>ويستضيف المعرض هذا العام ندوات فكرية ولقاءات مع كتاب من العالم العربي وأفريقيا وأوروبا، إضافة إلى ورشات للأطفال.</p>
<p>وقال مدير المعرض إن عدد الزوار المتوقع يتجاوز نصف مليون زائر خلال عشرة أيام.</p>
</article>
<footer>جميع الحقوق محفوظة</footer>
</body></html>"""


def test_extract_html_article() -> None:
    [article] = extract_html(HTML_PAGE, url="https://example.org/culture/book-fair")
    assert article.page_format == "html"
    assert article.role == "main"
    assert article.title == "افتتاح معرض الكتاب الدولي في الرباط"
    assert article.outlet == "صحيفة المدينة"
    assert article.url == "https://example.org/culture/book-fair"
    assert parse_published(article.published_raw).date() == dt.date(2024, 5, 10)
    assert len(article.paragraphs) == 3
    assert article.paragraphs[0].startswith("افتتح وزير الثقافة")
    assert article.paragraphs[-1].endswith("خلال عشرة أيام.")
    assert "جميع الحقوق محفوظة" not in article.body and "الرئيسية" not in article.body


def test_extract_html_with_aggregator_markers_is_split() -> None:
    record = next(r for r in GOLD["files"] if r["format"] == "aggregator")
    paragraphs = "".join(f"<p>{line}</p>" for line in _seed(record).split("\n") if line.strip())
    html = f"<html><head><title>x</title></head><body><article>{paragraphs}</article></body></html>"
    articles = extract_html(html)
    assert [a.title for a in articles] == [a["title"] for a in record["articles"]]
    assert articles[0].outlet == record["articles"][0]["source_outlet"]


def test_extract_html_empty() -> None:
    assert extract_html("") == []
    assert extract_html("<html><body></body></html>") == []


# --------------------------------------------------------------------------- inline teasers, faithful titles


TEASER_HEADLINE = "ارتفاع أسعار النفط لأعلى مستوى منذ 2014"


@pytest.mark.parametrize(
    "line",
    [
        f"قد يهمك: {TEASER_HEADLINE}",
        f"أيضاً.. {TEASER_HEADLINE}",
        f"إقرأ أيضا: {TEASER_HEADLINE}",
        f"اقرأ أيضاً : {TEASER_HEADLINE}",
        f"اقرأ المزيد - {TEASER_HEADLINE}",
        f"شاهد أيضا… {TEASER_HEADLINE}",
        f"للمزيد: {TEASER_HEADLINE}",
        f"للمزيد - للمزيد : {TEASER_HEADLINE}",
        f"اقرأ أيضاً على موقعنا | {TEASER_HEADLINE}",
        f"اقرأ أيضا {TEASER_HEADLINE}",
        # unlisted openers made of listed cue words
        f"شاهدوا أيضا: {TEASER_HEADLINE}",
        f"مقال ذو صلة - {TEASER_HEADLINE}",
        f"الأكثر مشاهدة | {TEASER_HEADLINE}",
    ],
)
def test_inline_teaser_forms(line: str) -> None:
    assert inline_teaser(line) is not None and inline_teaser(line).headline == TEASER_HEADLINE


@pytest.mark.parametrize(
    "line",
    [
        'وأضاف: "سنواصل دعم أوكرانيا لضمان قدرتها على الدفاع عن نفسها".',
        "أيضاً، قال الوزير إن الحكومة ستواصل الإصلاحات الاقتصادية خلال العام المقبل.",
        "سوريا: قصف صاروخي يستهدف مواقع عسكرية",  # a dateline-style headline, no teaser opener
        "قد يهمك أن تعرف أن الأسعار ارتفعت بنسبة كبيرة خلال الشهر الماضي.",
        "اقرأ أيضا:",
        "الشاهد: الحكومة ماضية في الإصلاحات رغم الصعوبات",  # a name (Youssef Chahed), not the verb شاهد
        "وتابع: الفريق قدم مباراة كبيرة أمام منافس قوي",  # a speech verb (mined `speech` row)
        "الناشر: دار العربي للنشر والتوزيع",
    ],
)
def test_not_inline_teasers(line: str) -> None:
    assert inline_teaser(line) is None


def test_mined_openers_are_shipped() -> None:
    openers = teaser_openers()
    assert {"للمزيد", "اقرا المزيد", "قد يهمك", "اقرا ايضا", "ايضا"} <= openers


def _asharq_page(title: str, body: list[str]) -> str:
    caption = "صورة من الأرشيف (رويترز)"
    return "\n".join([title, "", caption, caption, "TT", "", title, "", caption, caption, ""] + body + ["", "مقالات ذات صلة", "",
                     "عنوان خبر ذي صلة في آخر الصفحة", "", "ملخص الخبر ذي الصلة في جملة واحدة.", "", "«الشرق الأوسط» (بيروت)"])


def test_inline_teasers_leave_asharq_and_aggregator_bodies() -> None:
    first = "قال مسؤولون في شركة النفط الوطنية، الاثنين، إن الإنتاج ارتفع خلال الربع الأخير من العام الماضي."
    second = "وأضافوا أن الشركة تخطط لزيادة صادراتها إلى الأسواق الآسيوية خلال العام الجاري."
    last = "وتتوقع الشركة أن تبلغ إيراداتها مستوى قياسيا بنهاية العام."
    teasers = [f"قد يهمك: {TEASER_HEADLINE}", "أيضاً.. الذهب يتراجع مع صعود الدولار في الأسواق العالمية"]
    body = [first, teasers[0], second, teasers[1], last]
    title = "شركة النفط الوطنية ترفع إنتاجها في الربع الأخير"
    aggregator = "\n".join([title, "تاريخ النشر: 2nd, March 2018 GMT", *body, "المصدر: وكالات",
                            "إقرأ أيضاً:", "عنوان الخبر الثاني في الصفحة نفسها", first, last])
    for text, count in ((_asharq_page(title, body), 1), (aggregator, 2)):
        articles = split_page(text)
        assert len(articles) == count
        assert articles[0].title == title and articles[0].paragraphs == [first, second, last]
        headlines = [item.headline for item in articles[0].related]
        assert TEASER_HEADLINE in headlines and "الذهب يتراجع مع صعود الدولار في الأسواق العالمية" in headlines


def test_titles_keep_tatweel_and_tanween() -> None:
    title = "مقابلة حصرية لـCNN مع مدير الـCIA بـ90 دقيقة عن الـ 92 عاماً"
    body = ["قال مدير الوكالة في مقابلة طويلة إن العمل مستمر في كل الملفات المطروحة حاليا.", "وأضاف أن الوكالة تعمل مع الشركاء."]
    [article] = split_page(_asharq_page(title, body))[:1]
    assert article.title == title


HELDOUT = read_sample(PAGES / "heldout")


@pytest.mark.parametrize("index", range(len(HELDOUT)), ids=lambda i: f"heldout{i}")
def test_heldout_sample_pages(index: int) -> None:
    """Pages assembled from SkyNews Arabia articles (not used for mining or tuning), see pipeline/evaluate/pages.py."""
    tally = check_page(HELDOUT[index])
    kinds = ["split", "title", "body_start", "body_end", "no_teaser_in_body", "related"]
    assert tally["split_total"] == 1 and tally["title_total"] >= 2
    assert {k: tally[k] for k in kinds} == {k: tally[k + "_total"] for k in kinds}


def test_heldout_sample_covers_both_layouts() -> None:
    assert {page.layout for page in HELDOUT} == {"asharq", "aggregator"}
    assert sum(len(a.teasers) for page in HELDOUT for a in page.articles) >= 10


# --------------------------------------------------------------------------- HTML metadata (hand-made pages)

HTML_FIXTURES = PAGES / "html"
UTC = dt.timezone.utc
# file -> (input url, url, outlet, published UTC or None, title, first paragraph starts, related headlines)
HTML_EXPECTED = {
    "arabic_og_canonical.html": (
        "", "https://www.alarabiya.net/ar/arab-and-world/2024/03/02/cia-talks", "العربية",
        dt.datetime(2024, 3, 2, 20, 30, tzinfo=UTC), "مدير الـCIA: محادثات جديدة مع موسكو خلال أيام",
        "قال مدير وكالة الاستخبارات", ["واشنطن تفرض عقوبات جديدة على شركات روسية للتكنولوجيا"],
    ),
    "arabic_jsonld.html": (
        "https://www.skynewsarabia.com/business/1700001-gold-prices?ref=rss",
        "https://www.skynewsarabia.com/business/1700001-gold-prices", "سكاي نيوز عربية",
        dt.datetime(2018, 7, 18, 15, 10, 15, tzinfo=UTC), "ارتفاع أسعار الذهب لأعلى مستوى في شهرين",
        "ارتفعت أسعار الذهب", ["النفط يتراجع مع زيادة المخزونات الأميركية"],
    ),
    "arabic_time_element.html": (
        "", "https://www.jawharafm.net/ar/article/carthage-festival/95/83525", "jawharafm.net",
        dt.datetime(2017, 7, 13, 20, 15, tzinfo=UTC), "افتتاح الدورة الجديدة لمهرجان قرطاج",
        "انطلقت مساء الخميس", ["حجز كميات من السجائر المهربة في القيروان"],
    ),
    "arabic_text_date.html": (
        "", "", "", dt.datetime(2023, 9, 14, tzinfo=UTC), "وزير الاقتصاد يعلن خطة لدعم الشركات الصغيرة",
        "أعلن وزير الاقتصاد", [],
    ),
    "arabic_date_span.html": (  # date only in <span class="post-date">, Arabic-Indic digits, U+200F
        "", "https://www.alwatan.example/politics/88231", "الوطن", dt.datetime(2023, 9, 14, 22, 30, tzinfo=UTC),
        "البرلمان يقر قانون الموازنة العامة الجديد", "أقر البرلمان", ["الحكومة تعلن خطة لخفض العجز خلال ثلاث سنوات"],
    ),
    "url_date_only.html": (
        "https://www.alwatan.example/news/2024/03/02/rain-closes-roads",
        "https://www.alwatan.example/news/2024/03/02/rain-closes-roads", "alwatan.example",
        dt.datetime(2024, 3, 2, tzinfo=UTC), "أمطار غزيرة تغلق طرقا رئيسية في العاصمة", "أغلقت السلطات", [],
    ),
    "bare_no_metadata.html": (
        "https://www.kooora.example/match/991", "https://www.kooora.example/match/991", "kooora.example", None,
        "تعادل سلبي في قمة الدوري", "انتهت قمة الدوري", [],
    ),
    "english_news.html": (
        "", "https://news.example.co.uk/world/europe-heatwave-2024", "Example News",
        dt.datetime(2024, 7, 15, 5, 45, tzinfo=UTC), "Heatwave: Temperatures set to top 35C across southern Europe",
        "Temperatures are expected", [],
    ),
    "french_news.html": (
        "", "https://www.lequotidien.example.fr/economie/greve-controleurs-aeriens", "Le Quotidien",
        dt.datetime(2023, 11, 20, 17, 5, tzinfo=UTC), "Grève des contrôleurs aériens : des centaines de vols annulés",
        "Des centaines de vols", [],
    ),
}


def test_html_fixtures_are_all_checked() -> None:
    assert sorted(p.name for p in HTML_FIXTURES.glob("*.html")) == sorted(HTML_EXPECTED)


@pytest.mark.parametrize("name", sorted(HTML_EXPECTED), ids=lambda n: n.removesuffix(".html"))
def test_html_metadata(name: str) -> None:
    source_url, url, outlet, published, title, starts, related = HTML_EXPECTED[name]
    [article] = extract_html((HTML_FIXTURES / name).read_text(encoding="utf-8"), url=source_url)
    assert (article.url, article.outlet) == (url, outlet)
    assert (parse_published(article.published_raw) if article.published_raw else None) == published
    assert article.title == title and article.page_format == "html"
    assert article.paragraphs[0].startswith(starts) and len(article.paragraphs) >= 2
    assert [item.headline for item in article.related] == related
    assert not any(item.headline in article.body for item in article.related)
    assert not any(p.startswith("نشر في") for p in article.paragraphs)  # a visible date line is no body


def test_html_rows_carry_url_outlet_and_date() -> None:
    from pipeline.protos.article_pb2 import RawDocument
    from pipeline.transforms.parse import _ParseSplitFn

    html = (HTML_FIXTURES / "arabic_og_canonical.html").read_text(encoding="utf-8")
    doc = RawDocument(source_uri="file:///in/page.html", source_kind="file", content_type="html", text=html)
    [row] = _ParseSplitFn().process_one(doc)
    assert row.url == "https://www.alarabiya.net/ar/arab-and-world/2024/03/02/cia-talks"
    assert row.outlet == "العربية"
    assert parse_published(row.published_raw) == dt.datetime(2024, 3, 2, 20, 30, tzinfo=UTC)
    assert [r.headline for r in row.related] == ["واشنطن تفرض عقوبات جديدة على شركات روسية للتكنولوجيا"]


def test_aggregator_headline_without_body_is_a_teaser_and_lists_are_no_articles() -> None:
    first = "قال مسؤولون في الاتحاد، الاثنين، إن برنامج الجولة المقبلة سيعلن خلال الأسبوع الجاري بعد اجتماع اللجنة."
    lines = [
        "الاتحاد يعلن موعد الجولة المقبلة من الدوري",
        "تاريخ النشر: 2nd, March 2018 GMT",
        first,
        "المصدر: وكالات",
        "إقرأ أيضاً:",
        "برنامج مباريات الجولة الأخيرة من البطولة",
        "تلعب مباريات الجولة الأخيرة من البطولة يوم الأحد في ملاعب مختلفة وفق البرنامج التالي.",
        "14:30 : الترجي الجرجيسي – اتحاد تطاوين",
        "تلعب المباراة الأولى في ملعب جرجيس البلدي بحضور الجمهور للمرة الأولى منذ سنوات طويلة.",
        "الأحد 15 فيفري 2017",
        "وتلعب المباراة الثانية في الملعب الأولمبي بالمنزه بداية من الساعة الرابعة بعد الظهر.",
        "إقرأ أيضاً:",
        "وزير الرياضة يزور المنتخب في معسكره التحضيري",
    ]
    articles = split_page("\n".join(lines))
    assert [a.title for a in articles] == ["الاتحاد يعلن موعد الجولة المقبلة من الدوري",
                                           "برنامج مباريات الجولة الأخيرة من البطولة"]
    assert len(articles[1].paragraphs) == 5
    assert [r.headline for r in articles[1].related] == ["وزير الرياضة يزور المنتخب في معسكره التحضيري"]


def test_two_line_teasers_in_both_layouts() -> None:
    first = "قال مسؤولون في شركة النفط الوطنية، الاثنين، إن الإنتاج ارتفع خلال الربع الأخير من العام الماضي."
    second = "وأضافوا أن الشركة تخطط لزيادة صادراتها إلى الأسواق الآسيوية خلال العام الجاري."
    last = "وتتوقع الشركة أن تبلغ إيراداتها مستوى قياسيا بنهاية العام."
    title = "شركة النفط الوطنية ترفع إنتاجها في الربع الأخير"
    # asharq: an inline "مواضيع ذات صلة:" above the page's own related block
    [article] = split_page(_asharq_page(title, [first, "مواضيع ذات صلة:", TEASER_HEADLINE, second, last]))
    assert article.paragraphs == [first, second, last]
    assert article.related[0].headline == TEASER_HEADLINE and len(article.related) == 2
    # aggregator: "إقرأ أيضا:" above the source line, then the story goes on ("وأضافوا ...")
    lines = [title, "تاريخ النشر: 2nd, March 2018 GMT", first, "إقرأ أيضا:", TEASER_HEADLINE, second, last,
             "المصدر: وكالات", "إقرأ أيضاً:", "عنوان الخبر الثاني في الصفحة نفسها", first]
    articles = split_page("\n".join(lines))
    assert [a.title for a in articles] == [title, "عنوان الخبر الثاني في الصفحة نفسها"]
    assert articles[0].paragraphs == [first, second, last] and articles[0].outlet == "وكالات"
    assert [r.headline for r in articles[0].related] == [TEASER_HEADLINE]
