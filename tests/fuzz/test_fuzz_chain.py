"""Hostile files through the whole chain: file source (raw_documents) + every stage (LocalPipeline),
then one real Beam run over the nastiest of them.

For every file: no exception escapes, every bad record is a dead letter with a stage and reason,
no record vanishes, time per record and memory are bounded, and every article's partition is
`dt=YYYY-MM-DD/lang=<code>`. Big files are generated here; small ones that once crashed live in
tests/fixtures/fuzz/ with their expected outcome in EXPECTED.json.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import re
import resource
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fuzz_support import LONG, budget, hostile_text, page_line, run_file
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import load_config
from pipeline.io.sinks import article_partition, read_articles, read_dead_letters
from pipeline.local import LocalPipeline

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "fuzz"
SENTENCE = "قال وزير الخارجية المصري إن القاهرة تدعم الحل السلمي في المنطقة. "
BODY = SENTENCE + "وأضاف أن الحكومة ستواصل الإصلاحات الاقتصادية خلال العام المقبل."


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    return load_config()


@pytest.fixture(scope="module")
def chain(cfg) -> LocalPipeline:  # type: ignore[no-untyped-def]
    return LocalPipeline(cfg, ingested_at=datetime(2025, 1, 1, tzinfo=timezone.utc))


def jsonl(*records: object) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records).encode()


# --------------------------------------------------------------------------- generated big / nasty files

MB = 1 << 20


def big_files() -> dict[str, tuple[bytes, dict[str, int], int]]:
    """name -> (bytes, expected dead letters by 'stage.reason', expected article count)."""
    rng = random.Random(11)
    return {
        "random.bin": (rng.randbytes(16 * 1024), {"read.binary_content": 1}, 0),
        "one_line_10mb.txt": (("كلمة " * (2 * MB)).encode(), {"parse.no_article": 1}, 0),  # a title, no body
        "title_100k.txt": (("ع" * 100_000 + "\n\n" + BODY).encode(), {"clean.title_too_long": 1}, 0),
        "title_100k_words.txt": (("خبر " * 25_000 + "\n" + BODY).encode(), {"clean.title_too_long": 1}, 0),
        "body_3mb.txt": (("عنوان\n" + (BODY + "\n") * 24_000).encode(), {"clean.body_too_long": 1}, 0),
        # entity-dense body just under the limits: tag_entities was quadratic here
        # (NEWSPIPE_FUZZ_LONG: 1.9 MB, the size that took 205 s)
        "dense_entities.txt": (("عنوان الخبر\n" + SENTENCE * (2000 if not LONG else 29_000)).encode(), {}, 1),
        "huge_fields.jsonl": (
            jsonl(
                {"title": "ع" * 100_000, "body": BODY},
                {"title": "عنوان", "body": BODY * 40_000},
                {"title": "عنوان سليم", "body": BODY, "url": "u" * 1_000_000, "outlet": "o" * 100_000},
                {"title": ["x"], "body": BODY}, {"body": {"nested": [1, 2]}}, {"body": 3.5e300, "title": "رقم"},
                '{"body": ' + "9" * 10_000 + "}", "[" * 100_000 + "]" * 100_000, '{"body":"\\udc00"}',
            ),
            {"clean.title_too_long": 1, "clean.body_too_long": 1, "decode.wrong_type": 2, "decode.invalid_json": 3},
            2,
        ),
        "paths.jsonl": (
            jsonl(*[
                {"title": f"عنوان {i}", "body": f"{BODY} {i}", "language": v, "outlet": v, "url": v, "published": v}
                for i, v in enumerate(["../../etc", "/", "a\x00b", "x" * 300, "ar\n", "..", "%2e%2e%2f", "ar/../../b"])
            ]),
            {},
            8,
        ),
        "bomb.txt.gz": (gzip.compress(b"\0" * (24 * MB), 9), {"read.too_large": 1}, 0),
        "bomb_members.txt.gz": (gzip.compress(b"A" * (MB // 2), 9) * 40, {"read.too_large": 1}, 0),
        "zero.txt": (b"", {"read.empty": 1}, 0),
        "bom.txt": (b"\xef\xbb\xbf", {"read.empty": 1}, 0),
        "bom16.txt": (b"\xfe\xff", {"read.empty": 1}, 0),
        "html_nested.html": (("<html><body>" + "<div>" * 10_000 + BODY + "</div>" * 10_000 + "</body></html>").encode(), {"parse.no_article": 1}, 0),
        "html_attr.html": (("<html><body><h1>عنوان</h1><p data-x='" + "a" * (2 * MB) + "'>" + BODY + "</p><p>" + BODY + "</p></body></html>").encode(), {}, 1),
    }


@pytest.fixture(scope="module")
def small_decompress_cfg(cfg):  # type: ignore[no-untyped-def]
    # Bombs are judged against a small bound so the test stays fast; the logic is the same at 200 MiB.
    return dataclasses.replace(cfg, input=dataclasses.replace(cfg.input, max_decompressed_bytes=16 * MB))


@pytest.mark.parametrize("name", list(big_files()))
def test_big_and_nasty_files_through_the_chain(chain, small_decompress_cfg, name: str) -> None:
    data, expected_dead, expected_articles = big_files()[name]
    # tracemalloc slows the NER/gazetteer path several-fold; those files get the coarser RSS check.
    traced = name not in {"dense_entities.txt", "body_3mb.txt", "html_nested.html"}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if traced:
        tracemalloc.start()
    try:
        result = run_file(chain, small_decompress_cfg, name, data, per_record_seconds=60)
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        tracemalloc.stop()
    assert result.reasons == expected_dead
    assert len(result.articles) == expected_articles
    # Memory: a bounded multiple of what was read (or of the decompression bound for .gz).
    bound = 40 * max(len(data), 16 * MB if name.endswith(".gz") else 0) + 64 * MB
    assert peak < bound, f"{name}: traced peak {peak / MB:.0f} MiB for {len(data) / MB:.1f} MiB in"
    # RSS also holds the CRF's per-token features: ~130x the text on a 1.9 MB entity-dense body.
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    assert rss_growth < 200 * len(data) + 128 * MB, f"{name}: max RSS grew {rss_growth / MB:.0f} MiB"
    assert result.max_record_seconds < (60 if LONG else 20), f"{name}: {result.max_record_seconds:.1f} s for one record"
    if name == "paths.jsonl":
        assert {article_partition(a) for a in result.articles} == {"dt=2024-05-06/lang=ar"}
        assert {a.language for a in result.articles} == {"ar"}  # detected, the hint was not a code


# --------------------------------------------------------------------------- hypothesis over whole files

file_bytes = st.one_of(
    st.binary(max_size=3000),
    st.lists(page_line, max_size=40).map("\n".join).map(str.encode),
    st.tuples(st.lists(page_line, max_size=20).map("\n".join), st.sampled_from(["utf-8", "utf-16", "utf-32", "cp1256", "utf-16-be"])).map(
        lambda t: t[0].encode(t[1], "replace")
    ),
    st.lists(
        st.one_of(
            st.fixed_dictionaries({}, optional={k: st.one_of(hostile_text, st.integers(), st.none(), st.lists(st.integers(), max_size=2))
                                                for k in ("title", "body", "url", "published", "outlet", "language")}).map(
                lambda d: json.dumps(d, ensure_ascii=False)
            ),
            hostile_text,
        ),
        max_size=10,
    ).map("\n".join).map(str.encode),
)


@budget(40)
@given(name=st.sampled_from(["f.txt", "f.jsonl", "f.html", "f", "f.txt.gz"]), data=file_bytes, gz=st.booleans())
def test_random_files_through_the_chain(chain, cfg, name: str, data: bytes, gz: bool) -> None:  # type: ignore[no-untyped-def]
    if gz:
        data = gzip.compress(data)
    run_file(chain, cfg, name, data, per_record_seconds=30)


# --------------------------------------------------------------------------- regression corpus


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.suffix != ".py" and p.name != "EXPECTED.json")


def test_regression_corpus_is_small_and_complete() -> None:
    expected = json.loads((CORPUS / "EXPECTED.json").read_text(encoding="utf-8"))
    assert {p.name for p in corpus_files()} == set(expected)
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < MB


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_regression_corpus_replays(chain, cfg, path: Path) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads((CORPUS / "EXPECTED.json").read_text(encoding="utf-8"))[path.name]
    result = run_file(chain, cfg, path.name, path.read_bytes(), per_record_seconds=30)
    assert {"articles": len(result.articles), "dead_letters": result.reasons} == expected
    titles = {a.title for a in result.articles}
    if path.name == "bigint.jsonl":
        assert titles == {"خبر سليم أول", "خبر سليم ثان"}  # the good lines around the bad ones survive
    if path.name == "date_extremes.jsonl":
        dates = {a.title: article_partition(a) for a in result.articles}
        assert dates["تاريخ 4"] == "dt=2024-09-12/lang=ar"
        assert {dates[f"تاريخ {i}"] for i in range(4)} == {"dt=2024-05-06/lang=ar"}  # source date
    if path.name.endswith(("nobom.txt", "32_bom.txt")):
        assert len(titles) == 1 and titles.pop().startswith("عنوان خبر تجريبي عن ")


# --------------------------------------------------------------------------- one real Beam run


def test_beam_run_over_the_nastiest_files(tmp_path: Path) -> None:
    from pipeline.run import run_batch

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    files = big_files()
    for name in ("random.bin", "title_100k.txt", "huge_fields.jsonl", "paths.jsonl", "bomb_members.txt.gz", "zero.txt", "html_nested.html"):
        (src / name).write_bytes(files[name][0])
    for name in ("bigint.jsonl", "surrogate.jsonl", "date_extremes.jsonl", "utf32_bom.txt", "control_soup.txt", "truncated.txt.gz"):
        (src / name).write_bytes((CORPUS / name).read_bytes())
    cfg = load_config()
    cfg = dataclasses.replace(cfg, input=dataclasses.replace(cfg.input, max_decompressed_bytes=16 * MB))
    before = set(os.listdir(tmp_path))

    summary = run_batch([str(src)], str(out), cfg)

    assert set(os.listdir(tmp_path)) == before | {"out"}
    assert summary.articles == 2 + 8 + 2 + 2 + 5 + 1
    assert summary.dead_letters_by_reason == {
        "read.binary_content": 2, "read.empty": 1, "read.too_large": 1, "read.truncated_gzip": 1,
        "clean.title_too_long": 2, "clean.body_too_long": 1, "parse.no_article": 1,
        "decode.invalid_json": 7, "decode.wrong_type": 2,
    }
    letters = read_dead_letters(str(out))
    assert len(letters) == summary.dead_letters and all(d["stage"] and d["reason"] for d in letters)
    rows = read_articles(str(out))
    assert len(rows) == summary.articles
    root = out.resolve()
    for dirpath, _, names in os.walk(out):
        for name in names:
            path = (Path(dirpath) / name).resolve()
            assert path.is_relative_to(root), path
            rel = path.relative_to(root).as_posix()
            # The output contract: rows, dead letters, the stories table, run manifests, story state.
            assert rel.startswith(("articles/dt=", "dead_letters/dt=", "stories/dt=", "_runs/", "_state/stories/")), rel
            if rel.startswith("stories/"):
                assert re.fullmatch(r"stories/dt=\d{4}-\d\d-\d\d/part-[^/]+\.parquet", rel), rel
            if rel.startswith("articles/"):
                assert re.fullmatch(r"articles/dt=\d{4}-\d\d-\d\d/lang=[a-z]{2,3}/part-[^/]+\.parquet", rel), rel
