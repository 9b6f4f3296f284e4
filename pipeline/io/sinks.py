"""Sinks: partitioned Parquet/JSONL for articles, JSONL for dead letters, the run manifest.

Layout (the output contract, see README):
  <output>/articles/dt=YYYY-MM-DD/lang=<code>/part-<run_id>-<shard>.parquet|.jsonl
  <output>/dead_letters/dt=YYYY-MM-DD/part-<run_id>-<shard>.jsonl
  <output>/_runs/<run_id>/manifest.json
Each file is written whole and atomically (pipeline/io/storage.py). Before writing, rows whose id
already sits in the same partition from an earlier run are left out, so running the same input to
the same output again leaves the same rows: ids are stable and an article's partition is a function
of its content.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import IntervalWindow
from apache_beam.utils.windowed_value import PaneInfoTiming

from pipeline import progress
from pipeline.config import Config, S3Settings
from pipeline.io import schema
from pipeline.io.commit import staging_root
from pipeline.io.storage import Storage, is_s3, join, split_s3
from pipeline.lib.ids import short_hash
from pipeline.protos.article_pb2 import Article
from pipeline.protos.dead_letter_pb2 import DeadLetter
from pipeline.transforms.base import METRICS_NAMESPACE

_LANG = re.compile(r"^[a-z]{2,3}$")


def partition_date(a: Article) -> str:
    """dt partition: published date (UTC); else the source's modification date; else ingest date.

    The source date (not the run date) keeps undated articles in the same partition when the same
    input is processed again on another day.
    """
    for name in ("published_at", "source_modified_at", "ingested_at"):
        if a.HasField(name):
            return getattr(a, name).ToDatetime(tzinfo=timezone.utc).strftime("%Y-%m-%d")
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def partition_language(code: str) -> str:
    """Sanitised lang partition value: an ISO 639 code or 'und' (nothing path-like gets through)."""
    return code if _LANG.fullmatch(code or "") else "und"  # fullmatch: "$" alone lets "ar\n" through


def article_partition(a: Article) -> str:
    return f"dt={partition_date(a)}/lang={partition_language(a.language)}"


def _s3_filesystem(settings: S3Settings):  # type: ignore[no-untyped-def]
    from pyarrow import fs

    endpoint = settings.endpoint
    scheme = "https"
    if "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return fs.S3FileSystem(
        access_key=settings.access_key, secret_key=settings.secret_key, region=settings.region,
        endpoint_override=endpoint or None, scheme=scheme,
    )


def read_parquet_columns(uri: str, columns: list[str] | None, settings: S3Settings | None) -> pa.Table:
    """Read some columns of one Parquet file (footer + column chunks only, also on S3)."""
    if is_s3(uri):
        assert settings is not None
        bucket, key = split_s3(uri)
        with _s3_filesystem(settings).open_input_file(f"{bucket}/{key}") as fh:
            return pq.ParquetFile(fh).read(columns=columns)
    # ParquetFile, not read_table: one file needs no dataset discovery (a quarter of the time)
    return pq.ParquetFile(uri).read(columns=columns)


class _WriteArticlesFn(beam.DoFn):
    def __init__(
        self, output: str, run_id: str, fmt: str, max_rows: int, settings: S3Settings | None, staged: bool = False
    ) -> None:
        self.output = output
        self.root = staging_root(output, run_id) if staged else output  # where this run's files go
        self.run_id = run_id
        self.fmt = fmt
        self.max_rows = max_rows
        self.settings = settings
        self._rows = Metrics.counter(METRICS_NAMESPACE, "sink.rows")
        self._skipped = Metrics.counter(METRICS_NAMESPACE, "sink.already_present")
        self._files = Metrics.counter(METRICS_NAMESPACE, "sink.files")

    def setup(self) -> None:
        self.storage = Storage.for_uri(self.output, self.settings)
        self._known: dict[str, set[str]] = {}

    def _existing_ids(self, partition: str) -> set[str]:
        """Ids already committed to this partition by earlier runs (cached per worker)."""
        if partition not in self._known:
            ids: set[str] = set()
            prefix = join(self.output, "articles", partition)
            for info in self.storage.list(join(prefix, "part-*")):
                if f"part-{self.run_id}-" in info.uri:
                    continue
                if info.uri.endswith(".parquet"):
                    table = read_parquet_columns(info.uri, ["id"], self.settings)
                    ids.update(table.column("id").to_pylist())
                elif info.uri.endswith(".jsonl"):
                    for line in self.storage.read_bytes(info.uri).decode("utf-8").splitlines():
                        if line.strip():
                            ids.add(json.loads(line)["id"])
            self._known[partition] = ids
        return self._known[partition]

    def process(
        self,
        group: tuple[str, Iterable[Article]],
        window=beam.DoFn.WindowParam,
        pane=beam.DoFn.PaneInfoParam,
    ) -> Iterator[dict[str, Any]]:
        partition, articles = group
        existing = self._existing_ids(partition)
        prefix = f"part-{self.run_id}-" + window_tag(window, pane)
        chunk: list[Article] = []
        # Stream through the partition so memory stays bounded by one file's rows.
        for article in articles:
            if article.id in existing:
                self._skipped.inc()
                continue
            chunk.append(article)
            if len(chunk) >= self.max_rows:
                yield self._write(partition, prefix, chunk)
                chunk = []
        if chunk:
            yield self._write(partition, prefix, chunk)

    def _write(self, partition: str, prefix: str, chunk: list[Article]) -> dict[str, Any]:
        chunk.sort(key=lambda a: a.id)
        shard = short_hash(*(a.id for a in chunk))
        uri = join(self.root, "articles", partition, f"{prefix}{shard}.{self.fmt}")
        if self.fmt == "parquet":
            sink = io.BytesIO()
            pq.write_table(schema.articles_table(chunk), sink, compression="zstd", row_group_size=10_000)
            data = sink.getvalue()
        else:
            data = "".join(
                json.dumps(schema.json_ready(schema.article_row(a)), ensure_ascii=False) + "\n" for a in chunk
            ).encode("utf-8")
        self.storage.write_bytes(uri, data)
        self._rows.inc(len(chunk))
        progress.add("articles_written", len(chunk))
        self._files.inc()
        return {"uri": uri, "rows": len(chunk), "partition": partition}


def window_tag(window: Any, pane: Any) -> str:
    """'' in batch; in streaming 'w<window start>-p<pane index>[-late]-' so every firing of every
    window writes its own files and late panes are visible in the name."""
    if not isinstance(window, IntervalWindow):
        return ""
    start = window.start.to_utc_datetime().strftime("%Y%m%dT%H%M%S")
    late = "-late" if pane is not None and pane.timing == PaneInfoTiming.LATE else ""
    index = pane.index if pane is not None else 0
    return f"w{start}-p{index}{late}-"


class _WriteDeadLettersFn(beam.DoFn):
    def __init__(self, output: str, run_id: str, settings: S3Settings | None, staged: bool = False) -> None:
        self.output = output
        self.root = staging_root(output, run_id) if staged else output
        self.run_id = run_id
        self.settings = settings
        self._rows = Metrics.counter(METRICS_NAMESPACE, "sink.dead_letter_rows")

    def setup(self) -> None:
        self.storage = Storage.for_uri(self.output, self.settings)

    def process(self, batch: tuple[str, Iterable[DeadLetter]], pane=beam.DoFn.PaneInfoParam) -> Iterator[dict[str, Any]]:
        dt, letters = batch
        rows = sorted(
            (schema.json_ready(schema.dead_letter_row(d)) for d in letters),
            key=lambda r: (r["source_uri"], r["line"], r["stage"], r["reason"]),
        )
        shard = short_hash(*(f"{r['source_uri']}:{r['line']}:{r['stage']}" for r in rows))
        index = f"p{pane.index}-" if pane is not None and pane.index else ""
        uri = join(self.root, "dead_letters", dt, f"part-{self.run_id}-{index}{shard}.jsonl")
        self.storage.write_bytes(
            uri, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        )
        self._rows.inc(len(rows))
        yield {"uri": uri, "rows": len(rows), "partition": dt}


def _key_by_partition(a: Article, window: Any = beam.DoFn.WindowParam) -> tuple[str, Article]:
    if isinstance(window, IntervalWindow):  # streaming: the event-time window's day
        day = window.start.to_utc_datetime().strftime("%Y-%m-%d")
        return f"dt={day}/lang={partition_language(a.language)}", a
    return article_partition(a), a


class WriteArticles(beam.PTransform):
    """Articles → partitioned files. `staged`: under the run's staging folder until the run commits
    (batch, pipeline/io/commit.py); otherwise in place (streaming windows)."""

    def __init__(
        self, output: str, run_id: str, cfg: Config, settings: S3Settings | None, staged: bool = False
    ) -> None:
        super().__init__()
        self.output, self.run_id, self.cfg, self.settings, self.staged = output, run_id, cfg, settings, staged

    def expand(self, articles):  # type: ignore[no-untyped-def]
        return (
            articles
            | "KeyByPartition" >> beam.Map(_key_by_partition)
            | "GroupByPartition" >> beam.GroupByKey()
            | "WriteArticleFiles"
            >> beam.ParDo(
                _WriteArticlesFn(
                    self.output, self.run_id, self.cfg.output.format, self.cfg.output.max_rows_per_file,
                    self.settings, self.staged,
                )
            )
        )


class WriteDeadLetters(beam.PTransform):
    def __init__(self, output: str, run_id: str, settings: S3Settings | None, staged: bool = False) -> None:
        super().__init__()
        self.output, self.run_id, self.settings, self.staged = output, run_id, settings, staged

    def _stamp(self, letter: DeadLetter) -> tuple[str, DeadLetter]:
        out = DeadLetter()
        out.CopyFrom(letter)
        out.run_id = self.run_id
        return "dt=" + letter.failed_at.ToDatetime().strftime("%Y-%m-%d"), out

    def expand(self, letters):  # type: ignore[no-untyped-def]
        return (
            letters
            | "KeyByDay" >> beam.Map(self._stamp)
            | "GroupByDay" >> beam.GroupByKey()
            | "WriteDeadLetterFiles"
            >> beam.ParDo(_WriteDeadLettersFn(self.output, self.run_id, self.settings, self.staged))
        )


def write_manifest(output: str, run_id: str, manifest: dict[str, Any], settings: S3Settings | None) -> str:
    uri = join(output, "_runs", run_id, "manifest.json")
    Storage.for_uri(output, settings).write_bytes(
        uri, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str).encode("utf-8")
    )
    return uri


def read_articles(output: str, settings: S3Settings | None = None) -> list[dict[str, Any]]:
    """Every article row under `output` (Parquet or JSONL), with `dt`/`lang` from the path."""
    storage = Storage.for_uri(output, settings)
    rows: list[dict[str, Any]] = []
    for info in storage.list(join(output, "articles", "**", "part-*")):
        parts = dict(p.split("=", 1) for p in info.uri.split("/") if p.startswith(("dt=", "lang=")))
        if info.uri.endswith(".parquet"):
            batch = read_parquet_columns(info.uri, None, settings).to_pylist()
        else:
            batch = [json.loads(line) for line in storage.read_bytes(info.uri).decode("utf-8").splitlines() if line]
        for row in batch:
            row.update(parts)
            row["_file"] = info.uri
        rows.extend(batch)
    return rows


def read_dead_letters(output: str, settings: S3Settings | None = None) -> list[dict[str, Any]]:
    storage = Storage.for_uri(output, settings)
    rows: list[dict[str, Any]] = []
    for info in storage.list(join(output, "dead_letters", "**", "part-*.jsonl")):
        rows.extend(json.loads(line) for line in storage.read_bytes(info.uri).decode("utf-8").splitlines() if line)
    return rows


def window_counts(storage: Storage, output: str, run_id: str, settings: S3Settings | None) -> dict[str, dict[str, int]]:
    """Per event-time window of a streaming run: rows, files and late panes (from its file names)."""
    windows: dict[str, dict[str, int]] = {}
    pattern = re.compile(rf"part-{re.escape(run_id)}-w(\d{{8}}T\d{{6}})-p(\d+)(-late)?-")
    for info in storage.list(join(output, "articles", "**", f"part-{run_id}-w*")):
        match = pattern.search(info.uri)
        if not match:
            continue
        entry = windows.setdefault(match.group(1), {"articles": 0, "files": 0, "late_panes": 0})
        entry["files"] += 1
        entry["late_panes"] += bool(match.group(3))
        if info.uri.endswith(".parquet"):
            entry["articles"] += read_parquet_columns(info.uri, ["id"], settings).num_rows
        else:
            entry["articles"] += sum(1 for line in storage.read_bytes(info.uri).splitlines() if line.strip())
    return dict(sorted(windows.items()))


class _WriteStoriesFn(beam.DoFn):
    def __init__(self, output: str, tag: str, settings: S3Settings | None, staged: bool) -> None:
        self.output, self.tag, self.settings = output, tag, settings
        self.root = staging_root(output, tag) if staged else output
        self._rows = Metrics.counter(METRICS_NAMESPACE, "sink.story_rows")

    def setup(self) -> None:
        self.storage = Storage.for_uri(self.output, self.settings)

    def process(self, item: tuple[None, Iterable[dict[str, Any]]], window=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam) -> Iterator[str]:
        rows = sorted(item[1], key=lambda r: (r["story_id"], r["merged_into"]))
        if not rows:
            return
        day = rows[0]["updated_at"].strftime("%Y-%m-%d")
        name = f"{self.tag}-{window_tag(window, pane)}".rstrip("-")
        uri = join(self.root, "stories", f"dt={day}", f"part-{name}.parquet")
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema.STORY_SCHEMA), sink, compression="zstd")
        self.storage.write_bytes(uri, sink.getvalue())
        self._rows.inc(len(rows))
        yield uri


class WriteStories(beam.PTransform):
    """(articles with story ids, merges as (day, story, merged_into)) → one `stories` file per run:
    a row per story this run added articles to (what it added) and per merge it recorded."""

    def __init__(
        self, output: str, tag: str, settings: S3Settings | None, updated_at: datetime, staged: bool = False
    ) -> None:
        super().__init__()
        self.output, self.tag, self.settings, self.updated_at = output, tag, settings, updated_at
        self.staged = staged

    def expand(self, inputs):  # type: ignore[no-untyped-def]
        from pipeline.transforms.stories import story_rows

        articles, merges = inputs
        when = self.updated_at
        added = (
            articles
            | "KeyByStory" >> beam.Map(lambda a: (a.story_id, a))
            | "GroupByStory" >> beam.GroupByKey()
            | "StoryRow" >> beam.MapTuple(lambda story, members: story_rows(story, members, when))
        )
        merged = (
            merges
            | "DistinctMerges" >> beam.Map(lambda m: (m[1], m[2])) | beam.Distinct()
            | "MergeRow" >> beam.MapTuple(lambda story, target: {
                **story_rows(story, [], when), "merged_into": target, "title": ""})
        )
        return (
            (added, merged)
            | "AllStoryRows" >> beam.Flatten()
            | "OneStoriesFile" >> beam.Map(lambda row: (None, row))
            | "GatherStoryRows" >> beam.GroupByKey()
            | "WriteStoriesFile" >> beam.ParDo(_WriteStoriesFn(self.output, self.tag, self.settings, self.staged))
        )


def read_stories(output: str, settings: S3Settings | None = None) -> list[dict[str, Any]]:
    """Every row of the `stories` table (one per story and run that touched it)."""
    storage = Storage.for_uri(output, settings)
    rows: list[dict[str, Any]] = []
    for info in storage.list(join(output, "stories", "**", "part-*.parquet")):
        rows.extend(read_parquet_columns(info.uri, None, settings).to_pylist())
    return rows
