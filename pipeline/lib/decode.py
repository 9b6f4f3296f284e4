"""Bytes to text: gzip, encoding detection and content sniffing for the file source.

Pure functions; `BadInput` carries a short machine-readable reason that becomes a dead letter.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass

import charset_normalizer

# Encodings Arabic news text is realistically stored in, tried by charset-normalizer.
_CANDIDATE_ENCODINGS = ["utf_8", "cp1256", "iso8859_6", "utf_16", "utf_32", "cp1252", "latin_1"]
_TEXT_KINDS = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xhtml": "html",
               ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class BadInput(ValueError):
    """Input that cannot be processed; `reason` is a short code, str(exc) the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class DecodedFile:
    text: str
    encoding: str
    content_type: str  # text | html | jsonl


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip with a hard bound on output size (gzip bombs) and truncation detection."""
    out = bytearray()
    while data:
        dec = zlib.decompressobj(wbits=31)
        try:
            out += dec.decompress(data, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise BadInput("corrupt_gzip", f"gzip data is corrupt ({exc})") from None
        if len(out) > max_bytes:
            raise BadInput("too_large", f"decompresses to more than {max_bytes} bytes")
        if dec.unconsumed_tail:
            raise BadInput("too_large", f"decompresses to more than {max_bytes} bytes")
        if not dec.eof:
            raise BadInput("truncated_gzip", "gzip stream ends early (truncated file)")
        data = dec.unused_data  # concatenated gzip members
        if data and data[:2] != b"\x1f\x8b":
            break
    return bytes(out)


def strip_gz(name: str) -> tuple[str, bool]:
    lower = name.lower()
    if lower.endswith(".gz"):
        return name[:-3], True
    return name, False


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes to text; returns (text, encoding). Raises BadInput for binary content."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf_8_sig"
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one (ff fe 00 00).
    for bom_encoding, boms in (("utf_32", (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")),
                               ("utf_16", (b"\xff\xfe", b"\xfe\xff"))):
        if data.startswith(boms):
            try:
                return data.decode(bom_encoding), bom_encoding
            except UnicodeDecodeError:
                pass
    if b"\x00" not in data:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # control-character soup is valid UTF-8 too: let the binary check below see it
            if _control_ratio(text) <= 0.05:
                return text, "utf_8"
    else:
        guessed = _bomless_utf16_32(data)
        if guessed is not None:
            return guessed
    match = charset_normalizer.from_bytes(data, cp_isolation=_CANDIDATE_ENCODINGS).best()
    if match is None:
        raise BadInput("binary_content", "content is not text in any supported encoding")
    text = str(match)
    if _control_ratio(text) > 0.05:
        raise BadInput("binary_content", f"content looks binary (decoded as {match.encoding})")
    return text, match.encoding


# Characters news text in Arabic and its neighbours' scripts is made of (Latin, Greek, Cyrillic,
# Hebrew, Arabic with its presentation forms); random bytes read as UTF-16/32 rarely are.
_PLAIN_TEXT = re.compile(
    "[\t\n\r\x20-\x7e\u00a0-\u024f\u0370-\u077f\u08a0-\u08ff\u2000-\u206f\ufb50-\ufdff\ufe70-\ufeff]"
)


def _bomless_utf16_32(data: bytes) -> tuple[str, str] | None:
    """UTF-16/32 without a BOM (charset-normalizer misses them): the first strict decoding that
    reads as plain Arabic/Latin text, or None."""
    for encoding, width in (("utf_32_le", 4), ("utf_32_be", 4), ("utf_16_le", 2), ("utf_16_be", 2)):
        if len(data) % width:
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        sample = text[:20000]
        if len(_PLAIN_TEXT.findall(sample)) >= 0.98 * len(sample):
            return text, encoding
    return None


def _control_ratio(text: str) -> float:
    sample = text[:20000]
    if not sample:
        return 0.0
    bad = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f") or 0xFFF0 <= ord(c) <= 0xFFFF)
    return bad / len(sample)


def sniff_content_type(name: str, text: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    for ext, kind in _TEXT_KINDS.items():
        if base.endswith(ext):
            return kind
    head = text.lstrip()[:2000].lower()
    if head.startswith("<!doctype html") or "<html" in head or "<body" in head:
        return "html"
    if head.startswith("{") and head.split("\n", 1)[0].rstrip().endswith("}"):
        return "jsonl"
    return "text"


def decode_file(name: str, data: bytes, max_decompressed_bytes: int) -> DecodedFile:
    """Turn a file's bytes into text with its content type. Raises BadInput."""
    inner, gz = strip_gz(name)
    if gz or data[:2] == b"\x1f\x8b":
        data = gunzip(data, max_decompressed_bytes)
    if not data.strip():
        raise BadInput("empty", "file is empty")
    text, encoding = decode_text(data)
    if not text.strip():
        raise BadInput("empty", "file has no text")
    return DecodedFile(text=text, encoding=encoding, content_type=sniff_content_type(inner, text))


JSONL_TEXT_FIELDS = ("title", "body", "url", "published", "outlet", "language")


def parse_jsonl_record(line: str) -> dict[str, str]:
    """One JSONL article: title, body, url, published, outlet, optional language. Raises BadInput."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:  # ValueError: also ints over 4300 digits
        raise BadInput("invalid_json", f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(obj, dict):
        raise BadInput("invalid_json", f"a JSONL line must be an object, got {type(obj).__name__}")
    record: dict[str, str] = {}
    for key in JSONL_TEXT_FIELDS:
        value = obj.get(key)
        if value is None:
            record[key] = ""
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            record[key] = str(value)
            try:
                record[key].encode("utf-8")
            except UnicodeEncodeError:  # "\ud800": records and Parquet need valid UTF-8
                raise BadInput("invalid_json", f"field '{key}' holds an unpaired surrogate escape") from None
        else:
            raise BadInput("wrong_type", f"field '{key}' must be text, got {type(value).__name__}")
    if not record["body"].strip():
        raise BadInput("missing_body", "JSONL record has no 'body' text")
    return record
