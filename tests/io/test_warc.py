"""WARC reading without Beam: framing and offsets against warcio, record ranges, bad records, charsets, filters.

Every WARC here is written by warcio (tests/warckit.py) from the project's own pages.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warckit import ENGLISH_PAGE, PAGES, SEEDS, Rec, html_page, mixed_records, warc_bytes

from pipeline.config import ConfigError, WarcConfig, load_config
from pipeline.io.ranges import ByteWindow, iter_lines, split_ranges
from pipeline.io.warc import BadRecord, Page, Skipped, WarcPages, frames
from pipeline.lib.crawl import LanguagePrefilter, UrlFilter, decode_page, page_sample

ARABIC_TEXT = SEEDS[0].read_text(encoding="utf-8")


def read_all(data: bytes, name: str, cfg: WarcConfig = WarcConfig(), start: int = 0, end: int | None = None,
             prefilter: LanguagePrefilter | None = None) -> list:
    window = ByteWindow(io.BytesIO(data[max(0, start - 4):]), max(0, start - 4), read_size=4096)
    return list(WarcPages(name, cfg, prefilter).read(window, start, len(data) if end is None else end))


def tally(items: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        key = item.counter if isinstance(item, Skipped) else ("page" if isinstance(item, Page) else
                                                               f"dead:{item.stage}.{item.reason}")
        out[key] = out.get(key, 0) + 1
    return out


def warcio_offsets(data: bytes) -> list[tuple[int, str]]:
    it = ArchiveIterator(io.BytesIO(data))
    return [(it.get_record_offset(), r.rec_type) for r in it]


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_record_offsets_equal_warcios(gz: bool) -> None:
    data = warc_bytes(mixed_records(), gzip=gz)
    window = ByteWindow(io.BytesIO(data), 0, read_size=1000)
    ours = [item[0] for item in frames(window, 0, len(data), gz, 1 << 24)]
    expected = warcio_offsets(data)
    assert len(expected) == 16 and ours == [offset for offset, _ in expected]


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_mixed_record_types_are_counted_and_only_html_responses_become_pages(gz: bool) -> None:
    name = "crawl.warc.gz" if gz else "crawl.warc"
    items = read_all(warc_bytes(mixed_records(), gzip=gz), name)
    assert tally(items) == {
        "records.warcinfo": 1, "records.request": 5, "records.response": 8, "records.metadata": 1,
        "records.revisit": 1, "filtered.redirect": 1, "filtered.status": 1, "filtered.mime": 1,
        "pages": 5, "page": 5,
    }
    pages = [i.doc for i in items if isinstance(i, Page)]
    offsets = {offset for offset, kind in warcio_offsets(warc_bytes(mixed_records(), gzip=gz)) if kind == "response"}
    for doc, seed in zip(pages, SEEDS):
        assert doc.url == f"https://aawsat.example/news/{seed.stem}"
        assert doc.outlet == "aawsat.example" and doc.content_type == "html"
        assert doc.warc_file == name and doc.warc_offset in offsets
        assert doc.fetched_at.ToJsonString() == "2024-03-05T10:00:00Z"
        assert seed.read_text(encoding="utf-8").splitlines()[0] in doc.text


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_any_range_split_reads_every_record_exactly_once(gz: bool) -> None:
    records = mixed_records() + [Rec("response", f"https://x.example/{p.stem}", html_page(p.read_text()).encode())
                                 for p in PAGES]
    data = warc_bytes(records, gzip=gz)
    name = "crawl.warc.gz" if gz else "crawl.warc"
    whole = [(i.doc.warc_offset, i.doc.url) for i in read_all(data, name) if isinstance(i, Page)]
    assert len(whole) == 5 + len(PAGES)
    for range_bytes in (4096, 5000, 7777, 12345, len(data) // 3, len(data) // 2 + 1):
        got = []
        for start, end in split_ranges(len(data), range_bytes):
            got += [(i.doc.warc_offset, i.doc.url) for i in read_all(data, name, start=start, end=end)
                    if isinstance(i, Page)]
        assert got == whole, range_bytes


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_truncated_last_record_is_one_dead_letter_and_the_rest_is_read(gz: bool) -> None:
    data = warc_bytes(seed_pages := [Rec("response", f"https://a.example/{i}", html_page(ARABIC_TEXT).encode())
                                     for i in range(3)], gzip=gz)
    assert len(seed_pages) == 3
    items = read_all(data[:-700], "t.warc.gz" if gz else "t.warc")
    counts = tally(items)
    assert counts["page"] == 2 and counts["dead:warc.truncated_record"] == 1
    bad = next(i for i in items if isinstance(i, BadRecord))
    assert bad.offset == warcio_offsets(data)[2][0] and "truncated" in bad.detail and bad.payload


def test_corrupt_gzip_member_is_one_dead_letter_and_later_records_are_read() -> None:
    records = [Rec("response", f"https://a.example/{i}", html_page(ARABIC_TEXT).encode()) for i in range(4)]
    data = bytearray(warc_bytes(records, gzip=True))
    second = warcio_offsets(bytes(data))[1][0]
    data[second + 200:second + 260] = b"\x00" * 60  # inside the deflate stream of member 2
    counts = tally(read_all(bytes(data), "c.warc.gz"))
    assert counts["page"] == 3 and counts["dead:warc.corrupt_gzip"] == 1


def test_non_html_body_served_as_html_is_a_dead_letter() -> None:
    records = [
        Rec("response", "https://a.example/img", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, content_type="text/html"),
        Rec("response", "https://a.example/empty", b"", content_type="text/html"),
        Rec("response", "https://a.example/ok", html_page(ARABIC_TEXT).encode()),
    ]
    items = read_all(warc_bytes(records), "n.warc.gz")
    counts = tally(items)
    assert counts["page"] == 1 and counts["dead:warc.not_html"] == 2


def test_a_file_that_is_not_a_warc_is_one_dead_letter(tmp_path: Path) -> None:
    assert tally(read_all(gzip.compress(b"hello world\n" * 1000), "x.warc.gz")) == {"dead:read.not_warc": 1}
    assert tally(read_all(b"just some text\n" * 1000, "x.warc")) == {"dead:read.not_warc": 1}
    assert tally(read_all(b"", "x.warc.gz")) == {"dead:read.empty": 1}
    # Later ranges of a file with no record in them emit nothing at all: still one dead letter per file.
    assert read_all(b"just some text\n" * 1000, "x.warc", start=5000, end=10000) == []


def test_declared_charset_that_differs_from_the_real_one() -> None:
    body = html_page(ARABIC_TEXT, meta_charset="utf-8").encode("cp1256")
    # No charset in the header, the meta tag says utf-8, the bytes are windows-1256: detection decides.
    text, encoding = decode_page(body, "text/html")
    assert ARABIC_TEXT.splitlines()[0] in text and encoding.replace("_", "") == "cp1256"
    # The header's charset wins over the meta tag.
    text, encoding = decode_page(body, "text/html; charset=windows-1256")
    assert ARABIC_TEXT.splitlines()[0] in text and encoding == "cp1256"
    # UTF-8 bytes under a single-byte charset label are UTF-8.
    text, encoding = decode_page(html_page(ARABIC_TEXT, meta_charset="windows-1256").encode(), "text/html")
    assert ARABIC_TEXT.splitlines()[0] in text and encoding == "utf-8"


def test_windows_1256_page_inside_a_warc_decodes() -> None:
    body = html_page(ARABIC_TEXT, meta_charset="utf-8").encode("cp1256")
    items = read_all(warc_bytes([Rec("response", "https://a.example/1256", body, content_type="text/html")]), "e.warc.gz")
    (page,) = [i.doc for i in items if isinstance(i, Page)]
    assert ARABIC_TEXT.splitlines()[0] in page.text and page.encoding.replace("_", "") == "cp1256"


def test_host_and_url_filters_are_counted_by_reason() -> None:
    records = [Rec("response", url, html_page(ARABIC_TEXT).encode()) for url in (
        "https://www.aawsat.com/a", "https://sport.aawsat.com/b", "https://ads.example/c",
        "https://www.aawsat.com/tag/x", "https://other.example/d")]
    cfg = WarcConfig(allow_hosts=("aawsat.com", "*.example"), deny_hosts=("ads.example",), url_deny=(r"/tag/",))
    counts = tally(read_all(warc_bytes(records), "f.warc.gz", cfg))
    assert counts["page"] == 3 and counts["filtered.host"] == 1 and counts["filtered.url"] == 1
    only = UrlFilter(url_allow=(r"/news/\d",))
    assert only.reason("https://a.example/news/1") is None and only.reason("https://a.example/about") == "url"


def test_language_prefilter_keeps_arabic_and_drops_other_languages() -> None:
    from pipeline.lib.language import ARABIC_SCRIPT_CODES, LanguageDetector

    detector = LanguageDetector.load()
    records = [
        Rec("response", "https://a.example/ar", html_page(ARABIC_TEXT).encode()),
        Rec("response", "https://a.example/en", ENGLISH_PAGE.encode()),
        Rec("response", "https://a.example/fa", html_page("وزارت امور خارجه ایران روز یکشنبه اعلام کرد که "
                                                         "گفتگوها با کشورهای همسایه ادامه خواهد داشت و این "
                                                         "موضوع در نشست خبری هفتگی مطرح شد. " * 3, lang="fa").encode()),
    ]
    prefilter = LanguagePrefilter(("ar",), detector.detect, ARABIC_SCRIPT_CODES)
    items = read_all(warc_bytes(records), "l.warc.gz", prefilter=prefilter)
    assert [i.doc.url for i in items if isinstance(i, Page)] == ["https://a.example/ar"]
    assert tally(items)["filtered.language"] == 2
    sample = page_sample(html_page(ARABIC_TEXT))
    assert "not text" not in sample and "font-family" not in sample and sample.startswith(ARABIC_TEXT.splitlines()[0])


def test_jsonl_line_ranges_read_every_line_once() -> None:
    lines = [b'{"title": "t%d", "body": "b"}' % i for i in range(300)] + [b"", b"  ", b'{"title": "last", "body": "x"}']
    for ending in (b"\n", b"\r\n"):
        data = ending.join(lines)  # no newline after the last line
        for range_bytes in (4096, 5000, 1 << 20):
            got = []
            for start, end in split_ranges(len(data), range_bytes):
                window = ByteWindow(io.BytesIO(data[max(0, start - 1):]), max(0, start - 1), read_size=512)
                got += [line.rstrip(b"\r") for _, line in iter_lines(window, start, end)]
            assert got == lines


def test_warc_config_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("warc:\n  url_deny: ['(unclosed']\n")
    with pytest.raises(ConfigError, match="warc.url_deny"):
        load_config(bad)
    bad.write_text("warc:\n  languagez: [ar]\n")
    with pytest.raises(ConfigError, match="warc.languages"):
        load_config(bad)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip-per-record", "uncompressed"])
def test_random_damage_never_raises_and_ranges_still_agree_with_whole_file_reading(gz: bool) -> None:
    import random

    records = mixed_records() + [Rec("response", f"https://x.example/{p.stem}", html_page(p.read_text()).encode())
                                 for p in PAGES]
    base = warc_bytes(records, gzip=gz)
    name = "d.warc.gz" if gz else "d.warc"
    rng = random.Random(16)
    for _ in range(40):
        data = bytearray(base)
        for _ in range(rng.randrange(1, 4)):  # overwrite, cut or insert a few bytes somewhere
            at = rng.randrange(len(data))
            data[at:at + rng.randrange(1, 40)] = rng.randbytes(rng.randrange(0, 40))
        damaged = bytes(data)
        whole = [(i.doc.warc_offset, i.doc.url) for i in read_all(damaged, name) if isinstance(i, Page)]
        ranged = []
        for start, end in split_ranges(len(damaged), 4096):
            ranged += [(i.doc.warc_offset, i.doc.url) for i in read_all(damaged, name, start=start, end=end)
                       if isinstance(i, Page)]
        assert ranged == whole
        assert len(whole) >= 5 + len(PAGES) - 4  # a few damaged records at most are lost, never the rest


def test_pages_with_next_to_no_text_outside_links_are_filtered() -> None:
    from pipeline.lib.crawl import text_outside_links

    links = "".join(f'<li><a href="/news/{i}">{html_line}</a></li>' for i, html_line in
                    enumerate(ARABIC_TEXT.splitlines()[:40]) if html_line.strip())
    index = f"<html><head><title>آخر الأخبار</title></head><body><h1>آخر الأخبار</h1><ul>{links}</ul></body></html>"
    assert text_outside_links(index) < 100 <= text_outside_links(html_page(ARABIC_TEXT))
    records = [Rec("response", "https://a.example/section", index.encode()),
               Rec("response", "https://a.example/article", html_page(ARABIC_TEXT).encode())]
    counts = tally(read_all(warc_bytes(records), "i.warc.gz"))
    assert counts["page"] == 1 and counts["filtered.little_text"] == 1
    assert tally(read_all(warc_bytes(records), "i.warc.gz", WarcConfig(min_text_chars=0)))["page"] == 2
