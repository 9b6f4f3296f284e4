from __future__ import annotations

import gzip
import os

import pytest

from pipeline.lib.decode import BadInput, decode_file, gunzip, parse_jsonl_record

ARABIC = "أكد وزير الخارجية أنه قد يزور العاصمة الشهر المقبل في إطار متابعة المحادثات.\n" * 5


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1256", "iso8859_6"])
def test_arabic_text_in_every_supported_encoding(encoding: str) -> None:
    decoded = decode_file("page.txt", ARABIC.encode(encoding), 10**6)
    assert decoded.text == ARABIC and decoded.content_type == "text"


def test_gzip_is_transparent_and_sniffs_inner_type() -> None:
    decoded = decode_file("a.html.gz", gzip.compress(b"<html><body><p>x</p></body></html>"), 10**6)
    assert decoded.content_type == "html"


def test_truncated_gzip() -> None:
    with pytest.raises(BadInput) as exc:
        decode_file("a.txt.gz", gzip.compress(ARABIC.encode())[:-12], 10**6)
    assert exc.value.reason == "truncated_gzip"


def test_gzip_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(BadInput) as exc:
        gunzip(bomb, 1_000_000)
    assert exc.value.reason == "too_large"


def test_binary_and_empty() -> None:
    with pytest.raises(BadInput) as exc:
        decode_file("x.bin", os.urandom(4096), 10**6)
    assert exc.value.reason == "binary_content"
    with pytest.raises(BadInput) as exc:
        decode_file("x.txt", b"  \n\n ", 10**6)
    assert exc.value.reason == "empty"


def test_jsonl_records() -> None:
    rec = parse_jsonl_record('{"title": "عنوان", "body": "نص", "url": "https://x/1", "published": "2024-01-02"}')
    assert rec["title"] == "عنوان" and rec["body"] == "نص" and rec["outlet"] == ""
    for line, reason in [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"title": "t", "body": {"a": 1}}', "wrong_type"),
        ('{"title": "t"}', "missing_body"),
    ]:
        with pytest.raises(BadInput) as exc:
            parse_jsonl_record(line)
        assert exc.value.reason == reason, line
