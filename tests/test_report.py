"""The HTML report: content and escaping as text, then layout and console in a real headless Chromium.

The browser tests need Debian's chromium (`apt-get install -y chromium`); without /usr/bin/chromium
they skip and say so.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import Config, s3_settings
from pipeline.io.schema import articles_table
from pipeline.io.storage import Storage, StorageError
from pipeline.protos.article_pb2 import Article, Entity, Topic
from pipeline.report import build_report, hbar_chart, is_rtl, text_el, vbar_chart

RUN_A = "20260101T120000Z-aaaaaa"
RUN_B = "20260102T120000Z-bbbbbb"
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
CHROMIUM = os.environ.get("NEWSPIPE_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]


def _article(aid: str, outlet: str, title: str, lang: str, day: int, ents: list[tuple[str, str, str, str]],
             topics: list[tuple[str, str]], story: str) -> Article:
    a = Article(id=aid, outlet=outlet, title=title, body="...", language=lang, story_id=story)
    a.published_at.FromDatetime(datetime(2023, 9, day, 8, tzinfo=timezone.utc))
    a.entities.extend(Entity(surface=s, type=t, canonical=c, wikidata_id=q) for s, t, c, q in ents)
    a.topics.extend(Topic(code=c, label=lbl, score=0.8) for c, lbl in topics)
    return a


def write_output(storage: Storage, root: str) -> None:
    """Two runs in the contract layout; run B holds hostile strings in every free-text field."""
    egypt, riyadh = ("مصر", "LOC", "Egypt", "Q79"), ("الرياض", "LOC", "Riyadh", "Q3692")
    run_a = [
        _article("a1", "الشرق الأوسط", "قمة عربية في الرياض", "ar", 24, [egypt, riyadh], [("11000000", "politics")],
                 "story-1"),
        _article("a2", "asharq", "مصر والسعودية تبحثان التعاون", "ar", 24, [egypt, riyadh],
                 [("11000000", "politics")], "story-1"),
        _article("a3", "asharq", "ارتفاع أسعار النفط", "ar", 25, [egypt], [("04000000", "economy, business and finance")],
                 "story-3"),
    ]
    run_b = [
        _article("b1", XSS, XSS, "en", 26, [(XSS, "MISC", XSS, 'Q1" onmouseover="alert(3)')], [("x", XSS)],
                 XSS),
        _article("b2", "reuters", "Oil prices rise", "en", 26, [egypt], [], XSS),
    ]
    for run, arts in ((RUN_A, run_a), (RUN_B, run_b)):
        parts: dict[str, list[Article]] = {}
        for a in arts:
            parts.setdefault(f"dt=2023-09-{a.published_at.ToDatetime().day}/lang={a.language}", []).append(a)
        for i, (partition, batch) in enumerate(sorted(parts.items())):
            buf = io.BytesIO()
            pq.write_table(articles_table(batch), buf)
            storage.write_bytes(f"{root}/articles/{partition}/part-{run}-{i:08x}.parquet", buf.getvalue())
        manifest = {"run_id": run, "counts": {"per_stage": {"parse.in": len(arts), "split.out": len(arts)}},
                    "timings": {"pipeline_seconds": 1.25, "total_seconds": 2.0, "stages": {"split": 0.5}}}
        storage.write_bytes(f"{root}/_runs/{run}/manifest.json", json.dumps(manifest).encode())
    letter = {"stage": "parse", "reason": "undecodable", "error": XSS, "source_uri": "x.bin", "line": 0,
              "failed_at": "2026-01-02T12:00:00Z", "run_id": RUN_B, "payload": XSS}
    storage.write_bytes(f"{root}/dead_letters/dt=2026-01-02/part-{RUN_B}-00000001.jsonl",
                        (json.dumps(letter) + "\n").encode())


@pytest.fixture
def output(tmp_path: Path) -> str:
    root = str(tmp_path / "out")
    write_output(Storage.for_uri(root), root)
    return root


class _Collect(HTMLParser):
    """Tags with their attributes, and the text inside elements that declare dir="rtl"."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rtl_text: list[str] = []
        self._rtl_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if self._rtl_depth or (a.get("dir") == "rtl" and a.get("lang") == "ar"):
            self._rtl_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._rtl_depth:
            self._rtl_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._rtl_depth:
            self.rtl_text.append(data)


def _parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    return parser


# --- text-level checks -------------------------------------------------------------------------


def test_report_sections_and_numbers(output: str) -> None:
    page = build_report(output, None)
    for ident in ("overview", "latest", "per-day", "per-outlet", "languages", "topics", "entities", "cooccurrence", "stories",
                  "dead-letters", "timings", "per-stage"):
        assert f'id="{ident}"' in page
    assert '<a href="https://www.wikidata.org/wiki/Q79"' in page
    assert re.search(r"<b>5</b><span>articles</span>", page)
    # Co-occurrence: Egypt and Riyadh share two articles.
    assert re.search(r"wiki/Q3692.*?wiki/Q79.*?<td class=num>2</td>", page) or \
        re.search(r"wiki/Q79.*?wiki/Q3692.*?<td class=num>2</td>", page)
    assert "politics (11000000)" in page
    assert "pipeline_seconds" in page and "stages.split" in page
    parsed = _parse(page)
    svgs = [a for t, a in parsed.tags if t == "svg"]
    assert len(svgs) == 6  # day, outlet, language, topic, dead letters, timings
    assert all(float(a["width"] or 0) > 0 and float(a["height"] or 0) > 0 for a in svgs)


def _section_html(page: str, ident: str) -> str:
    match = re.search(rf'<section[^>]*id="{ident}">(.*?)</section>', page, re.DOTALL)
    assert match, ident
    return match.group(1)


def test_arabic_titles_are_rtl_and_stories_listed(output: str) -> None:
    page = build_report(output, None)
    stories = _parse(_section_html(page, "stories"))
    rtl = " ".join(stories.rtl_text)
    assert "قمة عربية في الرياض" in rtl and "مصر والسعودية تبحثان التعاون" in rtl
    assert "الشرق الأوسط" in rtl  # an Arabic outlet name is isolated too, not only titles
    # story-3 has one member: not a cluster; it is still among the latest articles.
    assert "ارتفاع أسعار النفط" not in rtl
    latest = _section_html(page, "latest")
    assert latest.count("<tr>") == 1 + 5
    assert '<span dir="rtl" lang="ar" class="ar">ارتفاع أسعار النفط</span>' in latest
    # Newest first: run B's 26 September articles lead.
    assert latest.index("Oil prices rise") < latest.index("ارتفاع أسعار النفط")


def test_untrusted_strings_are_escaped(output: str) -> None:
    page = build_report(output, None)
    assert "<script" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = _parse(page)
    assert not [t for t, _ in parsed.tags if t in ("script", "img", "iframe", "object", "link")]
    assert not [a for _, a in parsed.tags if any(k.startswith("on") for k in a)]
    hrefs = [a.get("href") for t, a in parsed.tags if t == "a"]
    assert hrefs and all(re.fullmatch(r"https://www\.wikidata\.org/wiki/Q[0-9]+", h or "") for h in hrefs)
    assert not [a for _, a in parsed.tags if "src" in a]  # nothing is fetched when the page is viewed


def test_run_filter(output: str) -> None:
    page = build_report(output, None, run_id=RUN_A)
    assert re.search(r"<b>3</b><span>articles</span>", page)
    assert "Oil prices rise" not in page and RUN_B not in page
    assert "No data." in page  # run A had no dead letters
    page_b = build_report(output, None, run_id=RUN_B)
    assert "Oil prices rise" in page_b and "قمة عربية" not in page_b
    with pytest.raises(ValueError, match="no run"):
        build_report(output, None, run_id="20990101T000000Z-000000")


def test_missing_output_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no newspipe output"):
        build_report(str(tmp_path / "nope"), None)


def test_helpers() -> None:
    assert is_rtl("قمة في الرياض 2023") and not is_rtl("UN warns") and not is_rtl("")
    assert text_el("<b>مصر</b>") == '<span dir="rtl" lang="ar" class="ar">&lt;b&gt;مصر&lt;/b&gt;</span>'
    assert text_el("hello", "en") == '<span dir="auto" lang="en">hello</span>'
    assert text_el("hello", 'en" onclick="x') == '<span dir="auto">hello</span>'
    assert hbar_chart([], "t") == vbar_chart([], "t") == '<p class="empty">No data.</p>'
    svg = hbar_chart([("الشرق", 3), ("b", 1)], "t")
    assert 'direction="rtl"' in svg and svg.count("<rect") == 2


@pytest.mark.minio
def test_report_from_minio(s3_bucket: str) -> None:
    settings = s3_settings(Config())
    root = f"s3://{s3_bucket}/out"
    write_output(Storage.for_uri(root, settings), root)
    page = build_report(root, settings)
    assert re.search(r"<b>5</b><span>articles</span>", page)
    assert "قمة عربية في الرياض" in page


# --- in a real browser -------------------------------------------------------------------------

# tests/run.sh installs Chromium, so in CI a missing browser is a failure, not a skip.
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"{CHROMIUM} not found: install it with `apt-get update && apt-get install -y chromium`",
)

# Writes each chart's rendered size, and any SVG label that spills outside its chart, into the DOM.
_MEASURE = """<script>
document.querySelectorAll('svg.chart').forEach(function (svg) {
  var box = svg.getBoundingClientRect(), w = svg.width.baseVal.value;
  svg.setAttribute('data-rendered', box.width.toFixed(1) + 'x' + box.height.toFixed(1));
  var spill = [];
  svg.querySelectorAll('text').forEach(function (t) {
    var b = t.getBBox();
    if (b.x < -0.5 || b.x + b.width > w + 0.5 || b.width <= 0) spill.push(t.textContent);
  });
  svg.setAttribute('data-spill', JSON.stringify(spill));
});
document.body.setAttribute('data-overflow', String(document.documentElement.scrollWidth > window.innerWidth));
</script>"""


def _chromium(tmp_path: Path, url: str, *extra: str) -> tuple[str, str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1280,2000", *extra, url,
    ]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_messages(stderr: str) -> list[str]:
    """Page console output (errors, CSP violations, uncaught exceptions) from Chromium's stderr log."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@needs_chromium
def test_console_scan_catches_errors(tmp_path: Path) -> None:
    """The scanner is not blind: a page that breaks our CSP and throws is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                   "content=\"default-src 'none'\"></head><body><img src=\"http://127.0.0.1:9/x.png\">"
                   "<p>x</p></body></html>")
    _, stderr = _chromium(tmp_path, bad.as_uri(), "--dump-dom")
    assert any("Content Security Policy" in m for m in console_messages(stderr))


@needs_chromium
def test_report_in_chromium(output: str, tmp_path: Path) -> None:
    page = build_report(output, None)
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    shot = tmp_path / "report.png"

    _, stderr = _chromium(tmp_path, report.as_uri(), f"--screenshot={shot}")
    assert console_messages(stderr) == []
    assert _png_size(shot) == (1280, 2000) and shot.stat().st_size > 20_000

    dom, stderr = _chromium(tmp_path, report.as_uri(), "--dump-dom")
    assert console_messages(stderr) == []
    parsed = _parse(dom)
    assert "قمة عربية في الرياض" in " ".join(parsed.rtl_text)
    assert not [t for t, _ in parsed.tags if t == "script"]  # the hostile title stayed text after parsing

    # Rendered sizes need script, which the report's CSP forbids: measure a copy without it.
    measured = tmp_path / "measured.html"
    measured.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
                        .replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom, stderr = _chromium(tmp_path, measured.as_uri(), "--dump-dom")
    assert console_messages(stderr) == []
    charts = [a for t, a in _parse(dom).tags if t == "svg" and "data-rendered" in a]
    assert len(charts) == 6
    for attrs in charts:
        w, h = (float(x) for x in (attrs["data-rendered"] or "0x0").split("x"))
        assert w > 100 and h > 20, attrs
        assert json.loads(attrs["data-spill"] or "[]") == [], attrs
    assert 'data-overflow="false"' in dom


def test_committed_screenshot_is_a_png() -> None:
    """docs/report.md shows this file; keep it a real screenshot of the page (see docs/report.md to redo it)."""
    assert _png_size(ROOT / "docs" / "img" / "report.png")[0] == 1280
