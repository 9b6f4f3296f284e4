"""Feed test kit: feeds built from the seed articles, and a real HTTP server on a loopback address.

Imported by tests/io/test_http.py, tests/io/test_feeds.py and tests/e2e/test_feeds_cli.py
(tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

from pipeline.lib.model import ParsedArticle
from pipeline.lib.pages import split_page

ROOT = Path(__file__).resolve().parents[1]
OUTLET = "الشرق الأوسط"
BASE_DATE = datetime(2023, 9, 24, 8, 0, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def seed_articles() -> tuple[ParsedArticle, ...]:
    """The ten full articles of the five seed pages, in seed order."""
    out: list[ParsedArticle] = []
    for page in sorted((ROOT / "seeds").glob("*.txt")):
        out += split_page(page.read_text(encoding="utf-8"))
    assert len(out) == 10
    return tuple(out)


@dataclass(frozen=True)
class Item:
    guid: str
    link: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime


def items(base_url: str = "http://news.example", count: int = 10) -> list[Item]:
    return [
        Item(f"urn:newspipe:seed:{i}", f"{base_url}/articles/{i}.html", a.title, tuple(a.paragraphs),
             BASE_DATE + timedelta(minutes=i))
        for i, a in enumerate(seed_articles()[:count])
    ]


def _html_body(item: Item) -> str:
    return "".join(f"<p>{escape(p)}</p>" for p in item.paragraphs)


def rss(entries: list[Item], title: str = OUTLET) -> bytes:
    """RSS 2.0: titles as numeric character references for the first item (entity decoding),
    descriptions as escaped HTML."""
    parts = []
    for n, it in enumerate(entries):
        t = "".join(f"&#{ord(c)};" for c in it.title) if n == 0 else escape(it.title)
        parts.append(
            f"<item><title>{t}</title><link>{escape(it.link)}</link>"
            f'<guid isPermaLink="false">{escape(it.guid)}</guid>'
            f"<pubDate>{format_datetime(it.published)}</pubDate>"
            f"<description>{escape(_html_body(it))}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://news.example/</link><language>ar</language>"
        + "".join(parts) + "</channel></rss>\n"
    ).encode("utf-8")


def atom(entries: list[Item], title: str = OUTLET) -> bytes:
    parts = [
        f"<entry><id>{escape(it.guid)}</id><title>{escape(it.title)}</title>"
        f'<link rel="alternate" href="{escape(it.link)}"/><published>{it.published.isoformat()}</published>'
        f"<updated>{it.published.isoformat()}</updated>"
        f'<content type="html">{escape(_html_body(it))}</content></entry>'
        for it in entries
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ar">'
        f"<title>{escape(title)}</title><id>urn:newspipe:atom</id><updated>{BASE_DATE.isoformat()}</updated>"
        + "".join(parts) + "</feed>\n"
    ).encode("utf-8")


def rdf(entries: list[Item], title: str = OUTLET) -> bytes:
    """RSS 1.0 (RDF) with plain-text descriptions (no guid: the link is the identity)."""
    parts = [
        f'<item rdf:about="{escape(it.link)}"><title>{escape(it.title)}</title><link>{escape(it.link)}</link>'
        f"<dc:date>{it.published.isoformat()}</dc:date><description>{escape(chr(10).join(it.paragraphs))}"
        "</description></item>"
        for it in entries
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="http://news.example/"><title>{escape(title)}</title><link>http://news.example/</link>'
        "</channel>" + "".join(parts) + "</rdf:RDF>\n"
    ).encode("utf-8")


def json_feed(entries: list[Item], title: str = OUTLET) -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": "http://news.example/",
        "items": [
            {"id": it.guid, "url": it.link, "title": it.title, "content_html": _html_body(it),
             "date_published": it.published.isoformat()}
            for it in entries
        ],
    }, ensure_ascii=False).encode("utf-8")


def article_page(it: Item) -> bytes:
    paragraphs = "".join(f"<p>{escape(p)}</p>\n" for p in it.paragraphs)
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{escape(it.title)} | '
        f"{OUTLET}</title></head><body><header><nav><a href='/'>الرئيسية</a></nav></header>"
        f"<article><h1>{escape(it.title)}</h1>\n{paragraphs}</article><footer>جميع الحقوق محفوظة</footer>"
        "</body></html>"
    ).encode()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (n, b"".join(b"&lol%s;" % (str(n - 1).encode() if n > 1 else b"") for _ in range(10)))
        for n in range(1, 10)
    )
    + b']>\n<rss version="2.0"><channel><title>&lol9;</title>'
    b"<item><title>\xd8\xae\xd8\xa8\xd8\xb1 &lol9;</title><guid>urn:lol:1</guid>"
    b"<description>&lol9;</description></item></channel></rss>\n"
)

# An unescaped '&' and an unclosed element: not well-formed XML, but two entries are recoverable.
MALFORMED = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>أخبار & تقارير</title>'
    "<item><title>الخبر الأول</title><guid>urn:bad:1</guid><description>نص الخبر الأول.</description></item>"
    "<item><title>الخبر الثاني</title><guid>urn:bad:2</guid><description>نص الخبر الثاني & المزيد.</description>"
    "</item><item><title>الخبر الثالث"
).encode()


# --------------------------------------------------------------------------- HTTP server

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class FeedServer:
    """ThreadingHTTPServer on `host`; `routes` maps a path to a handler; every request is recorded."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def start(self) -> FeedServer:
        kit = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                kit.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = kit.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    send(self, 404, b"not found", "text/plain")
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), _H)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]


def send(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
         headers: dict[str, str] | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


@dataclass
class Static:
    """A document with ETag and Last-Modified that honours conditional GETs (304)."""

    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str = ""  # none sent when empty
    last_modified: str = ""

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        etag = self.etag
        cond_etag = h.headers.get("If-None-Match")
        cond_time = h.headers.get("If-Modified-Since")
        headers = {"ETag": etag} if etag else {}
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        if (etag and cond_etag == etag) or (not cond_etag and cond_time and cond_time == self.last_modified):
            h.send_response(304)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        send(h, 200, self.body, self.content_type, headers)


def status(code: int) -> Handler:
    return lambda h: send(h, code, b"boom", "text/plain")


def redirect(location: str, code: int = 302) -> Handler:
    return lambda h: send(h, code, b"", "text/plain", {"Location": location})


def slow(seconds: float) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        send(h, 200, b"<rss/>", "application/rss+xml")
    return handle


def drip(interval: float, total: int = 1000) -> Handler:
    """Headers at once, then one byte every `interval` seconds (each read is quick, the whole is not)."""
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(total))
        h.end_headers()
        for _ in range(total):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(interval)
    return handle


def big(size: int, declare: bool) -> Handler:
    """`size` bytes, with or without a Content-Length (without: streamed until the connection closes)."""
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        if declare:
            h.send_header("Content-Length", str(size))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        chunk = b"x" * 65536
        sent = 0
        while sent < size:
            h.wfile.write(chunk[: size - sent])
            sent += min(len(chunk), size - sent)
    return handle


def gzip_bomb(size: int) -> Handler:
    body = gzip.compress(b"\0" * size)
    return lambda h: send(h, 200, body, "application/rss+xml", {"Content-Encoding": "gzip"})


def echo(h: BaseHTTPRequestHandler) -> None:
    body = json.dumps({k.lower(): v for k, v in h.headers.items()}).encode("utf-8")
    send(h, 200, body, "application/json")


def free_loopback_alias() -> str | None:
    """127.0.0.2 when this host routes it to loopback (Linux does), else None."""
    import socket

    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return None
