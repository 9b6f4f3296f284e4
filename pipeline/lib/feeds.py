"""Feed documents (RSS 0.9x/1.0 RDF/2.0, Atom, JSON Feed) to plain entries, and feed entries to articles.

Pure functions on bytes already fetched: feedparser is only ever given a byte stream (it never
fetches anything), and any DOCTYPE is removed before it sees the document, so no entity is ever
declared, let alone expanded (billion laughs) and no external DTD or entity is ever loaded.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.lib.model import ParsedArticle
from pipeline.lib.pages import article_from_fields, extract_html, split_page

_ENTITY_DECL = re.compile(rb"<!ENTITY\b", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z!/][^>]*>")
_FULL_PAGE = re.compile(r"<html[\s>]|<body[\s>]|<!doctype html", re.IGNORECASE)
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr",
               "table", "section", "article", "figure", "figcaption", "pre", "hr", "dd", "dt"}
_JSON_FEED_TYPES = ("application/feed+json", "application/json")
# feedparser flags these as "bozo" although the document parsed fine.
_HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str  # guid/id, else link, else "sha256:<hash of title and text>"
    title: str
    link: str
    published: str  # as written in the feed; parsed later by pipeline.lib.dates
    text: str
    content_type: str  # html | text


@dataclass
class ParsedFeed:
    title: str
    link: str
    kind: str  # rss20, atom10, rss10 (RDF), json1, ... ("" when not recognised)
    entries: list[FeedEntry] = field(default_factory=list)
    # (reason, detail) for what could not be read: unsafe_dtd, malformed_feed, not_a_feed, empty_entry
    problems: list[tuple[str, str]] = field(default_factory=list)


def _declaration_end(data: bytes, start: int) -> int:
    """End of the markup declaration at `start`, skipping quoted text and a [...] internal subset."""
    depth, quote, i = 0, 0, start + 2
    while i < len(data):
        c = data[i]
        if quote:
            quote = 0 if c == quote else quote
        elif c in b"\"'":
            quote = c
        elif c == ord("["):
            depth += 1
        elif c == ord("]"):
            depth -= 1
        elif c == ord(">") and depth <= 0:
            return i + 1
        i += 1
    return len(data)


def _to_utf8(data: bytes) -> bytes:
    """UTF-16/32 documents as UTF-8, so the DOCTYPE scan below sees them (byte patterns)."""
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            break
    else:
        if b"\x00" not in data[:4]:
            return data
        codec = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
    text = data.decode(codec, errors="replace").lstrip("\ufeff")
    text = re.sub(r"^(<\?xml[^>]*?encoding=)[\"'][^\"']*[\"']", r'\1"utf-8"', text)
    return text.encode("utf-8")


def strip_doctype(data: bytes) -> tuple[bytes, bool]:
    """Remove DOCTYPE declarations (with any internal subset) that come before the root element;
    True when one declared entities. Also turns UTF-16/32 into UTF-8 first."""
    data = _to_utf8(data)
    declared = False
    while True:
        doctype = re.search(rb"<!DOCTYPE", data, re.IGNORECASE)
        root = re.search(rb"<[A-Za-z]", data)
        if doctype is None or (root is not None and root.start() < doctype.start()):
            return data, declared
        end = _declaration_end(data, doctype.start())
        declared = declared or bool(_ENTITY_DECL.search(data, doctype.start(), end))
        data = data[:doctype.start()] + data[end:]


def entry_identity(guid: str, link: str, title: str, text: str) -> str:
    guid, link = guid.strip(), link.strip()
    if guid:
        return guid
    if link:
        return link
    return "sha256:" + hashlib.sha256(f"{title.strip()}\n{text.strip()}".encode()).hexdigest()


def _is_html(value: str, declared_type: str) -> bool:
    return "html" in declared_type and bool(_TAG.search(value))


def _text_of(value: str, declared_type: str) -> tuple[str, str]:
    """(text, content_type): HTML stays HTML when it holds tags; escaped text is unescaped."""
    if _is_html(value, declared_type):
        return value, "html"
    if "html" in declared_type:
        return html.unescape(value), "text"
    return value, "text"


def _make_entry(guid: str, title: str, link: str, published: str, bodies: list[tuple[str, str]]) -> FeedEntry:
    # The longest of content/summary is the fullest text the feed carries.
    value, declared = max(bodies, key=lambda b: len(b[0].strip()), default=("", "text/plain"))
    text, content_type = _text_of(value.strip(), declared)
    title = html.unescape(_TAG.sub("", title)).strip() if title else ""
    return FeedEntry(
        entry_id=entry_identity(guid, link, title, text),
        title=title,
        link=link.strip(),
        published=published.strip(),
        text=text,
        content_type=content_type,
    )


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return ParsedFeed("", "", "", problems=[("malformed_feed", f"JSON Feed is not valid JSON ({type(exc).__name__})")])
    if not isinstance(obj, dict) or not isinstance(obj.get("items"), list):
        return ParsedFeed("", "", "", problems=[("not_a_feed", "JSON without an 'items' list is not a JSON Feed")])
    feed = ParsedFeed(_str(obj.get("title")), _str(obj.get("home_page_url")), "json1")
    for index, item in enumerate(obj["items"]):
        if not isinstance(item, dict):
            feed.problems.append(("malformed_feed", f"item {index} is not an object"))
            continue
        bodies = [(_str(item.get("content_html")), "text/html"), (_str(item.get("content_text")), "text/plain"),
                  (_str(item.get("summary")), "text/plain")]
        entry = _make_entry(
            _str(item.get("id")), _str(item.get("title")), _str(item.get("url")) or _str(item.get("external_url")),
            _str(item.get("date_published")) or _str(item.get("date_modified")), bodies,
        )
        feed.entries.append(entry)
    return feed


def _str(value: Any) -> str:
    return value if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else ""


def _parse_xml_feed(data: bytes, url: str, content_type: str) -> ParsedFeed:
    import feedparser

    data, declared_entities = strip_doctype(data)
    headers = {"content-location": url} if url.startswith(("http://", "https://")) else {}
    if content_type:
        headers["content-type"] = content_type
    # A byte stream, never a string: feedparser treats strings as URLs or paths and would open them.
    result = feedparser.parse(io.BytesIO(data), response_headers=headers, resolve_relative_uris=True,
                              sanitize_html=True)
    meta = result.get("feed", {})
    feed = ParsedFeed(_str(meta.get("title")), _str(meta.get("link")), _str(result.get("version")))
    if declared_entities:
        feed.problems.append(("unsafe_dtd", "the feed declares XML entities; its DOCTYPE was removed unexpanded"))
    exc = result.get("bozo_exception") if result.get("bozo") else None
    if exc is not None and type(exc).__name__ not in _HARMLESS_BOZO:
        where = getattr(exc, "getLineNumber", lambda: None)()
        detail = f"{type(exc).__name__}: {str(exc)[:300]}" + (f" (line {where})" if where else "")
        if not feed.kind and not result.get("entries"):
            feed.problems.append(("not_a_feed", f"not an RSS, Atom, RDF or JSON feed ({detail})"))
        else:
            feed.problems.append(("malformed_feed", detail))
    elif not feed.kind and not result.get("entries"):
        feed.problems.append(("not_a_feed", "not an RSS, Atom, RDF or JSON feed"))
    for entry in result.get("entries", []):
        bodies = [(_str(c.get("value")), _str(c.get("type"))) for c in entry.get("content", [])]
        detail = entry.get("summary_detail") or {}
        bodies.append((_str(entry.get("summary")), _str(detail.get("type")) or "text/html"))
        feed.entries.append(_make_entry(
            _str(entry.get("id")), _str(entry.get("title")), _str(entry.get("link")),
            _str(entry.get("published")) or _str(entry.get("updated")), bodies,
        ))
    return feed


def parse_feed(data: bytes, url: str = "", content_type: str = "") -> ParsedFeed:
    """Entries of a feed document, plus the problems met. Never raises on bad input: what can be
    recovered from an ill-formed feed is returned along with a `malformed_feed` problem."""
    mime = content_type.split(";", 1)[0].strip().lower()
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if mime in _JSON_FEED_TYPES or (head == b"{" and "xml" not in mime):
        feed = _parse_json_feed(data, url)
    else:
        feed = _parse_xml_feed(data, url, content_type)
    kept = []
    for entry in feed.entries:
        if not entry.title and not entry.text.strip():
            feed.problems.append(("empty_entry", f"entry {entry.entry_id[:200]} has neither title nor text"))
        else:
            kept.append(entry)
    feed.entries = kept
    return feed


# --------------------------------------------------------------------------- entries to articles


def html_fragment_text(fragment: str) -> str:
    """Visible text of an HTML snippet (a feed summary), one block element per paragraph."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(_TAG.sub(" ", fragment)).strip()
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag.lower() != "br":
                element.text = "\n" + (element.text or "")
    lines = [" ".join(line.split()) for line in root.text_content().splitlines()]
    return "\n".join(line for line in lines if line)


def entry_articles(title: str, text: str, content_type: str, url: str = "") -> list[ParsedArticle]:
    """Articles of one feed entry: a fetched full page goes through trafilatura (the entry's title
    wins over the page's), a summary/content snippet is the body under the entry's title."""
    if content_type == "html" and _FULL_PAGE.search(text[:5000]):
        articles = extract_html(text, url=url)
        if articles and title:
            articles[0].title = title
        return articles
    body = html_fragment_text(text) if content_type == "html" else text
    if not title:
        return split_page(body)  # first line as title, like any untitled text
    if not body.strip():
        return []
    article = article_from_fields(title, body, page_format="feed")
    article.url = url
    return [article]
