"""Build WARC files for tests with warcio, from the project's own pages (seeds, tests/fixtures/pages).

Records are deterministic (fixed dates and record ids) so a file built twice is byte-identical.
"""

from __future__ import annotations

import hashlib
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
PAGES = sorted((ROOT / "tests" / "fixtures" / "pages").glob("*.txt"))
DATE = "2024-03-05T10:00:00Z"

ENGLISH_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Markets close higher on energy</title>
</head><body><article><h1>Markets close higher on energy</h1>
<p>Stock markets in Europe closed higher on Tuesday as energy shares rallied after oil prices rose for a third day.</p>
<p>Traders said the gains were broad, with banks and miners also up, while bond yields were little changed.</p>
<p>The euro was steady against the dollar ahead of a central bank meeting next week.</p>
</article></body></html>"""


def html_page(text: str, meta_charset: str = "utf-8", lang: str = "ar") -> str:
    """A news page as a site would serve it: the page's lines as paragraphs of one <article>."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    paragraphs = "\n".join(f"<p>{html.escape(line)}</p>" for line in lines)
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    return (
        f'<!DOCTYPE html><html lang="{lang}" dir="rtl"><head>{meta}<title>{html.escape(lines[0])}</title>'
        f'<style>body{{font-family:serif}}</style><script>var a = "<p>not text</p>";</script></head>'
        f"<body><nav><a href='/'>الرئيسية</a></nav><article>\n{paragraphs}\n</article></body></html>"
    )


@dataclass
class Rec:
    """One record to write. kind: response | request | metadata | revisit | warcinfo | resource."""

    kind: str
    url: str = ""
    body: bytes = b""
    status: str = "200 OK"
    content_type: str | None = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _record_id(i: int, rec: Rec) -> str:
    digest = hashlib.sha1(f"{i}|{rec.kind}|{rec.url}".encode()).hexdigest()
    return f"<urn:uuid:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}>"


def warc_bytes(records: list[Rec], gzip: bool = True) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip)
    for i, rec in enumerate(records):
        warc_headers = {"WARC-Date": DATE, "WARC-Record-ID": _record_id(i, rec)}
        if rec.kind == "warcinfo":
            record = writer.create_warcinfo_record("crawl.warc.gz", {"software": "newspipe tests"})
        elif rec.kind == "response":
            headers = list(rec.headers)
            if rec.content_type is not None:
                headers.insert(0, ("Content-Type", rec.content_type))
            http = StatusAndHeaders(rec.status, headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(rec.url, "response", payload=io.BytesIO(rec.body),
                                               http_headers=http, warc_headers_dict=warc_headers)
        elif rec.kind == "request":
            http = StatusAndHeaders(f"GET {rec.url} HTTP/1.1", [("Host", "example.org")], is_http_request=True)
            record = writer.create_warc_record(rec.url, "request", payload=io.BytesIO(b""), http_headers=http,
                                               warc_headers_dict=warc_headers)
        elif rec.kind == "revisit":
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            record = writer.create_revisit_record(rec.url, digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                                  refers_to_uri=rec.url, refers_to_date=DATE, http_headers=http)
        else:  # metadata, resource
            record = writer.create_warc_record(rec.url, rec.kind, payload=io.BytesIO(rec.body or b"via: test"),
                                               warc_content_type="text/plain", warc_headers_dict=warc_headers)
        for name, value in warc_headers.items():  # also on the kinds whose constructor takes no headers
            record.rec_headers.replace_header(name, value)
        writer.write_record(record)
    return buf.getvalue()


def seed_records(paths: list[Path] = SEEDS, host: str = "aawsat.example") -> list[Rec]:
    """A request + HTML response per page, the way a crawler writes them."""
    out = []
    for path in paths:
        url = f"https://{host}/news/{path.stem}"
        body = html_page(path.read_text(encoding="utf-8")).encode("utf-8")
        out += [Rec("request", url), Rec("response", url, body)]
    return out


def mixed_records() -> list[Rec]:
    """The seeds plus everything a crawl holds besides article pages."""
    return [
        Rec("warcinfo"),
        *seed_records(),
        Rec("response", "https://aawsat.example/old", b"", status="301 Moved Permanently", content_type=None,
            headers=[("Location", "https://aawsat.example/new")]),
        Rec("response", "https://aawsat.example/missing", b"<html><body>not found</body></html>", status="404 Not Found"),
        Rec("response", "https://aawsat.example/logo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8,
            content_type="image/jpeg"),
        Rec("metadata", "https://aawsat.example/news/x", b"outlinks: 3"),
        Rec("revisit", "https://aawsat.example/news/" + SEEDS[0].stem),
    ]
