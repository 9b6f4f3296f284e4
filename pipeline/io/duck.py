"""DuckDB over a newspipe output (local folder or s3://), for `newspipe inspect` and the HTML report.

`connect()` returns an in-memory DuckDB connection with these views:
  articles      one row per article: the Parquet/JSONL columns, then `dt`, `lang` (from the path),
                `run_id` (the run that wrote the file) and `_file`
  dead_letters  one row per dead letter, plus `dt` (from the path) and `_file`
  entities      articles.entities unnested: article_id, outlet, lang, dt, surface, type, canonical,
                wikidata_id, start, end, in_title
  topics        articles.topics unnested: article_id, outlet, lang, dt, code, label, score
  runs          one row per run manifest under _runs/

Files are listed with pipeline/io/storage.py (the same listing the sinks use), then read either by
DuckDB itself (local paths; s3:// when the httpfs extension is already installed) or, for s3://
without httpfs, through pyarrow into Arrow tables that DuckDB scans in place. The duckdb wheel does
not bundle httpfs and `INSTALL httpfs` downloads it at run time, which fails (or hangs) on machines
without general network access, so we only ever LOAD an extension that is already there and never
let DuckDB auto-install one.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.json as pajson

from pipeline.config import S3Settings
from pipeline.io.schema import ARTICLE_SCHEMA, STORY_SCHEMA
from pipeline.io.sinks import read_parquet_columns
from pipeline.io.storage import ObjectInfo, Storage, StorageError, is_s3, join

S3Mode = Literal["auto", "httpfs", "arrow"]
Format = Literal["table", "csv", "json"]

# The dead-letter row as pipeline/io/schema.py::dead_letter_row writes it (JSONL, timestamps as ISO).
DEAD_LETTER_SCHEMA = pa.schema(
    [
        ("stage", pa.string()), ("reason", pa.string()), ("error", pa.string()), ("source_uri", pa.string()),
        ("line", pa.int64()), ("failed_at", pa.timestamp("us", tz="UTC")), ("run_id", pa.string()),
        ("payload_type", pa.string()), ("payload_encoding", pa.string()), ("payload", pa.string()),
        ("payload_truncated", pa.bool_()),
    ]
)

# part-<run_id>-<shard>.<ext>; run ids themselves contain '-', the shard never does.
_PART_RUN_ID = r"part-(.+)-[^-/]+\.[a-z]+$"
_PART_RUN_ID_RE = re.compile(_PART_RUN_ID)
_PARTITION_RE = re.compile(r"/(dt|lang)=([^/]+)")

TABLE_CELL_WIDTH = 60  # `render(..., "table")` cuts longer cells so a body column stays readable


# ---------------------------------------------------------------------------------------------
# Type mapping (Arrow → DuckDB), so read_json gets the same column types as the Parquet files.


def duck_type(t: pa.DataType) -> str:
    """DuckDB type name for an Arrow type of the article/dead-letter schemas."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_float32(t):
        return "FLOAT"
    if pa.types.is_float64(t):
        return "DOUBLE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return duck_type(t.value_type) + "[]"
    if pa.types.is_struct(t):
        fields = ", ".join(f'"{f.name}" {duck_type(f.type)}' for f in t)
        return f"STRUCT({fields})"
    raise TypeError(f"no DuckDB type for Arrow type {t}")


def _columns_literal(schema: pa.Schema) -> str:
    """A DuckDB struct literal {'col': 'TYPE', ...} for read_json(columns=...)."""
    return "{" + ", ".join(f"'{f.name}': '{duck_type(f.type)}'" for f in schema) + "}"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_sql_str(v) for v in values) + "]"


# ---------------------------------------------------------------------------------------------
# S3 through httpfs (only when already installed on this machine).


def s3_secret_sql(settings: S3Settings, name: str = "newspipe_s3") -> str:
    """CREATE SECRET statement for DuckDB's httpfs from our S3 settings (contains the secret: never log it)."""
    endpoint = settings.endpoint
    scheme = "https"
    if "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    parts = [
        "TYPE S3",
        f"KEY_ID {_sql_str(settings.access_key)}",
        f"SECRET {_sql_str(settings.secret_key)}",
        f"REGION {_sql_str(settings.region or 'us-east-1')}",
        f"USE_SSL {'true' if scheme == 'https' else 'false'}",
    ]
    if endpoint:  # MinIO and other non-AWS endpoints: host:port, path-style bucket addressing
        parts += [f"ENDPOINT {_sql_str(endpoint.rstrip('/'))}", "URL_STYLE 'path'"]
    return f"CREATE OR REPLACE TEMPORARY SECRET {name} (" + ", ".join(parts) + ")"


def httpfs_available(con: duckdb.DuckDBPyConnection) -> bool:
    """True if httpfs loads without a download (it is not in the duckdb wheel)."""
    try:
        con.execute("LOAD httpfs")
    except duckdb.Error:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Reading through pyarrow (s3:// without httpfs; also usable on local paths).


def _partition_values(uri: str) -> dict[str, str]:
    return {k: urllib.parse.unquote(v) for k, v in _PARTITION_RE.findall(uri)}


def _run_id_of(uri: str) -> str:
    match = _PART_RUN_ID_RE.search(uri)
    return match.group(1) if match else ""


def _with_path_columns(table: pa.Table, uri: str, names: Sequence[str]) -> pa.Table:
    """Append the columns DuckDB's hive_partitioning/filename options would add."""
    values = _partition_values(uri)
    n = table.num_rows
    for name in names:
        if name == "dt":
            raw = values.get("dt")
            day = date.fromisoformat(raw) if raw and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
            table = table.append_column("dt", pa.array([day] * n, pa.date32()))
        elif name == "lang":
            table = table.append_column("lang", pa.array([values.get("lang")] * n, pa.string()))
        elif name == "run_id":
            table = table.append_column("run_id", pa.array([_run_id_of(uri)] * n, pa.string()))
        elif name == "_file":
            table = table.append_column("_file", pa.array([uri] * n, pa.string()))
    return table


def _read_jsonl_arrow(data: bytes, schema: pa.Schema) -> pa.Table:
    if not data.strip():
        return schema.empty_table()
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pajson.read_json(io.BytesIO(data), parse_options=options)


def _arrow_table(
    files: list[ObjectInfo], schema: pa.Schema, extra: Sequence[str], storage: Storage,
    settings: S3Settings | None,
) -> pa.Table:
    def read_one(info: ObjectInfo) -> pa.Table:
        if info.uri.endswith(".parquet"):
            table = read_parquet_columns(info.uri, None, settings)
        else:
            table = _read_jsonl_arrow(storage.read_bytes(info.uri), schema)
        return _with_path_columns(table, info.uri, extra)

    # Object-store reads are latency-bound: a few in flight at once.
    with ThreadPoolExecutor(max_workers=8) as pool:
        tables = list(pool.map(read_one, files))
    if not tables:
        return _empty(schema, extra)
    # Files written by older pipeline versions may lack newer columns: fill them with nulls.
    return pa.concat_tables(tables, promote_options="permissive")


def _empty(schema: pa.Schema, extra: Sequence[str]) -> pa.Table:
    types = {"dt": pa.date32(), "lang": pa.string(), "run_id": pa.string(), "_file": pa.string()}
    fields = list(schema) + [pa.field(name, types[name]) for name in extra]
    return pa.schema(fields).empty_table()


# ---------------------------------------------------------------------------------------------
# The connection.


def _native_articles_sql(files: list[ObjectInfo]) -> str:
    parquet = [f.uri for f in files if f.uri.endswith(".parquet")]
    jsonl = [f.uri for f in files if f.uri.endswith(".jsonl")]
    hive = "hive_partitioning = true, hive_types = {'dt': 'DATE', 'lang': 'VARCHAR'}, filename = true"
    selects = []
    if parquet:
        selects.append(f"SELECT * FROM read_parquet({_sql_list(parquet)}, {hive}, union_by_name = true)")
    if jsonl:
        selects.append(
            f"SELECT * FROM read_json({_sql_list(jsonl)}, format = 'newline_delimited', "
            f"columns = {_columns_literal(ARTICLE_SCHEMA)}, {hive})"
        )
    union = " UNION ALL BY NAME ".join(selects)
    return (
        "SELECT * EXCLUDE (filename, dt, lang), dt, lang, "
        f"regexp_extract(filename, '{_PART_RUN_ID}', 1) AS run_id, filename AS _file FROM ({union})"
    )


def _native_dead_letters_sql(files: list[ObjectInfo]) -> str:
    return (
        "SELECT * EXCLUDE (filename, dt), dt, filename AS _file FROM read_json("
        f"{_sql_list([f.uri for f in files])}, format = 'newline_delimited', "
        f"columns = {_columns_literal(DEAD_LETTER_SCHEMA)}, hive_partitioning = true, "
        "hive_types = {'dt': 'DATE'}, filename = true)"
    )


def load_manifests(output: str, settings: S3Settings | None = None) -> list[dict[str, Any]]:
    """Every run manifest under `<output>/_runs/`, oldest run first (run ids sort by time)."""
    storage = Storage.for_uri(output, settings)
    manifests = []
    for info in storage.list(join(output, "_runs", "*", "manifest.json")):
        manifests.append(json.loads(storage.read_bytes(info.uri).decode("utf-8")))
    return sorted(manifests, key=lambda m: str(m.get("run_id", "")))


def _runs_table(manifests: list[dict[str, Any]]) -> pa.Table:
    rows = []
    for m in manifests:
        counts = m.get("counts", {}) or {}
        timings = m.get("timings", {}) or {}
        rows.append({
            "run_id": str(m.get("run_id", "")), "mode": str(m.get("mode", "")),
            "started_at": str(m.get("started_at", "")), "finished_at": str(m.get("finished_at", "")),
            "input_files": int(counts.get("input_files", 0) or 0),
            "articles_written": int(counts.get("articles_written", 0) or 0),
            "articles_already_present": int(counts.get("articles_already_present", 0) or 0),
            "dead_letters": int(counts.get("dead_letters", 0) or 0),
            "total_seconds": float(timings.get("total_seconds", 0.0) or 0.0),
        })
    schema = pa.schema([
        ("run_id", pa.string()), ("mode", pa.string()), ("started_at", pa.string()), ("finished_at", pa.string()),
        ("input_files", pa.int64()), ("articles_written", pa.int64()), ("articles_already_present", pa.int64()),
        ("dead_letters", pa.int64()), ("total_seconds", pa.float64()),
    ])
    return pa.Table.from_pylist(rows, schema=schema)


def connect(output: str, settings: S3Settings | None = None, *, s3_mode: S3Mode = "auto") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views articles, dead_letters, entities, topics and runs.

    `s3_mode` (s3:// only): "auto" uses httpfs when it is already installed, else pyarrow; "httpfs"
    insists on httpfs; "arrow" always reads through pyarrow. Local outputs are read by DuckDB directly
    unless `s3_mode="arrow"` (which tests use to compare both readers on the same files).
    Raises StorageError when `output` holds no newspipe output at all.
    """
    output = output.rstrip("/")
    storage = Storage.for_uri(output, settings)
    article_files = [
        f for f in storage.list(join(output, "articles", "**", "part-*"))
        if f.uri.endswith((".parquet", ".jsonl"))
    ]
    dead_files = storage.list(join(output, "dead_letters", "**", "part-*.jsonl"))
    manifests = load_manifests(output, settings)
    if not article_files and not dead_files and not manifests:
        raise StorageError(f"{output}: no newspipe output here (no articles/, dead_letters/ or _runs/)")

    con = duckdb.connect(":memory:")
    # A query touching s3:// must never make DuckDB try to download httpfs behind our back.
    con.execute("SET autoinstall_known_extensions = false")
    # Timestamps are stored in UTC and partitions are UTC days: show them so, whatever the machine's zone.
    con.execute("SET TimeZone = 'UTC'")

    native = not is_s3(output) and s3_mode != "arrow"
    if is_s3(output) and s3_mode != "arrow":
        if httpfs_available(con):
            assert settings is not None  # Storage.for_uri above already insisted
            con.execute(s3_secret_sql(settings))
            native = True
        elif s3_mode == "httpfs":
            raise StorageError("DuckDB's httpfs extension is not installed here; use s3_mode='arrow'")

    extra = ("dt", "lang", "run_id", "_file")
    if native and article_files:
        con.execute("CREATE VIEW articles AS " + _native_articles_sql(article_files))
    else:
        con.register("_articles_arrow", _arrow_table(article_files, ARTICLE_SCHEMA, extra, storage, settings))
        con.execute("CREATE VIEW articles AS SELECT * FROM _articles_arrow")
    if native and dead_files:
        con.execute("CREATE VIEW dead_letters AS " + _native_dead_letters_sql(dead_files))
    else:
        con.register(
            "_dead_letters_arrow", _arrow_table(dead_files, DEAD_LETTER_SCHEMA, ("dt", "_file"), storage, settings)
        )
        con.execute("CREATE VIEW dead_letters AS SELECT * FROM _dead_letters_arrow")

    con.execute(
        """CREATE VIEW entities AS
           SELECT a.id AS article_id, a.outlet, a.lang, a.dt, e.surface, e.type, e.canonical, e.wikidata_id,
                  e.start, e."end", e.in_title
           FROM articles AS a, UNNEST(a.entities) AS u(e)"""
    )
    con.execute(
        """CREATE VIEW topics AS
           SELECT a.id AS article_id, a.outlet, a.lang, a.dt, t.code, t.label, t.score
           FROM articles AS a, UNNEST(a.topics) AS u(t)"""
    )
    con.register("_runs_arrow", _runs_table(manifests))
    con.execute("CREATE VIEW runs AS SELECT * FROM _runs_arrow")
    story_files = storage.list(join(output, "stories", "**", "part-*.parquet"))
    con.register("_story_rows_arrow", _arrow_table(story_files, STORY_SCHEMA, ("dt", "_file"), storage, settings))
    con.execute("CREATE VIEW story_rows AS SELECT * FROM _story_rows_arrow")
    con.execute(STORIES_VIEW)
    return con


# The `stories` table has a row per story and run that added to it (what that run added) and per
# merge; the view folds them into one row per story.
STORIES_VIEW = """
CREATE VIEW stories AS
WITH ents AS (
    SELECT story_id, e.name AS name, e.wikidata_id AS wikidata_id, sum(e.articles) AS articles
    FROM story_rows, UNNEST(top_entities) AS u(e) GROUP BY ALL
), top AS (
    SELECT story_id,
           list({'name': name, 'wikidata_id': wikidata_id, 'articles': articles}
                ORDER BY articles DESC, name)[1:5] AS top_entities
    FROM ents GROUP BY story_id
)
SELECT s.story_id,
       max(nullif(s.merged_into, '')) AS merged_into,
       min(s.first_published) AS first_published,
       max(s.last_published) AS last_published,
       sum(s.article_count)::BIGINT AS article_count,
       list_sort(list_distinct(flatten(list(s.outlets)))) AS outlets,
       list_sort(list_distinct(flatten(list(s.languages)))) AS languages,
       any_value(t.top_entities) AS top_entities,
       arg_min(nullif(s.title, ''), coalesce(s.first_published, s.updated_at)) AS title,
       max(s.updated_at) AS updated_at
FROM story_rows AS s LEFT JOIN top AS t USING (story_id)
GROUP BY s.story_id
"""


def restrict_to_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Narrow articles, dead_letters and runs to what run `run_id` wrote (entities/topics follow).

    The full views stay available as all_articles, all_dead_letters and all_runs. Note that a re-run
    over the same input writes no articles (they are already present), so its view is mostly empty.
    """
    for view in ("articles", "dead_letters", "runs"):
        con.execute(f"ALTER VIEW {view} RENAME TO all_{view}")
        # entities/topics name `articles`; DuckDB binds view names at query time, so they now see the run only.
        # (A view cannot hold a bound parameter, hence the quoted literal.)
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM all_{view} WHERE run_id = {_sql_str(run_id)}")


# ---------------------------------------------------------------------------------------------
# Queries and rendering.


def query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """Run `sql`; column names and all rows. DuckDB errors propagate (duckdb.Error) for the CLI to print."""
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description] if cursor.description else []
    return columns, cursor.fetchall()


def _pairs(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in con.execute(sql).fetchall()}


def summary(con: duckdb.DuckDBPyConnection, top: int = 10) -> dict[str, Any]:
    """Headline numbers of an output: counts per language/outlet/day, top entities, dead letters."""
    top_entities = [
        {"canonical": c, "wikidata_id": q, "type": t, "articles": int(a), "mentions": int(m)}
        for c, q, t, a, m in con.execute(
            """SELECT coalesce(nullif(canonical, ''), surface) AS name, coalesce(wikidata_id, '') AS qid,
                      any_value(type) AS type, count(DISTINCT article_id) AS articles, count(*) AS mentions
               FROM entities GROUP BY name, qid ORDER BY articles DESC, mentions DESC, name LIMIT ?""",
            [top],
        ).fetchall()
    ]
    return {
        "articles": int(con.execute("SELECT count(*) FROM articles").fetchone()[0]),
        "by_language": _pairs(con, "SELECT coalesce(lang, 'und'), count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"),
        "by_outlet": _pairs(
            con, "SELECT coalesce(nullif(outlet, ''), '(unknown)'), count(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
        "by_day": _pairs(con, "SELECT coalesce(CAST(dt AS VARCHAR), '?'), count(*) FROM articles GROUP BY 1 ORDER BY 1"),
        "top_entities": top_entities,
        "dead_letters": int(con.execute("SELECT count(*) FROM dead_letters").fetchone()[0]),
        "dead_letters_by_reason": _pairs(
            con, "SELECT stage || '/' || reason, count(*) FROM dead_letters GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
        "runs": int(con.execute("SELECT count(*) FROM runs").fetchone()[0]),
    }


def _plain(value: Any) -> Any:
    """A JSON-serialisable version of a DuckDB value (timestamps ISO, decimals as numbers, structs as dicts)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    plain = _plain(value)
    if isinstance(plain, (dict, list)):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


def _display_width(text: str) -> int:
    """Terminal columns: combining marks (Arabic harakat) and format marks take none, wide CJK two."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) == "Cf":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _fit(text: str, limit: int) -> str:
    text = " ".join(text.split())  # newlines and tabs would break the grid
    if _display_width(text) <= limit:
        return text
    out = ""
    for ch in text:
        if _display_width(out + ch) > limit - 1:
            break
        out += ch
    return out + "…"


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format = "table") -> str:
    """Rows as an aligned text table, CSV (RFC 4180) or a JSON array of objects; nested values as JSON."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, map(_plain, row))) for row in rows], ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell_text(v) for v in row] for row in rows)
        return buf.getvalue()
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}: use table, csv or json")
    cells = [[_fit(str(c), TABLE_CELL_WIDTH) for c in columns]]
    cells += [[_fit(_cell_text(v), TABLE_CELL_WIDTH) for v in row] for row in rows]
    widths = [max(_display_width(r[i]) for r in cells) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        return " | ".join(c + " " * (w - _display_width(c)) for c, w in zip(row, widths)).rstrip()

    out = [line(cells[0]), "-+-".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"
