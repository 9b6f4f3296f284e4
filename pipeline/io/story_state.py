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
sharing a key with them; it decides their pairs with the run's articles where it reads them, a batch
of rows at a time (ReadStoryState), so what it holds does not grow with the state.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from typing import Any, Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsList, TaggedOutput

from pipeline.config import S3Settings
from pipeline.io.storage import Storage, StorageError, join
from pipeline.lib.stories import (
    Forest, RunIndex, StoryRecord, StoryRules, ingest_days, key_hash, lookup_keys, state_days,
)
from pipeline.transforms.base import METRICS_NAMESPACE

log = logging.getLogger("newspipe.stories")

STATE_DIR = "_state/stories"
STAGING = "_staging"
COPIES = "copies"  # ReadStoryState's second output: state rows with the content hash of an article of the run

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


BATCH_ROWS = 4096  # state rows decoded at a time (what a partition read holds)


def iter_partition(
    storage: Storage, output: str, partition: str, keys: set[int] | np.ndarray | None, batch_rows: int = BATCH_ROWS,
) -> Iterator[tuple[list[StoryRecord], Any, Any]]:
    """Committed rows of one partition sharing a key with `keys` (all rows if None), with the
    merges recorded there applied to their story ids, `batch_rows` at a time: (records, their key
    hashes flattened, the record index of each key) per batch, one segment file read at a time.

    Each article once: a compaction running meanwhile writes its merged segment before it deletes
    the ones it merged, so a listed segment that is gone is found again, in a new listing."""
    prefix = join(output, STATE_DIR, partition)
    merges: dict[str, str] = {}
    wanted = None if keys is None else pa.array(keys if isinstance(keys, np.ndarray) else sorted(keys), type=pa.int64())
    done: set[str] = set()
    seen: set[str] = set()
    for _ in range(_LISTINGS):
        files = [info.uri for info in storage.list(join(prefix, "*.parquet")) if info.uri not in done]
        names = {uri: uri.rsplit("/", 1)[-1] for uri in files}
        for uri in files:
            if names[uri].startswith("merges-"):
                table = _read_table(storage, uri)
                if table is not None:
                    merges.update(zip(table.column("story_id").to_pylist(), table.column("merged_into").to_pylist()))
                done.add(uri)
        segments = [uri for uri in files if names[uri].startswith("seg-")]
        if not segments:
            return
        for uri in segments:
            table = _read_table(storage, uri)
            if table is None:
                continue  # compacted away: its rows are in a segment of the next listing
            done.add(uri)
            if wanted is not None:
                flat = pc.is_in(pc.list_flatten(table.column("keys")), value_set=wanted)
                table = table.take(pc.unique(pc.filter(pc.list_parent_indices(table.column("keys")), flat)))
            if seen:
                table = table.filter(pc.invert(pc.is_in(table.column("article_id"), value_set=pa.array(sorted(seen)))))
            seen.update(table.column("article_id").to_pylist())
            for start in range(0, table.num_rows, batch_rows):
                batch = table.slice(start, batch_rows).combine_chunks()
                column = batch.column("keys").chunk(0) if batch.num_rows else pa.array([], pa.list_(pa.int64()))
                records = records_from_table(batch)
                if merges:
                    records = [_resolved(r, merges) for r in records]
                yield (records, pc.list_flatten(column).to_numpy(zero_copy_only=False),
                       pc.list_parent_indices(column).to_numpy(zero_copy_only=False))
        if all(uri in done for uri in segments):
            return
    raise StorageError(f"{prefix}: story state segments kept disappearing while being read; run again")


_LISTINGS = 20  # listings of a partition while compactions remove what was listed, before giving up


def _read_table(storage: Storage, uri: str) -> pa.Table | None:
    data = storage.read_if_exists(uri)
    # ParquetFile, not read_table: no dataset discovery, a quarter of the time for a small segment
    return pq.ParquetFile(pa.BufferReader(data)).read() if data is not None else None


def read_partition(storage: Storage, output: str, partition: str, keys: set[int] | None) -> list[StoryRecord]:
    """Committed rows of one partition sharing a key with `keys` (all rows if None), merges applied."""
    return [r for records, _, _ in iter_partition(storage, output, partition, keys) for r in records]


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
    """Move a run's staged story segments into place, then compact the partitions they went to;
    returns how many segments. Call only after the run's rows are written. Each segment's name is
    the run's own, so concurrent commits never collide."""
    staged = storage.list(join(output, STATE_DIR, STAGING, tag))
    base = join(output, STATE_DIR, STAGING, tag) + "/"
    for info in staged:
        target = join(output, STATE_DIR, info.uri[len(base):])
        storage.write_bytes(target, storage.read_bytes(info.uri))
    for info in staged:
        storage.delete(info.uri)
    for partition in sorted({info.uri[len(base):].rsplit("/", 1)[0] for info in staged}):
        compact_partition(storage, output, partition, tag)
    return len(staged)


COMPACT_FANIN = 4  # segments of one tier merged into one segment of the next


_MERGED = "seg-merged-t"  # seg-merged-t<tier>-<tag>-<n>.parquet


def _tier(name: str) -> int:
    """A segment's tier: 0 as a run wrote it, t+1 for a merge of COMPACT_FANIN segments of tier t."""
    return int(name[len(_MERGED):].split("-", 1)[0]) if name.startswith(_MERGED) else 0


def compact_partition(storage: Storage, output: str, partition: str, tag: str) -> int:
    """Merge each COMPACT_FANIN segments of one tier of `partition` into one of the next tier (rows
    once per article; returns how many merges), so a partition holds O(FANIN x log(runs)) segments
    however many runs added to it, and each row is rewritten O(log(runs)) times.

    Safe with concurrent runs: the merged segment (named with this run's `tag`) is written before
    its inputs are deleted, and only those; a concurrent compaction of the same inputs writes the
    same rows again, which readers and the next merge keep once (iter_partition)."""
    prefix = join(output, STATE_DIR, partition)
    tiers: dict[int, list[str]] = {}
    for info in storage.list(join(prefix, "seg-*.parquet")):
        tiers.setdefault(_tier(info.uri.rsplit("/", 1)[-1]), []).append(info.uri)
    merged = 0
    tier = 0
    while tiers:
        group = sorted(tiers.get(tier, []))
        while len(group) >= COMPACT_FANIN:
            inputs, group = group[:COMPACT_FANIN], group[COMPACT_FANIN:]
            tables = [t for t in (_read_table(storage, uri) for uri in inputs) if t is not None]
            if tables:
                table = pa.concat_tables(tables)
                ids = table.column("article_id").to_pylist()
                first = sorted({a: i for i, a in reversed(list(enumerate(ids)))}.values())
                table = table.take(pa.array(first, type=pa.int64())).sort_by("article_id")
                target = join(prefix, f"{_MERGED}{tier + 1}-{tag}-{merged:03d}.parquet")
                storage.write_bytes(target, _to_bytes(table))
                tiers.setdefault(tier + 1, []).append(target)
            for uri in inputs:
                storage.delete(uri)
            merged += 1
        tiers.pop(tier, None)
        tier += 1
    return merged


def discard_story_state(storage: Storage, output: str, tag: str) -> None:
    """Drop a failed run's staged segments (the committed state stays as it was)."""
    for info in storage.list(join(output, STATE_DIR, STAGING, tag)):
        storage.delete(info.uri)


class _UnionKeys(beam.CombineFn):
    """The union of key-hash arrays, as one sorted int64 array: 8 bytes a key, where a set of Python
    ints took 75 (312 MB for the 4.1 million keys a 1,500-article chunk asks of its ~740 partitions)."""

    def create_accumulator(self) -> list[np.ndarray]:
        return []

    def add_input(self, acc: list[np.ndarray], keys: np.ndarray) -> list[np.ndarray]:
        acc.append(keys)
        if len(acc) >= 64:  # fold as it grows: a partition asked by a whole chunk holds one array
            acc[:] = [self.extract_output(acc)]
        return acc

    def merge_accumulators(self, accs: Iterable[list[np.ndarray]]) -> list[np.ndarray]:
        return [self.extract_output([a for acc in accs for a in acc])]

    def extract_output(self, acc: list[np.ndarray]) -> np.ndarray:
        return np.unique(np.concatenate(acc)) if acc else np.zeros(0, dtype=np.int64)


class _StateEdgesFn(beam.DoFn):
    """(state partition, key hashes this run asks for) → the same-story edges between this run's
    articles (side input) and the rows of that partition, and, as output COPIES, the rows with the
    content hash of an article of this run. Rows are read and decided a batch at a time, so neither
    the rows nor their candidate keys are shuffled or held (lib/stories.RunIndex)."""

    def __init__(self, output: str, settings: S3Settings | None, rules: StoryRules) -> None:
        self.output, self.settings, self.rules = output, settings, rules
        self._rows = Metrics.counter(METRICS_NAMESPACE, "stories.state_rows_read")
        self._pairs = Metrics.counter(METRICS_NAMESPACE, "stories.state_edges")

    def setup(self) -> None:
        self.storage = Storage.for_uri(self.output, self.settings)
        self._index: tuple[Any, RunIndex] | None = None

    def _run_index(self, records: list[StoryRecord]) -> RunIndex:
        # The side input is the same object for every partition of a run (and window): index it once.
        if self._index is None or self._index[0] is not records:
            self._index = (records, RunIndex(records, self.rules))
        return self._index[1]

    def start_bundle(self) -> None:
        self._forest = Forest()  # only edges that join two components leave (see _EdgesFn)

    def process(self, item: tuple[str, np.ndarray], records: list[StoryRecord]) -> Iterator[Any]:
        partition, keys = item
        index = self._run_index(records)
        for rows, row_keys, parents in iter_partition(self.storage, self.output, partition, keys):
            self._rows.inc(len(rows))
            for r in rows:
                if r.content_hash in index.content_hashes:
                    yield TaggedOutput(COPIES, r)
            by_id = {r.article_id: r for r in rows}
            for a, b in index.edges(rows, row_keys, parents):
                self._pairs.inc()
                if self._forest.add(a, b):
                    old = by_id[b]
                    yield a, b, ((b, old.story_id, old.sort_time, old.day),)


class ReadStoryState(beam.PTransform):
    """This run's StoryRecords → (main output `edges`) the same-story edges they form with the
    committed state rows, as (this run's id, state id, ((state id, story id, sort time, day),)),
    and (output COPIES) the state rows with the content hash of one of them."""

    def __init__(self, output: str, settings: S3Settings | None, rules: StoryRules) -> None:
        super().__init__()
        self.output, self.settings, self.rules = output, settings, rules

    def _requests(self, record: StoryRecord) -> Iterator[tuple[str, np.ndarray]]:
        keys = np.unique(np.array([key_hash(k) for k in lookup_keys(record, self.rules)], dtype=np.int64))
        for partition in wanted_partitions(record, self.rules):
            yield partition, keys

    def expand(self, records):  # type: ignore[no-untyped-def]
        return (
            records
            | "StatePartitions" >> beam.FlatMap(self._requests)
            | "KeysPerPartition" >> beam.CombinePerKey(_UnionKeys())
            | "StateEdges" >> beam.ParDo(_StateEdgesFn(self.output, self.settings, self.rules), AsList(records))
            .with_outputs(COPIES, main="edges")
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
