"""WARC input end to end: `newspipe run` over a crawl folder (gzip-per-record and uncompressed WARCs
and a JSONL file) writes one row per article with its WARC provenance, counts records by type and
filter reason, makes the truncated record a dead letter, gives the same rows when every file is cut
into small byte ranges, keeps whole-file claims in the incremental ledger, extracts the same
articles as from the same HTML as .html files, and reads s3:// WARCs from MinIO.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warckit import PAGES, Rec, html_page, mixed_records, seed_records, warc_bytes

from pipeline.cli import app
from pipeline.config import Config, InputConfig, load_config, s3_settings
from pipeline.io.sinks import read_articles, read_dead_letters
from pipeline.run import run_batch

WIN1256_TEXT = (
    "ارتفاع أسعار النفط في الأسواق العالمية\n\n"
    "ارتفعت أسعار النفط الخام في الأسواق العالمية اليوم بعد إعلان منظمة أوبك خفض الإنتاج خلال الشهر المقبل.\n\n"
    "وقال محللون إن الأسعار قد تواصل الصعود إذا استمر الطلب القوي من الدول الآسيوية.\n"
)
JSONL_LINES = [
    {"title": f"خبر رقم {i} عن الاقتصاد المحلي", "body": f"قال مسؤول إن المؤشر {i} ارتفع خلال الأسبوع الماضي بنسبة كبيرة.",
     "url": f"https://feed.example/{i}", "published": "2024-03-0%d" % (1 + i % 9)}
    for i in range(60)
]
EXPECTED_PAGE_ARTICLES = sum(len(json.loads(p.with_suffix(".expected.json").read_text())["articles"]) for p in PAGES)
# 5 seeds x 2 articles, the windows-1256 page, the multi-article fixture pages, the JSONL lines.
EXPECTED_ARTICLES = 10 + 1 + EXPECTED_PAGE_ARTICLES + len(JSONL_LINES)
LIGHT = "enrich:\n  entities: false\n  topics: false\n  stories: false\n"


def response_offsets(data: bytes) -> set[int]:
    it = ArchiveIterator(io.BytesIO(data))
    return {it.get_record_offset() for r in it if r.rec_type == "response"}


def build_crawl(root: Path) -> tuple[Path, dict[str, set[int]]]:
    """The crawl folder, and the offsets of the response records in each WARC (from warcio)."""
    crawl = root / "crawl"
    crawl.mkdir()
    records = mixed_records() + [
        Rec("response", "https://aawsat.example/news/oil",
            html_page(WIN1256_TEXT, meta_charset="utf-8").encode("cp1256"), content_type="text/html"),
        Rec("response", "https://aawsat.example/news/last", html_page(WIN1256_TEXT.replace("النفط", "الذهب")).encode()),
    ]
    data = warc_bytes(records, gzip=True)
    (crawl / "mixed.warc.gz").write_bytes(data[:-600])  # the last record is cut off
    pages = [Rec("response", f"https://news.example/{p.stem}", html_page(p.read_text(encoding="utf-8")).encode())
             for p in PAGES]
    (crawl / "pages.warc").write_bytes(warc_bytes(pages, gzip=False))
    (crawl / "feed.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in JSONL_LINES),
                                      encoding="utf-8")
    offsets = {"mixed.warc.gz": response_offsets(data), "pages.warc": response_offsets((crawl / "pages.warc").read_bytes())}
    return crawl, offsets


@pytest.fixture(scope="module")
def crawl_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("warc")
    crawl, offsets = build_crawl(root)
    result = CliRunner().invoke(app, ["run", "-i", str(crawl / "*"), "-o", str(root / "out"), "--json"],
                                catch_exceptions=False)
    return root, crawl, result, offsets


def test_one_row_per_article_with_provenance(crawl_run) -> None:
    root, crawl, result, offsets = crawl_run
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["articles"] == EXPECTED_ARTICLES
    rows = read_articles(str(root / "out"))
    assert len(rows) == EXPECTED_ARTICLES
    warc_rows = [r for r in rows if r["warc_file"]]
    assert len(warc_rows) == EXPECTED_ARTICLES - len(JSONL_LINES)
    for row in warc_rows:
        assert row["warc_offset"] in offsets[Path(row["warc_file"]).name], row["title"]
        assert row["source_uri"] == row["warc_file"] and row["url"].startswith("https://")
    assert all(r["warc_file"] is None and r["warc_offset"] is None for r in rows if not r["warc_file"])
    # The multi-article fixture pages are split by their layouts inside the WARC too.
    formats = {r["page_format"] for r in warc_rows if r["url"].startswith("https://news.example/")}
    assert formats == {"asharq", "aggregator"}
    titles = {r["title"] for r in rows}
    assert "ارتفاع أسعار النفط في الأسواق العالمية" in titles  # windows-1256 body under a utf-8 meta tag
    assert all(r["outlet"] for r in warc_rows)  # the page's site name, else the host


def test_truncated_record_is_a_dead_letter_and_manifest_counts_records(crawl_run) -> None:
    root, crawl, result, _ = crawl_run
    summary = json.loads(result.stdout)
    assert summary["dead_letters_by_reason"] == {"warc.truncated_record": 1}
    (letter,) = read_dead_letters(str(root / "out"))
    assert letter["stage"] == "warc" and letter["source_uri"] == str(crawl / "mixed.warc.gz")
    assert "truncated" in letter["error"] and letter["payload"]
    manifest = json.loads(Path(summary["manifest_uri"]).read_text())
    assert manifest["warc"]["records"] == {"warcinfo": 1, "request": 5, "response": 8 + 1 + len(PAGES),
                                           "metadata": 1, "revisit": 1}
    assert manifest["warc"]["filtered"] == {"redirect": 1, "status": 1, "mime": 1}
    assert manifest["warc"]["pages"] == 6 + len(PAGES)
    assert manifest["warc"]["dead_letters"] == {"truncated_record": 1}


def test_small_byte_ranges_give_the_same_rows_and_the_ledger_claims_whole_files(crawl_run, tmp_path: Path) -> None:
    root, crawl, _, _ = crawl_run
    cfg = Config(input=InputConfig(range_bytes=4096))
    out = tmp_path / "ranged"
    summary = run_batch([str(crawl / "*")], str(out), cfg, incremental=True)
    assert summary.counters["read.out"] > 0

    def key(r: dict) -> tuple:
        return (r["source_uri"], r["warc_offset"], r["title"], r["body"], r["id"], r["url"], tuple(r["paragraphs"]))

    whole = sorted(key(r) for r in read_articles(str(root / "out")))
    ranged = sorted(key(r) for r in read_articles(str(out)))
    assert len(ranged) == EXPECTED_ARTICLES and ranged == whole
    assert summary.dead_letters_by_reason == {"warc.truncated_record": 1}
    ledger = list((out / "_state" / "runs" / "inputs").glob("*.json"))
    assert sorted(json.loads(p.read_text())["uri"] for p in ledger) == sorted(str(p) for p in crawl.iterdir())
    again = run_batch([str(crawl / "*")], str(out), cfg, incremental=True)
    assert again.inputs_skipped["already_committed"] == 3 and again.articles == 0


def test_body_quality_equals_the_same_html_as_files(crawl_run, tmp_path: Path) -> None:
    root, _, _, _ = crawl_run
    html_dir = tmp_path / "html"
    html_dir.mkdir()
    for rec in seed_records():
        if rec.kind == "response":
            (html_dir / (rec.url.rsplit("/", 1)[1] + ".html")).write_bytes(rec.body)
    for page in PAGES:
        (html_dir / f"{page.stem}.html").write_text(html_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    run_batch([str(html_dir)], str(tmp_path / "out"), Config())
    provenance = {"id", "source_uri", "url", "outlet", "warc_file", "warc_offset", "ingested_at", "source_modified_at",
                  "_file", "dt", "story_id", "duplicate_of"}

    def content(r: dict) -> str:
        return json.dumps({k: v for k, v in r.items() if k not in provenance}, sort_keys=True, default=str,
                          ensure_ascii=False)

    from_files = sorted(content(r) for r in read_articles(str(tmp_path / "out")))
    from_warc = sorted(content(r) for r in read_articles(str(root / "out")) if r["warc_file"]
                       and "/news/oil" not in r["url"] and "/news/last" not in r["url"])
    assert len(from_files) == 10 + EXPECTED_PAGE_ARTICLES
    assert from_warc == from_files


@pytest.mark.minio
def test_s3_warc_input_read_as_ranges(tmp_path: Path, s3_bucket: str, minio_client) -> None:
    crawl, _ = build_crawl(tmp_path)
    for path in crawl.iterdir():
        minio_client.fput_object(s3_bucket, f"crawl/{path.name}", str(path))
    light = tmp_path / "light.yaml"
    light.write_text(LIGHT + "input:\n  range_bytes: 4096\n")
    cfg = load_config(light)
    out = f"s3://{s3_bucket}/out"
    summary = run_batch([f"s3://{s3_bucket}/crawl/*.warc*"], out, cfg)
    assert summary.articles == EXPECTED_ARTICLES - len(JSONL_LINES)
    assert summary.dead_letters_by_reason == {"warc.truncated_record": 1}
    rows = read_articles(out, s3_settings(cfg))
    assert {r["warc_file"] for r in rows} == {f"s3://{s3_bucket}/crawl/mixed.warc.gz", f"s3://{s3_bucket}/crawl/pages.warc"}


def test_smoke_fixture_is_what_its_script_builds_and_gives_ten_articles(tmp_path: Path) -> None:
    """tests/fixtures/warc/small.warc.gz (the fresh-install smoke test's WARC input)."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "warc" / "small.warc.gz"
    assert fixture.read_bytes() == warc_bytes(mixed_records(), gzip=True), "rebuild: tests/fixtures/warc/build_small.py"
    light = tmp_path / "light.yaml"
    light.write_text(LIGHT)
    summary = run_batch([str(fixture)], str(tmp_path / "out"), load_config(light))
    assert summary.articles == 10 and summary.dead_letters == 0
