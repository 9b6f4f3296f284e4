"""DuckDB views over a newspipe output: local Parquet, local JSONL, and s3:// on the real MinIO."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import Config, s3_settings
from pipeline.io import duck
from pipeline.io.schema import article_row, articles_table, json_ready
from pipeline.io.storage import Storage, StorageError
from pipeline.protos.article_pb2 import Article, Entity, Topic

RUN = "20260101T120000Z-abc123"


def _article(aid: str, outlet: str, title: str, lang: str, day: int, entities: list[tuple[str, str, str, str]],
             topics: list[tuple[str, str]], story: str = "") -> Article:
    a = Article(id=aid, outlet=outlet, title=title, body="نص " + title, language=lang, story_id=story or aid,
                source_uri=f"seeds/{aid}.txt", source_kind="file")
    a.published_at.FromDatetime(datetime(2023, 9, day, 8, 0, tzinfo=timezone.utc))
    for surface, etype, canonical, qid in entities:
        a.entities.append(Entity(surface=surface, type=etype, canonical=canonical, wikidata_id=qid, start=0, end=3))
    for code, label in topics:
        a.topics.append(Topic(code=code, label=label, score=0.75))
    return a


def sample_articles() -> list[Article]:
    egypt = ("مصر", "LOC", "Egypt", "Q79")
    riyadh = ("الرياض", "LOC", "Riyadh", "Q3692")
    un = ("الأمم المتحدة", "ORG", "United Nations", "Q1065")
    return [
        _article("a1", "asharq", "قمة في الرياض", "ar", 24, [egypt, riyadh, riyadh], [("11000000", "politics")], "s1"),
        _article("a2", "aawsat", "مصر والرياض تبحثان", "ar", 24, [egypt, riyadh], [("11000000", "politics")], "s1"),
        _article("a3", "asharq", "الأمم المتحدة تحذر", "ar", 25, [un, egypt], [("04000000", "economy, business and finance")]),
        _article("a4", "reuters", "UN <b>warns</b> & more", "en", 25, [("UN", "ORG", "United Nations", "Q1065")], []),
    ]


def write_output(storage: Storage, root: str, fmt: str = "parquet") -> None:
    """A small output in the contract layout, written through the real storage layer."""
    by_partition: dict[str, list[Article]] = {}
    for a in sample_articles():
        dt = a.published_at.ToDatetime().strftime("%Y-%m-%d")
        by_partition.setdefault(f"dt={dt}/lang={a.language}", []).append(a)
    for i, (partition, arts) in enumerate(sorted(by_partition.items())):
        uri = f"{root}/articles/{partition}/part-{RUN}-{i:08x}.{fmt}"
        if fmt == "parquet":
            buf = io.BytesIO()
            pq.write_table(articles_table(arts), buf)
            storage.write_bytes(uri, buf.getvalue())
        else:
            lines = [json.dumps(json_ready(article_row(a)), ensure_ascii=False) for a in arts]
            storage.write_bytes(uri, ("\n".join(lines) + "\n").encode("utf-8"))
    letters = [
        {"stage": "parse", "reason": "undecodable", "error": "binary", "source_uri": "seeds/x.bin", "line": 0,
         "failed_at": "2026-01-01T12:00:01Z", "run_id": RUN, "payload_type": "bytes", "payload_encoding": "base64",
         "payload": "AAE=", "payload_truncated": False},
        {"stage": "parse", "reason": "invalid_json", "error": "Expecting value", "source_uri": "in.jsonl", "line": 3,
         "failed_at": "2026-01-01T12:00:02Z", "run_id": RUN, "payload_type": "jsonl", "payload_encoding": "utf-8",
         "payload": "{oops", "payload_truncated": False},
        {"stage": "parse", "reason": "invalid_json", "error": "Expecting value", "source_uri": "in.jsonl", "line": 7,
         "failed_at": "2026-01-01T12:00:02Z", "run_id": RUN, "payload_type": "jsonl", "payload_encoding": "utf-8",
         "payload": "[", "payload_truncated": False},
    ]
    storage.write_bytes(f"{root}/dead_letters/dt=2026-01-01/part-{RUN}-0000beef.jsonl",
                        "".join(json.dumps(r) + "\n" for r in letters).encode("utf-8"))
    manifest = {"run_id": RUN, "mode": "batch", "started_at": "2026-01-01T12:00:00+00:00",
                "counts": {"input_files": 5, "articles_written": 4, "dead_letters": 3,
                           "per_stage": {"parse.in": 5, "split.out": 4}},
                "dead_letters_by_reason": {"undecodable": 1, "invalid_json": 2},
                "timings": {"pipeline_seconds": 1.5, "total_seconds": 2.25}}
    storage.write_bytes(f"{root}/_runs/{RUN}/manifest.json", json.dumps(manifest).encode("utf-8"))


def _check_summary(con) -> None:  # type: ignore[no-untyped-def]
    s = duck.summary(con)
    assert s["articles"] == 4
    assert s["by_language"] == {"ar": 3, "en": 1}
    assert s["by_outlet"] == {"asharq": 2, "aawsat": 1, "reuters": 1}
    assert s["by_day"] == {"2023-09-24": 2, "2023-09-25": 2}
    assert s["top_entities"][0] == {"canonical": "Egypt", "wikidata_id": "Q79", "type": "LOC", "articles": 3,
                                    "mentions": 3}
    riyadh = next(e for e in s["top_entities"] if e["wikidata_id"] == "Q3692")
    assert (riyadh["articles"], riyadh["mentions"]) == (2, 3)
    assert s["dead_letters"] == 3
    assert s["dead_letters_by_reason"] == {"parse/invalid_json": 2, "parse/undecodable": 1}
    assert s["runs"] == 1


def _check_views(con) -> None:  # type: ignore[no-untyped-def]
    cols, rows = duck.query(con, "select outlet, count(*) as n from articles group by 1 order by 1")
    assert cols == ["outlet", "n"]
    assert rows == [("aawsat", 1), ("asharq", 2), ("reuters", 1)]
    _, rows = duck.query(con, "select distinct run_id from articles")
    assert rows == [(RUN,)]
    _, rows = duck.query(
        con, "select article_id, surface, type, canonical, wikidata_id from entities where article_id = 'a3' order by 2"
    )
    assert rows == [("a3", "الأمم المتحدة", "ORG", "United Nations", "Q1065"), ("a3", "مصر", "LOC", "Egypt", "Q79")]
    _, rows = duck.query(con, "select label, count(*) from topics group by 1 order by 1")
    assert rows == [("economy, business and finance", 1), ("politics", 2)]
    _, rows = duck.query(con, "select typeof(published_at), typeof(dt), typeof(entities) from articles limit 1")
    assert rows[0][0] == "TIMESTAMP WITH TIME ZONE" and rows[0][1] == "DATE"
    assert rows[0][2] == ('STRUCT(surface VARCHAR, "type" VARCHAR, canonical VARCHAR, wikidata_id VARCHAR, '
                          '"start" INTEGER, "end" INTEGER, in_title BOOLEAN)[]')
    _, rows = duck.query(con, "select title from articles where lang = 'ar' and dt = DATE '2023-09-25'")
    assert rows == [("الأمم المتحدة تحذر",)]
    _, rows = duck.query(con, "select line, failed_at from dead_letters where reason = 'invalid_json' order by line")
    assert [r[0] for r in rows] == [3, 7]
    assert rows[0][1] == datetime(2026, 1, 1, 12, 0, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
@pytest.mark.parametrize("mode", ["auto", "arrow"])
def test_local_output(tmp_path: Path, fmt: str, mode: str) -> None:
    write_output(Storage.for_uri(str(tmp_path)), str(tmp_path), fmt)
    con = duck.connect(str(tmp_path), None, s3_mode=mode)  # type: ignore[arg-type]
    _check_summary(con)
    _check_views(con)


def test_both_readers_give_the_same_columns(tmp_path: Path) -> None:
    write_output(Storage.for_uri(str(tmp_path)), str(tmp_path))
    native = duck.query(duck.connect(str(tmp_path)), "describe articles")
    arrow = duck.query(duck.connect(str(tmp_path), s3_mode="arrow"), "describe articles")
    assert [r[:2] for r in native[1]] == [r[:2] for r in arrow[1]]
    assert [r[0] for r in native[1]][-4:] == ["dt", "lang", "run_id", "_file"]


def test_mixed_parquet_and_jsonl(tmp_path: Path) -> None:
    storage = Storage.for_uri(str(tmp_path))
    write_output(storage, str(tmp_path / "p"), "parquet")
    write_output(storage, str(tmp_path / "j"), "jsonl")
    (tmp_path / "j" / "articles").rename(tmp_path / "p" / "articles2")
    (tmp_path / "p" / "articles2").rename(tmp_path / "p" / "articles" / "dt=2023-09-26")  # hive dirs nest fine
    con = duck.connect(str(tmp_path / "p"))
    assert duck.query(con, "select count(*) from articles")[1] == [(8,)]


def test_empty_and_missing_output(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no newspipe output"):
        duck.connect(str(tmp_path / "nothing"))
    Storage.for_uri(str(tmp_path)).write_bytes(str(tmp_path / "_runs" / RUN / "manifest.json"), b'{"run_id": "x"}')
    con = duck.connect(str(tmp_path))
    s = duck.summary(con)
    assert (s["articles"], s["dead_letters"], s["runs"], s["top_entities"]) == (0, 0, 1, [])
    assert duck.query(con, "select count(*) from entities")[1] == [(0,)]


def test_render_formats() -> None:
    cols = ["outlet", "title", "n", "day", "ents"]
    rows = [("asharq", "قمةٌ في\nالرياض", 2, datetime(2023, 9, 24, tzinfo=timezone.utc), [{"q": "Q79"}]),
            ("a,b", 'say "hi"', None, None, [])]
    table = duck.render(cols, rows, "table")
    lines = table.splitlines()
    assert lines[0].split(" | ")[0].strip() == "outlet"
    assert "قمةٌ في الرياض" in lines[2]  # newline folded so the grid holds
    # Columns line up: the harakat (combining) in the Arabic cell take no width.
    assert lines[2].index(" | ") == lines[3].index(" | ") == lines[0].index(" | ")
    assert lines[-1] == "(2 rows)"
    parsed = list(csv.reader(io.StringIO(duck.render(cols, rows, "csv"))))
    assert parsed[0] == cols
    assert parsed[1][1] == "قمةٌ في\nالرياض" and parsed[1][4] == '[{"q": "Q79"}]'
    assert parsed[2][:3] == ["a,b", 'say "hi"', ""]
    data = json.loads(duck.render(cols, rows, "json"))
    assert data[0]["day"] == "2023-09-24T00:00:00+00:00" and data[0]["ents"] == [{"q": "Q79"}]
    assert data[1]["n"] is None
    with pytest.raises(ValueError):
        duck.render(cols, rows, "xml")  # type: ignore[arg-type]


def test_render_cuts_long_cells() -> None:
    out = duck.render(["body"], [("x" * 500,)], "table")
    assert out.splitlines()[2] == "x" * (duck.TABLE_CELL_WIDTH - 1) + "…"


def test_s3_secret_sql_quotes_and_scheme() -> None:
    from pipeline.config import S3Settings

    sql = duck.s3_secret_sql(S3Settings(endpoint="http://127.0.0.1:9000", region="", access_key="k'ey",
                                        secret_key="s3cr3t"))
    assert "KEY_ID 'k''ey'" in sql and "SECRET 's3cr3t'" in sql
    assert "ENDPOINT '127.0.0.1:9000'" in sql and "URL_STYLE 'path'" in sql and "USE_SSL false" in sql
    assert "REGION 'us-east-1'" in sql
    aws = duck.s3_secret_sql(S3Settings(endpoint="", region="eu-west-1", access_key="a", secret_key="b"))
    assert "USE_SSL true" in aws and "ENDPOINT" not in aws


def test_connect_never_downloads_extensions(tmp_path: Path) -> None:
    write_output(Storage.for_uri(str(tmp_path)), str(tmp_path))
    con = duck.connect(str(tmp_path))
    assert duck.query(con, "select current_setting('autoinstall_known_extensions')")[1] == [(False,)]


@pytest.mark.minio
def test_s3_output_on_minio(s3_bucket: str) -> None:
    settings = s3_settings(Config())
    root = f"s3://{s3_bucket}/out"
    write_output(Storage.for_uri(root, settings), root)
    con = duck.connect(root + "/", settings)
    _check_summary(con)
    _check_views(con)
    _, rows = duck.query(con, "select distinct _file from articles order by 1")
    assert all(r[0].startswith(root + "/articles/dt=") for r in rows)


@pytest.mark.minio
def test_s3_jsonl_output_on_minio(s3_bucket: str) -> None:
    settings = s3_settings(Config())
    root = f"s3://{s3_bucket}/j"
    write_output(Storage.for_uri(root, settings), root, "jsonl")
    _check_summary(duck.connect(root, settings))


@pytest.mark.minio
def test_s3_httpfs_mode_fails_clearly_when_not_installed(s3_bucket: str) -> None:
    import duckdb

    if duck.httpfs_available(duckdb.connect()):
        pytest.skip("httpfs is installed on this machine; the fallback is not exercised")
    settings = s3_settings(Config())
    root = f"s3://{s3_bucket}/h"
    write_output(Storage.for_uri(root, settings), root)
    with pytest.raises(StorageError, match="httpfs"):
        duck.connect(root, settings, s3_mode="httpfs")
