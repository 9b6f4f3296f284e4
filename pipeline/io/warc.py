"""Web archives as input: WARC 1.0/1.1 files, plain or gzip-per-record, read as record ranges.

Framing (where a record starts and ends) is done here, over the byte ranges of pipeline/io/ranges.py:
a `.warc.gz` is a sequence of gzip members, a `.warc` a sequence of `WARC/1.x` header blocks with
their Content-Length. Doing the framing ourselves is what lets one bad record (a truncated member, a
gzip error, a malformed header) become one dead letter while the rest of the file is still read:
the reader skips forward to the next record start, the same sync a range uses to find its first
record. Each record's headers and HTTP payload are parsed by FastWARC (chunked and
content-encoded payloads decoded). Only `response` records become pages; every record is counted
by type, and pages the filters drop (pipeline/lib/crawl.py) are counted by reason.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from datetime import timezone
from typing import Iterator

from pipeline.config import WarcConfig
from pipeline.io.ranges import ByteWindow
from pipeline.lib.crawl import (
    LanguagePrefilter,
    UrlFilter,
    decode_page,
    host_of,
    looks_like_html,
    mime_reason,
    outlet_from_host,
    page_sample,
    status_reason,
    text_outside_links,
)
from pipeline.lib.decode import BadInput
from pipeline.protos.article_pb2 import RawDocument

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/1."
MAX_HEADER_BYTES = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*(?:\r\n|$)", re.I)
_WARC_TYPE = re.compile(rb"\r\nwarc-type:", re.I)


def is_warc(uri: str) -> bool:
    return uri.lower().endswith((".warc", ".warc.gz"))


def is_gzipped(uri: str) -> bool:
    return uri.lower().endswith(".gz")


@dataclass(frozen=True)
class Page:
    """A response record that passed the filters, ready for the parse stage."""

    doc: RawDocument


@dataclass(frozen=True)
class Skipped:
    """Something counted and not emitted: `counter` is e.g. `records.request` or `filtered.mime`."""

    counter: str


@dataclass(frozen=True)
class BadRecord:
    """A record (or a stretch of bytes) that cannot be read: one dead letter."""

    stage: str  # "warc" for one record; "read" when the file holds no readable record at all
    reason: str
    detail: str
    offset: int
    payload: bytes


class _FrameError(Exception):
    def __init__(self, reason: str, detail: str, at_eof: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.at_eof = at_eof  # nothing can follow: the file ended inside the record


# --------------------------------------------------------------------------- framing


def _gunzip_member(window: ByteWindow, pos: int, max_bytes: int) -> tuple[bytes, int]:
    """Decompress the gzip member at `pos`; returns (data, offset of the next member)."""
    dec = zlib.decompressobj(wbits=31)
    parts: list[bytes] = []
    size, at, step = 0, pos, 16384
    while True:
        chunk = window.get(at, at + step)
        if not chunk:
            raise _FrameError("truncated_record", "the file ends inside this gzip member (truncated record)", True)
        try:
            data = dec.decompress(chunk, max_bytes + 1 - size)
        except zlib.error as exc:
            raise _FrameError("corrupt_gzip", f"gzip member is corrupt ({exc})") from None
        size += len(data)
        parts.append(data)
        if size > max_bytes or dec.unconsumed_tail:
            raise _FrameError("too_large", f"record decompresses to more than warc.max_record_bytes={max_bytes}")
        if dec.eof:
            return b"".join(parts), at + len(chunk) - len(dec.unused_data)
        at += len(chunk)
        step = min(step * 2, 1 << 20)


def _plain_record(window: ByteWindow, pos: int, max_bytes: int) -> tuple[bytes, int]:
    """The uncompressed record at `pos` (header block, Content-Length bytes, CRLF CRLF)."""
    head = window.get(pos, pos + len(WARC_MAGIC))
    if head != WARC_MAGIC:
        if len(head) < len(WARC_MAGIC) and window.eof:
            raise _FrameError("truncated_record", "the file ends inside a record header", True)
        raise _FrameError("bad_record", "no WARC/1.x header where a record should start")
    header_end = window.find(b"\r\n\r\n", pos, pos + MAX_HEADER_BYTES)
    if header_end < 0:
        if window.eof and window.end < pos + MAX_HEADER_BYTES:
            raise _FrameError("truncated_record", "the file ends inside a record header", True)
        raise _FrameError("bad_record", f"record header longer than {MAX_HEADER_BYTES} bytes")
    header = window.get(pos, header_end + 2)
    match = _CONTENT_LENGTH.search(header)
    if match is None or not _WARC_TYPE.search(header):
        raise _FrameError("bad_record", "record header has no WARC-Type or Content-Length")
    length = int(match.group(1))
    if length > max_bytes:
        raise _FrameError("too_large", f"record of {length} bytes is over warc.max_record_bytes={max_bytes}")
    stop = header_end + 4 + length
    record = window.get(pos, stop + 4)
    if len(record) < stop - pos:
        raise _FrameError("truncated_record", f"the file ends {stop - pos - len(record)} bytes into the "
                                              "record's declared Content-Length (truncated record)", True)
    trailer = record[stop - pos:]
    if trailer != b"\r\n\r\n":
        if window.eof and len(trailer) < 4 and b"\r\n\r\n".startswith(trailer):
            return record, pos + len(record)  # the last record of a file may lack its closing CRLFs
        raise _FrameError("bad_record", "record does not end after its Content-Length (wrong length)")
    return record, stop + 4


def next_record_start(window: ByteWindow, pos: int, gz: bool, max_bytes: int) -> int:
    """Offset of the first record start at or after `pos`, or -1: a gzip member that decompresses
    to `WARC/`, or (plain) a `WARC/1.x` header after a record end whose record frames cleanly."""
    magic = GZIP_MAGIC if gz else WARC_MAGIC
    at = pos
    while True:
        window.release(at - 4)  # a long stretch of garbage is scanned in bounded memory
        found = window.find(magic, at)
        if found < 0:
            return -1
        if gz:
            dec = zlib.decompressobj(wbits=31)
            try:
                head = dec.decompress(window.get(found, found + 4096), 16)
            except zlib.error:
                head = b""
            if head.startswith(b"WARC/"):
                return found
        elif found == 0 or (found >= window.base + 4 and window.get(found - 4, found) == b"\r\n\r\n"):
            try:
                _plain_record(window, found, max_bytes)
                return found
            except _FrameError as exc:
                if exc.at_eof:  # a truncated last record still starts here
                    return found
        at = found + 1


def frames(window: ByteWindow, start: int, end: int, gz: bool, max_bytes: int) -> Iterator[tuple[int, bytes] | BadRecord]:
    """(offset, record bytes) of every record starting in [start, end), and a BadRecord for every
    stretch that cannot be framed (the reader then resumes at the next record start)."""
    pos = 0 if start == 0 else next_record_start(window, start, gz, max_bytes)
    if start == 0 and window.at_end(0):
        yield BadRecord("read", "empty", "file is empty", 0, b"")
        return
    while 0 <= pos < end and not window.at_end(pos):
        try:
            data, after = (_gunzip_member if gz else _plain_record)(window, pos, max_bytes)
            if not data.startswith(b"WARC/"):
                raise _FrameError("bad_record", "gzip member does not hold a WARC record")
        except _FrameError as exc:
            payload = window.get(pos, min(window.end, pos + (1 << 20)))  # before the scan releases it
            resume = -1 if exc.at_eof else next_record_start(window, pos + 1, gz, max_bytes)
            if resume >= 0:
                payload = payload[:resume - pos]
            if pos == 0 and resume < 0 and not exc.at_eof:
                kind = "gzip-compressed " if gz else ""
                yield BadRecord("read", "not_warc", f"no readable {kind}WARC record in the file ({exc})", 0, payload)
            else:
                yield BadRecord("warc", exc.reason, f"{exc} (record at byte {pos})", pos, payload)
            pos = resume
            continue
        yield pos, data
        pos = after
        window.release(pos)


# --------------------------------------------------------------------------- records → pages


class WarcPages:
    """Turns framed records into Page / Skipped / BadRecord items, with the config's filters."""

    def __init__(self, uri: str, cfg: WarcConfig, prefilter: LanguagePrefilter | None) -> None:
        self.uri = uri
        self.cfg = cfg
        self.urls = UrlFilter(cfg.allow_hosts, cfg.deny_hosts, cfg.url_allow, cfg.url_deny)
        self.mime_types = tuple(m.lower() for m in cfg.mime_types)
        self.prefilter = prefilter

    def read(self, window: ByteWindow, start: int, end: int) -> Iterator[Page | Skipped | BadRecord]:
        gz = is_gzipped(self.uri)
        for item in frames(window, start, end, gz, self.cfg.max_record_bytes):
            if isinstance(item, BadRecord):
                yield item
                continue
            offset, data = item
            yield from self.records(offset, data)

    def records(self, offset: int, data: bytes) -> Iterator[Page | Skipped | BadRecord]:
        from fastwarc.warc import ArchiveIterator

        seen = 0
        try:
            for record in ArchiveIterator(io.BytesIO(data), parse_http=False):
                seen += 1
                yield from self._record(offset, record, data)
        except OSError as exc:  # FastWARC's error for a record (or HTTP head) it cannot parse
            yield BadRecord("warc", "bad_record", f"{exc} (record at byte {offset})", offset, data)
            return
        except (ImportError, MemoryError):  # the environment's fault: fail the run
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure on this record's content
            yield BadRecord("warc", "error", f"{type(exc).__name__}: {exc} (record at byte {offset})", offset, data)
            return
        if not seen:
            yield BadRecord("warc", "bad_record", f"not a WARC record (record at byte {offset})", offset, data)

    def _record(self, offset: int, record, data: bytes) -> Iterator[Page | Skipped | BadRecord]:  # type: ignore[no-untyped-def]
        kind = str(record.record_type)
        yield Skipped(f"records.{kind}")
        if kind != "response":
            return
        url = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")
        reason = self.urls.reason(url)
        if reason:
            yield Skipped(f"filtered.{reason}")
            return
        record.parse_http(auto_decode="all")
        if not record.is_http:
            yield Skipped("filtered.not_http")
            return
        reason = status_reason(record.http_headers.status_code)
        if reason:
            yield Skipped(f"filtered.{reason}")
            return
        content_type = record.http_headers.get("Content-Type")
        body = record.reader.read()
        reason = mime_reason(content_type, body, self.mime_types)
        if reason:
            yield Skipped(f"filtered.{reason}")
            return
        if not looks_like_html(body):
            detail = "empty body" if not body.strip() else "body has no HTML markup"
            yield BadRecord("warc", "not_html", f"{detail} though served as {content_type!r} (record at byte {offset})",
                            offset, data)
            return
        try:
            text, encoding = decode_page(body, content_type)
        except BadInput as exc:
            yield BadRecord("warc", exc.reason, f"{exc} (record at byte {offset})", offset, data)
            return
        if self.cfg.min_text_chars and text_outside_links(text) < self.cfg.min_text_chars:
            yield Skipped("filtered.little_text")
            return
        if self.prefilter is not None and not self.prefilter.keeps(page_sample(text)):
            yield Skipped("filtered.language")
            return
        doc = RawDocument(
            source_uri=self.uri, source_kind="file", content_type="html", text=text, encoding=encoding,
            url=url, outlet=outlet_from_host(host_of(url)), warc_file=self.uri, warc_offset=offset,
        )
        fetched = record.record_date
        if fetched is not None:
            doc.fetched_at.FromDatetime(fetched.astimezone(timezone.utc).replace(tzinfo=None))
        yield Skipped("pages")
        yield Page(doc)
