"""Pure decisions about web-archive (WARC) responses before any parsing: which pages to keep, how to
decode their bytes, and a cheap language check on the page head.

A page a filter drops (host, URL, HTTP status, MIME type, language) is counted by reason, never a
dead letter: a crawl is full of pages nobody asked for. A page that passes the filters but whose body
contradicts its headers (binary bytes served as text/html) is the record's fault: `BadInput`.
"""

from __future__ import annotations

import codecs
import fnmatch
import html as htmllib
import re
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from pipeline.lib.decode import BadInput, decode_text

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_MIME_TYPES = ("text/html", "application/xhtml+xml")

# Filter reasons, as they appear in the counters (`warc.filtered.<reason>`) and the manifest.
FILTER_REASONS = ("redirect", "status", "not_http", "host", "url", "mime", "little_text", "language")


# --------------------------------------------------------------------------- host and URL


def host_of(url: str) -> str:
    """Lower-case host of a URL without port, '' when there is none."""
    try:
        return (urllib.parse.urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:  # "http://[::1" and friends
        return ""


def outlet_from_host(host: str) -> str:
    """The outlet name a page gets when its HTML names no site: the host without `www.`."""
    return host[4:] if host.startswith("www.") else host


def _host_matches(host: str, pattern: str) -> bool:
    """`example.com` matches the host and its subdomains; patterns with `*`/`?` are globs."""
    pattern = pattern.strip().lower().rstrip(".")
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(host, pattern)
    return host == pattern or host.endswith("." + pattern)


@dataclass(frozen=True)
class UrlFilter:
    """Host allow/deny lists and URL regex allow/deny lists; a deny match wins over an allow match,
    an empty allow list allows everything."""

    allow_hosts: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    url_allow: tuple[str, ...] = ()
    url_deny: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allow_re", [re.compile(p) for p in self.url_allow])
        object.__setattr__(self, "_deny_re", [re.compile(p) for p in self.url_deny])

    def reason(self, url: str) -> str | None:
        """'host' or 'url' when the filters drop this URL, else None."""
        host = host_of(url)
        if any(_host_matches(host, p) for p in self.deny_hosts):
            return "host"
        if self.allow_hosts and not any(_host_matches(host, p) for p in self.allow_hosts):
            return "host"
        if any(r.search(url) for r in self._deny_re):  # type: ignore[attr-defined]
            return "url"
        if self.url_allow and not any(r.search(url) for r in self._allow_re):  # type: ignore[attr-defined]
            return "url"
        return None


# --------------------------------------------------------------------------- HTTP status and MIME


def status_reason(status: int | None) -> str | None:
    """None for 200; 'redirect' for 3xx redirects; 'status' for anything else (404, 500, 206, ...)."""
    if status == 200:
        return None
    return "redirect" if status in REDIRECT_STATUSES else "status"


def mime_of(content_type: str | None) -> str:
    """`text/html; charset=utf-8` → `text/html`; '' when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def charset_of(content_type: str | None) -> str:
    """The charset parameter of a Content-Type header, '' when absent."""
    match = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.I)
    return match.group(1) if match else ""


_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title|div|p|article)\b",
                         re.I | re.S)


def looks_like_html(body: bytes) -> bool:
    """A cheap sniff of the first bytes: markup of an HTML document (after an optional BOM)."""
    head = body[:4096].removeprefix(b"\xef\xbb\xbf")
    if _HTML_START.match(head):
        return True
    lower = head.lower()
    return b"<html" in lower or b"<body" in lower


def mime_reason(content_type: str | None, body: bytes, allowed: tuple[str, ...]) -> str | None:
    """'mime' when the declared type is not one we parse. A missing type is judged by the body."""
    mime = mime_of(content_type)
    if not mime:
        return None if looks_like_html(body) else "mime"
    return None if mime in allowed else "mime"


# --------------------------------------------------------------------------- charset


_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None


def declared_charsets(content_type: str | None, body: bytes) -> list[str]:
    """Charsets the response declares, in trust order: the HTTP header, then the HTML meta tag."""
    found = []
    for name in (charset_of(content_type), *(m.decode("ascii", "ignore") for m in _META_CHARSET.findall(body[:8192]))):
        codec = _codec(name) if name else None
        if codec and codec not in found:
            found.append(codec)
    return found


def _has_multibyte_utf8(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_page(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Text and codec of an HTML body: the HTTP charset, then the meta tag, then detection.

    A declared charset is used only when the bytes decode strictly with it, and bytes that are valid
    UTF-8 with non-ASCII characters are UTF-8 whatever a single-byte charset claims (Arabic text in
    windows-1256 is practically never valid UTF-8, and the reverse mislabel is common). Raises
    BadInput('not_html') when the body is binary.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace"), "utf_8_sig"
    multibyte_utf8 = _has_multibyte_utf8(body)
    for codec in declared_charsets(content_type, body):
        if multibyte_utf8 and codec not in ("utf-8", "utf-16", "utf-32"):
            return body.decode("utf-8"), "utf-8"
        try:
            return body.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        return decode_text(body)
    except BadInput as exc:
        raise BadInput("not_html", f"body declared as HTML is not text ({exc})") from None


# --------------------------------------------------------------------------- language prefilter


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_BODY = re.compile(r"<body\b", re.I)
_INVISIBLE = re.compile(r"<(script|style|noscript|template|svg)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
PREFILTER_TEXT_CHARS = 1024
_SCAN_CHARS = 65536  # how much of the body the sample looks at: enough for the first KB of text


def page_sample(html: str, text_chars: int = PREFILTER_TEXT_CHARS) -> str:
    """The `<title>` and the first `text_chars` characters of visible body text, by regex (no parser)."""
    title_match = _TITLE.search(html, 0, _SCAN_CHARS)
    title = _SPACE.sub(" ", htmllib.unescape(_TAG.sub(" ", title_match.group(1)))).strip() if title_match else ""
    body_match = _BODY.search(html)
    start = body_match.start() if body_match else 0
    chunk = _INVISIBLE.sub(" ", html[start:start + _SCAN_CHARS])
    text = _SPACE.sub(" ", htmllib.unescape(_TAG.sub(" ", chunk))).strip()[:text_chars]
    return f"{title}\n{text}" if title else text


_LINK = re.compile(r"<a\b[^>]*>.*?</a\s*>", re.I | re.S)
_TEXT_SCAN_CHARS = 262144


def text_outside_links(html: str) -> int:
    """Characters of visible body text that is not link text (first 256 KB of the body): what an
    article page has plenty of and a section index, tag page or login wall has next to none of."""
    body_match = _BODY.search(html)
    start = body_match.start() if body_match else 0
    chunk = _LINK.sub(" ", _INVISIBLE.sub(" ", html[start:start + _TEXT_SCAN_CHARS]))
    return len(_SPACE.sub("", htmllib.unescape(_TAG.sub(" ", chunk))))


# Arabic-script letters (Arabic, Supplement, Extended-A, presentation forms) and other scripts' letters.
_ARABIC_SCRIPT = re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefc]")
_OTHER_LETTERS = re.compile(r"[^\W\d_\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


@dataclass(frozen=True)
class LanguagePrefilter:
    """Keeps a page when its sample is in one of `languages` or too short to tell.

    `detect` is pipeline.lib.language's `LanguageDetector.detect` (text → guess with `.code`). When
    every wanted language is written in Arabic script, a sample with no Arabic-script letters is
    dropped without calling it: that is most of a mixed crawl, and it costs a regex.
    """

    languages: tuple[str, ...]
    detect: Callable[[str], object]
    arabic_script_codes: tuple[str, ...] = ()

    def keeps(self, sample: str) -> bool:
        if not self.languages:
            return True
        arabic = len(_ARABIC_SCRIPT.findall(sample))
        if self.arabic_script_codes and all(code in self.arabic_script_codes for code in self.languages):
            other = len(_OTHER_LETTERS.findall(sample))
            if arabic == 0 and other >= 20:
                return False
        code = getattr(self.detect(sample), "code", "und")
        return code == "und" or code in self.languages
