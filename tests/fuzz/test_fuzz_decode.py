"""Fuzzing the byte-level parsers: decode_file, gunzip, parse_jsonl_record never crash, and what
they return is either the input's text or a BadInput with a known reason."""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc

import pytest
from fuzz_support import arabic_sentence, budget, hostile_text, time_limit
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.lib.decode import BadInput, decode_file, gunzip, parse_jsonl_record

MAX = 1 << 20
FILE_REASONS = {"empty", "binary_content", "corrupt_gzip", "truncated_gzip", "too_large"}
LINE_REASONS = {"invalid_json", "wrong_type", "missing_body"}
JSONL_KEYS = {"title", "body", "url", "published", "outlet", "language"}


def decode_or_reason(name: str, data: bytes, max_bytes: int = MAX):
    try:
        return decode_file(name, data, max_bytes)
    except BadInput as exc:
        assert exc.reason in FILE_REASONS, exc.reason
        assert str(exc), "a dead letter needs a detail"
        return exc.reason


# --------------------------------------------------------------------------- decode_file


@budget(300)
@given(name=st.sampled_from(["a.txt", "a.html", "a.jsonl", "a.txt.gz", "a", "A.TXT.GZ"]), data=st.binary(max_size=4000))
@example(name="a.txt", data=b"")
@example(name="a.txt", data=b"\xef\xbb\xbf")
@example(name="a.txt", data=b"\xff\xfe")
@example(name="a.txt", data=b"\xff\xfe\x00\x00")
@example(name="a.txt", data=b"\x00\x00\xfe\xff")
@example(name="a.txt.gz", data=b"\x1f\x8b")
@example(name="a.txt", data=b"\x1f\x8b\x08\x00")
@example(name="a.txt", data=b"\xef\xbb\xbf\xff\xfe\x00")
def test_decode_file_random_bytes_text_or_reason(name: str, data: bytes) -> None:
    with time_limit(10, "decode_file"):
        out = decode_or_reason(name, data)
    if not isinstance(out, str):
        assert out.text.strip(), "decoded files always carry text"
        assert out.content_type in {"text", "html", "jsonl"}
        out.text.encode("utf-8")  # no lone surrogates reach the records


UNICODE_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]


@budget(120)
@given(
    text=st.lists(st.one_of(arabic_sentence(), st.text(alphabet="abcXYZ 0123,.-\n", max_size=30)), min_size=1, max_size=8)
    .map("\n".join)
    .filter(lambda t: t.strip() and " " in t),
    encoding=st.sampled_from(UNICODE_ENCODINGS),
)
def test_unicode_encodings_with_and_without_bom_round_trip(text: str, encoding: str) -> None:
    out = decode_file("page.txt", text.encode(encoding), MAX)
    assert out.text.lstrip("\ufeff") == text


@budget(60)
@given(words=st.lists(arabic_sentence(min_words=6, end="."), min_size=3, max_size=8), encoding=st.sampled_from(["cp1256", "iso8859-6"]))
def test_legacy_arabic_encodings_round_trip(words: list[str], encoding: str) -> None:
    # iso8859-6 has no Arabic-Indic digits, harakat beyond a few, or presentation forms: keep what it can carry.
    text = "\n".join(words).encode(encoding, "ignore").decode(encoding)
    if len([c for c in text if "\u0621" <= c <= "\u064a"]) < 40:
        return
    out = decode_file("page.txt", text.encode(encoding), MAX)
    assert out.text == text, out.encoding


@pytest.mark.parametrize(
    "text",
    ["Breaking: القاهرة — Reuters reports 2024 ١٢ مليون", "Ελληνικά и русский עברית مع العربية", "x" * 10 + "مرحبا " * 50],
)
@pytest.mark.parametrize("encoding", UNICODE_ENCODINGS)
def test_mixed_scripts_round_trip(text: str, encoding: str) -> None:
    assert decode_file("mixed.txt", text.encode(encoding), MAX).text.lstrip("\ufeff") == text


def test_bom_only_and_zero_byte_files_are_empty() -> None:
    for data in (b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"   \n\t", b"\xef\xbb\xbf\r\n"):
        assert decode_or_reason("x.txt", data) == "empty", data


def test_random_binary_is_never_text_in_a_bomless_wide_encoding() -> None:
    rng = random.Random(7)
    for size in range(8, 4008, 40):
        out = decode_or_reason("x.bin", rng.randbytes(size))
        assert out == "binary_content" or not out.encoding.startswith(("utf_16_", "utf_32_")), size


# --------------------------------------------------------------------------- gunzip


@budget(200)
@given(payload=st.binary(max_size=3000), cut=st.integers(min_value=1, max_value=40))
def test_truncated_gzip_is_never_returned_as_data(payload: bytes, cut: int) -> None:
    blob = gzip.compress(payload)
    assert gunzip(blob, MAX) == payload
    with pytest.raises(BadInput) as info:
        gunzip(blob[: max(0, len(blob) - cut)] or b"\x1f\x8b", MAX)
    assert info.value.reason in {"truncated_gzip", "corrupt_gzip"}


@budget(200)
@given(members=st.lists(st.binary(max_size=500), min_size=1, max_size=6), garbage=st.binary(max_size=50))
def test_concatenated_members_and_trailing_garbage(members: list[bytes], garbage: bytes) -> None:
    blob = b"".join(gzip.compress(m) for m in members)
    assert gunzip(blob, MAX) == b"".join(members)
    try:
        out = gunzip(blob + garbage, MAX)
    except BadInput as exc:
        assert exc.reason in {"truncated_gzip", "corrupt_gzip"} and garbage[:2] == b"\x1f\x8b"
    else:  # like gzip(1): trailing bytes that are not a member are ignored, never mixed in
        assert out == b"".join(members)


@budget(200)
@given(data=st.binary(max_size=2000))
def test_gunzip_random_bytes(data: bytes) -> None:
    for blob in (data, b"\x1f\x8b" + data, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + data):
        try:
            out = gunzip(blob, MAX)
        except BadInput as exc:
            assert exc.reason in {"truncated_gzip", "corrupt_gzip", "too_large"}
        else:
            assert len(out) <= MAX


@pytest.mark.parametrize("ratio", [10, 1000])
def test_gzip_bomb_is_bounded_in_memory(ratio: int) -> None:
    limit = 256 * 1024
    bomb = gzip.compress(b"\0" * (limit * ratio), compresslevel=9)
    tracemalloc.start()
    try:
        with pytest.raises(BadInput) as info:
            gunzip(bomb, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.reason == "too_large"
    assert peak < 4 * limit + len(bomb) + (1 << 20), f"bomb decompression peaked at {peak} bytes"


def test_bomb_split_over_many_members_is_bounded() -> None:
    member = gzip.compress(b"A" * 100_000)
    with pytest.raises(BadInput) as info:
        gunzip(member * 50, 1_000_000)
    assert info.value.reason == "too_large"
    assert gunzip(member * 10, 1_000_000) == b"A" * 1_000_000  # exactly at the limit is fine


# --------------------------------------------------------------------------- parse_jsonl_record

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=50), hostile_text
)
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=20)
record_obj = st.fixed_dictionaries(
    {}, optional={k: st.one_of(json_value, arabic_sentence()) for k in ("title", "body", "url", "published", "outlet", "language")}
)


def line_result(line: str):
    try:
        record = parse_jsonl_record(line)
    except BadInput as exc:
        assert exc.reason in LINE_REASONS, exc.reason
        return exc.reason
    assert set(record) == JSONL_KEYS
    assert all(isinstance(v, str) for v in record.values())
    assert record["body"].strip()
    for value in record.values():
        value.encode("utf-8")
    return record


@budget(400)
@given(obj=st.one_of(record_obj, json_value))
def test_jsonl_records_of_any_shape(obj) -> None:  # type: ignore[no-untyped-def]
    out = line_result(json.dumps(obj, ensure_ascii=False))
    if isinstance(out, dict):
        assert isinstance(obj, dict)
        body = obj["body"]
        assert out["body"] == str(body)


@budget(300)
@given(line=st.one_of(st.text(max_size=300), hostile_text, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_jsonl_random_lines(line: str) -> None:
    line_result(line)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "invalid_json"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "invalid_json"),
        ('{"body": ' + "9" * 5000 + "}", "invalid_json"),  # int over Python's 4300-digit str limit
        ('{"body": "x", "title": -' + "1" * 4301 + "}", "invalid_json"),
        ('{"body": "a\\ud800b"}', "invalid_json"),  # unpaired surrogate: not storable as UTF-8
        ('{"body": "ok", "url": "\\udfff"}', "invalid_json"),
        ('{"body": ["x"]}', "wrong_type"),
        ('{"body": {"$ref": "x"}}', "wrong_type"),
        ('{"body": true}', "wrong_type"),
        ('{"body": "x", "language": ["ar"]}', "wrong_type"),
        ('{"body": "   "}', "missing_body"),
        ('{"title": "only a title"}', "missing_body"),
        ("[]", "invalid_json"),
        ('"body"', "invalid_json"),
        ("", "invalid_json"),
        ("\x00", "invalid_json"),
    ],
)
def test_jsonl_hostile_lines(line: str, reason: str) -> None:
    with time_limit(5, "parse_jsonl_record"):
        assert line_result(line) == reason


def test_jsonl_huge_and_odd_valid_fields_are_kept() -> None:
    big = "ع" * 5_000_000
    assert line_result(json.dumps({"body": big, "title": big}))["body"] == big
    assert line_result('{"body": 1e999}')["body"] == "inf"
    assert line_result('{"body": NaN}')["body"] == "nan"
    assert line_result('{"body": "\\ud83d\\ude00 ok"}')["body"] == "\U0001f600 ok"  # a valid pair
    assert line_result('{"body": "x", "body": "y"}')["body"] == "y"
    record = line_result(json.dumps({"body": "b", "language": "../../etc", "outlet": "a\x00b"}))
    assert record["language"] == "../../etc" and record["outlet"] == "a\x00b"


@budget(100)
@given(data=st.binary(min_size=20, max_size=3000).map(lambda b: bytes(1 + c % 31 for c in b)))
def test_nul_free_control_soup_is_binary(data: bytes) -> None:
    # valid UTF-8 made of control characters used to pass as text and become a garbage article
    if sum(c not in b"\t\n\r\x0c" for c in data) > 0.06 * len(data):
        assert decode_or_reason("soup.txt", data) == "binary_content"
