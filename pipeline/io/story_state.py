"""Story and duplicate state in the output store: what a later run needs to join an article to an
earlier story and to point a copy at its earlier canonical article.

Layout (docs/stories.md, docs/decisions/0003-story-state.md):

  <output>/_state/stories/day=YYYY-MM-DD/seg-<tag>.parquet        rows by event day (published, else fetch/ingest day)
  <output>/_state/stories/ingested=YYYY-MM-DD/{dated,undated}/seg-<tag>.parquet
                                                                 the same rows by ingest day (pairs with an undated article)
  <output>/_state/stories/day=YYYY-MM-DD/merges-<tag>.parquet     story_id -> merged_into, next to the merged story's rows
  <output>/_state/stories/_staging/<tag>/...                      a run's segments until it commits

A row: article_id, story_id, canonical (the article its content points at), content_hash, day,
ingest_day, published, entities, signature, keys (64-bit hashes of its lookup keys). `<tag>` is
unique per run (per chunk, per replay window), so two runs committing at once each add their own
segments and nothing is lost or applied twice. A run writes its segments under `_staging/` inside
the pipeline; `commit_story_state` moves them into place after the run's rows are written. A run
reads only the partitions its articles need (their event days +- stories.window_days; of the last
window_days of ingest days, the undated articles, and for an undated article all), and only the rows
sharing a key with them.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from typing import Any, Iterable, Iterator

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline.config import S3Settings
from pipeline.io.storage import Storage, join
from pipeline.lib.stories import (
    StoryRecord, StoryRules, group_keys, ingest_days, key_hash, lookup_keys, state_days,
)
from pipeline.transforms.base import METRICS_NAMESPACE

log = logging.getLogger("newspipe.stories")

STATE_DIR = "_state/stories"
STAGING = "_staging"
CANDIDATES = "candidates"  # ReadStoryState's second output: (candidate key, article ref) of the rows read

STATE_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("story_id", pa.string()), ("canonical", pa.string()),
    ("content_hash", pa.string()), ("day", pa.int32()), ("ingest_day", pa.int32()),
    ("published", pa.float64()), ("entities", pa.list_(pa.string())), ("signature", pa.binary()),
    ("keys", pa.list_(pa.int64())),
], metadata={"newspipe.record": "story_state", "newspipe.state_version": "1"})
MERGE_SCHEMA = pa.schema([("story_id", pa.string()), ("merged_into", pa.string())])


def day_partition(day: int) -> str:
    return "day=" + date.fromordinal(day).isoformat()


def ingest_partition(day: int, dated: bool) -> str:
    return f"ingested={date.fromordinal(day).isoformat()}/{'dated' if dated else 'undated'}"


def wanted_partitions(record: StoryRecord, rules: StoryRules) -> list[str]:
    """The state partitions a new article may find earlier articles in: a dated one the event days
    around its own and the undated articles ingested lately; an undated one everything ingested lately."""
    recent = ingest_days(record.ingest_day, rules)
    out = [*map(day_partition, state_days(record, rules)), *(ingest_partition(d, False) for d in recent)]
    if not record.dated:
        out += [ingest_partition(d, True) for d in recent]
    return out


def _to_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def state_table(records: list[StoryRecord], rules: StoryRules) -> pa.Table:
    records = sorted(records, key=lambda r: r.article_id)
    return pa.table({
        "article_id": [r.article_id for r in records], "story_id": [r.story_id for r in records],
        "canonical": [r.canonical for r in records], "content_hash": [r.content_hash for r in records],
        "day": [r.day for r in records], "ingest_day": [r.ingest_day for r in records],
        "published": [r.published for r in records], "entities": [list(r.entities) for r in records],
        "signature": [r.signature for r in records],
        "keys": [sorted({key_hash(k) for k in lookup_keys(r, rules)}) for r in records],
    }, schema=STATE_SCHEMA)


def records_from_table(table: pa.Table) -> list[StoryRecord]:
    cols = {name: table.column(name).to_pylist() for name in STATE_SCHEMA.names if name != "keys"}
    return [
        StoryRecord(
            article_id=cols["article_id"][i], signature=cols["signature"][i], entities=tuple(cols["entities"][i]),
            published=cols["published"][i], day=cols["day"][i], ingest_day=cols["ingest_day"][i],
            content_hash=cols["content_hash"][i], story_id=cols["story_id"][i], canonical=cols["canonical"][i],
        )
        for i in range(table.num_rows)
    ]


def read_partition(storage: Storage, output: str, partition: str, keys: set[int] | None) -> list[StoryRecord]:
    """Committed rows of one partition sharing a key with `keys` (all rows if None), with the
    merges recorded there applied to their story ids."""
    prefix = join(output, STATE_DIR, partition)
    merges: dict[str, str] = {}
    tables = []
    for info in storage.list(join(prefix, "*.parquet")):
        name = info.uri.rsplit("/", 1)[-1]
        table = pq.read_table(io.BytesIO(storage.read_bytes(info.uri)))
        if name.startswith("merges-"):
            merges.update(zip(table.column("story_id").to_pylist(), table.column("merged_into").to_pylist()))
        elif name.startswith("seg-"):
            if keys is not None:
                wanted = pa.array(sorted(keys), type=pa.int64())
                flat = pc.is_in(pc.list_flatten(table.column("keys")), value_set=wanted)
                parents = pc.list_parent_indices(table.column("keys"))
                hit = pc.unique(pc.filter(parents, flat))
                table = table.take(hit)
            tables.append(table.drop_columns(["keys"]))
    records: list[StoryRecord] = []
    for table in tables:
        records += records_from_table(table)
    if merges:
        records = [_resolved(r, merges) for r in records]
    return records


def _resolved(record: StoryRecord, merges: dict[str, str]) -> StoryRecord:
    story, seen = record.story_id, set()
    while story in merges and story not in seen:
        seen.add(story)
        story = merges[story]
    if story == record.story_id:
        return record
    from dataclasses import replace

    return replace(record, story_id=story)


def read_all(storage: Storage, output: str) -> list[StoryRecord]:
    """Every committed row (tests and tools; a run never reads all of it)."""
    out: dict[str, StoryRecord] = {}
    seen_parts = {info.uri.split(f"{STATE_DIR}/", 1)[1].split("/", 1)[0]
                  for info in storage.list(join(output, STATE_DIR, "day=*", "*.parquet"))}
    for part in sorted(seen_parts):
        for r in read_partition(storage, output, part, None):
            out.setdefault(r.article_id, r)
    return list(out.values())


def commit_story_state(storage: Storage, output: str, tag: str) -> int:
    """Move a run's staged story segments into place; returns how many. Call only after the run's
    rows are written. Each segment's name is the run's own, so concurrent commits never collide."""
    staged = storage.list(join(output, STATE_DIR, STAGING, tag))
    base = join(output, STATE_DIR, STAGING, tag) + "/"
    for info in staged:
        target = join(output, STATE_DIR, info.uri[len(base):])
        storage.write_bytes(target, storage.read_bytes(info.uri))
    for info in staged:
        storage.delete(info.uri)
    return len(staged)


def discard_story_state(storage: Storage, output: str, tag: str) -> None:
    """Drop a failed run's staged segments (the committed state stays as it was)."""
    for info in storage.list(join(output, STATE_DIR, STAGING, tag)):
        storage.delete(info.uri)


class _UnionKeys(beam.CombineFn):
    def create_accumulator(self) -> set[int]:
        return set()

    def add_input(self, acc: set[int], keys: Iterable[int]) -> set[int]:
        acc.update(keys)
        return acc

    def merge_accumulators(self, accs: Iterable[set[int]]) -> set[int]:
        out: set[int] = set()
        for acc in accs:
            out |= acc
        return out

    def extract_output(self, acc: set[int]) -> set[int]:
        return acc


class _ReadPartitionFn(beam.DoFn):
    def __init__(self, output: str, settings: S3Settings | None, rules: StoryRules) -> None:
        self.output, self.settings, self.rules = output, settings, rules
        self._rows = Metrics.counter(METRICS_NAMESPACE, "stories.state_rows_read")

    def setup(self) -> None:
        self.storage = Storage.for_uri(self.output, self.settings)

    def process(self, item: tuple[str, set[int]]) -> Iterator[Any]:
        partition, keys = item
        records = read_partition(self.storage, self.output, partition, keys)
        self._rows.inc(len(records))
        for r in records:
            yield r
            # Only the candidate keys this run's articles have: a group no new article is in has
            # nothing to decide, so the state's other keys are not shuffled at all.
            for k in group_keys(r, self.rules):
                if key_hash(k) in keys:
                    yield TaggedOutput(CANDIDATES, (k, (r.article_id, True)))


class ReadStoryState(beam.PTransform):
    """This run's StoryRecords → the committed state rows that may pair with them (main output
    `records`) and, as output CANDIDATES, (key, (article id, True)) for each candidate key such a
    row shares with this run's articles."""

    def __init__(self, output: str, settings: S3Settings | None, rules: StoryRules) -> None:
        super().__init__()
        self.output, self.settings, self.rules = output, settings, rules

    def _requests(self, record: StoryRecord) -> Iterator[tuple[str, list[int]]]:
        keys = [key_hash(k) for k in lookup_keys(record, self.rules)]
        for partition in wanted_partitions(record, self.rules):
            yield partition, keys

    def expand(self, records):  # type: ignore[no-untyped-def]
        return (
            records
            | "StatePartitions" >> beam.FlatMap(self._requests)
            | "KeysPerPartition" >> beam.CombinePerKey(_UnionKeys())
            | "ReadStatePartition" >> beam.ParDo(_ReadPartitionFn(self.output, self.settings, self.rules))
            .with_outputs(CANDIDATES, main="records")
        )


class _WriteSegmentFn(beam.DoFn):
    def __init__(self, output: str, tag: str, settings: S3Settings | None, rules: StoryRules) -> None:
        self.output, self.tag, self.settings, self.rules = output, tag, settings, rules
        self._rows = Metrics.counter(METRICS_NAMESPACE, "stories.state_rows_written")

    def setup(self) -> None:
        self.storage = Storage.for_uri(self.output, self.settings)

    def process(self, item: tuple[str, Iterable[Any]], window=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam) -> Iterator[str]:
        from pipeline.io.sinks import window_tag

        partition, rows = item
        records = [r for r in rows if isinstance(r, StoryRecord)]
        merges = sorted({r for r in rows if isinstance(r, tuple)})
        staged = join(self.output, STATE_DIR, STAGING, self.tag, partition)
        name = f"{self.tag}-{window_tag(window, pane)}".rstrip("-")  # streaming: one per window and pane
        if records:
            self.storage.write_bytes(join(staged, f"seg-{name}.parquet"), _to_bytes(state_table(records, self.rules)))
            if partition.startswith("day="):
                self._rows.inc(len(records))
        if merges:
            table = pa.table({"story_id": [m[0] for m in merges], "merged_into": [m[1] for m in merges]},
                             schema=MERGE_SCHEMA)
            self.storage.write_bytes(join(staged, f"merges-{name}.parquet"), _to_bytes(table))
        yield partition


class WriteStoryState(beam.PTransform):
    """(new StoryRecords with story ids, merges as (partition, (story, merged_into))) → staged segments."""

    def __init__(self, output: str, tag: str, settings: S3Settings | None, rules: StoryRules) -> None:
        super().__init__()
        self.output, self.tag, self.settings, self.rules = output, tag, settings, rules

    @staticmethod
    def _partitions(record: StoryRecord) -> Iterator[tuple[str, StoryRecord]]:
        yield day_partition(record.day), record
        yield ingest_partition(record.ingest_day, record.dated), record

    def expand(self, inputs):  # type: ignore[no-untyped-def]
        records, merges = inputs
        keyed = records | "StatePartitionOf" >> beam.FlatMap(self._partitions)
        return (
            (keyed, merges)
            | "AllStateRows" >> beam.Flatten()
            | "GroupByStatePartition" >> beam.GroupByKey()
            | "WriteStateSegments" >> beam.ParDo(_WriteSegmentFn(self.output, self.tag, self.settings, self.rules))
        )


class StoryState:
    """The story state of one output for one run (or chunk / window): the read and write transforms
    the story stage uses, and the commit the driver calls after the rows."""

    def __init__(self, output: str, tag: str, settings: S3Settings | None, rules: StoryRules) -> None:
        self.output, self.tag, self.settings, self.rules = output, tag, settings, rules

    def read(self) -> beam.PTransform:
        return ReadStoryState(self.output, self.settings, self.rules)

    def write(self) -> beam.PTransform:
        return WriteStoryState(self.output, self.tag, self.settings, self.rules)
