"""Replay files as an unbounded stream with event time (`newspipe replay`).

The driver plans the replay: every article of a plain .jsonl file gets its own `published` as event
time (the file's first date as fallback), every other page the first publication date found on it,
else a slot in a configurable synthetic schedule; the items are ordered by it. A
splittable DoFn then emits them paced in processing time (`--rate` pages per second, or the real
gaps divided by `--speedup`, with long idle gaps capped), stamps each with its event time and moves
the watermark along with it. The runner checkpoints the DoFn between pages (defer_remainder), so
no worker sleeps inside a DoFn, and the stream ends by itself when the plan is exhausted (or goes
round again with `loop`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.transforms import core
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Duration, Timestamp

from pipeline.config import Config
from pipeline.io.sources import raw_documents
from pipeline.io.storage import ObjectInfo, Storage
from pipeline.lib.dates import parse_published
from pipeline.lib.decode import BadInput
from pipeline.lib.pages import split_page

FileRef = tuple  # a ReadFile work item (pipeline/io/ranges.py): (uri, size, mtime[, start, end])


@dataclass(frozen=True)
class ReplayItem:
    event_time: datetime
    emit_after: float  # seconds after the replay starts
    file: FileRef


def page_event_time(info: ObjectInfo, storage: Storage, cfg: Config) -> datetime | None:
    """The first publication date on a page, or None (undecodable pages get a synthetic slot and
    become dead letters in the pipeline as usual)."""
    try:
        data = storage.read_bytes(info.uri, limit=cfg.input.max_file_bytes)
        for doc in raw_documents(info, data, cfg):
            if isinstance(doc, tuple):
                continue
            raw = doc.published or next((a.published_raw for a in split_page(doc.text) if a.published_raw), "")
            if raw and (when := parse_published(raw)) is not None:
                return when
    except (BadInput, OSError):
        return None
    return None


def jsonl_line_times(info: ObjectInfo, storage: Storage, cfg: Config) -> list[tuple[int, datetime | None]]:
    """(byte offset, own publication time or None) of each record line of a plain .jsonl file: each
    article of such a file is replayed at its own event time (a one-byte range starting at its line
    is read as exactly that record, pipeline/io/ranges.py)."""
    import json

    out: list[tuple[int, datetime | None]] = []
    try:
        data = storage.read_bytes(info.uri, limit=cfg.input.max_file_bytes)
    except OSError:
        return []
    if len(data) > cfg.input.max_file_bytes:
        return []
    offset = 0
    for raw in data.split(b"\n"):
        if raw.strip():
            when = None
            try:
                record = json.loads(raw)
                if isinstance(record, dict) and isinstance(record.get("published"), str):
                    when = parse_published(record["published"])
            except ValueError:
                pass
            out.append((offset, when))
        offset += len(raw) + 1
    return out


def plan_replay(
    files: list[ObjectInfo],
    storage: Storage,
    cfg: Config,
    *,
    rate: float | None = None,
    speedup: float | None = None,
    synthetic_start: datetime | None = None,
    synthetic_interval: timedelta = timedelta(hours=1),
    max_idle: float = 2.0,
) -> list[ReplayItem]:
    """Order pages by event time and give each its emit delay.

    Pages without a date are spread over a synthetic schedule starting at `synthetic_start`
    (default: the earliest real date, else now) every `synthetic_interval`.
    """
    dated: list[tuple[datetime | None, FileRef]] = []
    for info in files:
        ref = (info.uri, info.size, info.mtime.timestamp())
        lines = jsonl_line_times(info, storage, cfg) if info.uri.endswith(".jsonl") else []
        if not lines:
            dated.append((page_event_time(info, storage, cfg), ref))
            continue
        fallback = next((when for _, when in lines if when is not None), None)  # the file's time
        dated += [(when or fallback, (*ref, start, start + 1)) for start, when in lines]
    known = [t for t, _ in dated if t is not None]
    start = synthetic_start or (min(known) if known else datetime.now(timezone.utc))
    slot = 0
    timed: list[tuple[datetime, FileRef]] = []
    for when, ref in dated:
        if when is None:
            when = start + slot * synthetic_interval
            slot += 1
        timed.append((when, ref))
    timed.sort(key=lambda item: (item[0], item[1]))
    items: list[ReplayItem] = []
    offset = 0.0
    for i, (when, ref) in enumerate(timed):
        if i:
            if rate:
                offset += 1.0 / rate
            else:
                gap = (when - timed[i - 1][0]).total_seconds() / (speedup or 1.0)
                offset += min(max(gap, 0.0), max_idle)
        items.append(ReplayItem(when, offset, ref))
    return items


class _ReplayRestrictions(core.RestrictionProvider):
    """The element is (start wall time, number of emissions); the restriction is the index range."""

    def initial_restriction(self, element: tuple[float, int]) -> OffsetRange:
        return OffsetRange(0, element[1])

    def create_tracker(self, restriction: OffsetRange) -> OffsetRestrictionTracker:
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element: tuple[float, int], restriction: OffsetRange) -> int:
        return restriction.size()

    def truncate(self, element: tuple[float, int], restriction: OffsetRange) -> None:
        return None  # on drain, stop emitting


class _ReplayFn(beam.DoFn):
    """Emits plan[i] no earlier than start + emit_after[i], stamped with its event time."""

    def __init__(self, items: list[ReplayItem], loop: bool) -> None:
        self.items = items
        self.loop = loop
        span = (items[-1].event_time - items[0].event_time).total_seconds() if items else 0.0
        # One pass of the plan in event time and in wall time; a loop shifts both by a pass each round.
        self.event_period = span + 3600.0
        self.wall_period = (items[-1].emit_after if items else 0.0) + 1.0

    def total(self) -> int:
        return len(self.items) * (10**9 if self.loop else 1)

    def _at(self, index: int) -> tuple[float, float, FileRef]:
        n = len(self.items)
        item = self.items[index % n]
        rounds = index // n
        event = item.event_time.timestamp() + rounds * self.event_period
        due = item.emit_after + rounds * self.wall_period
        return event, due, item.file

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: tuple[float, int],
        tracker=beam.DoFn.RestrictionParam(_ReplayRestrictions()),
        watermark=beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider()),
    ) -> Iterator[TimestampedValue]:
        started_at = element[0]
        index = tracker.current_restriction().start
        while True:
            if index >= tracker.current_restriction().stop:
                return
            event, due, ref = self._at(index)
            wait = started_at + due - time.time()
            if wait > 0:
                tracker.defer_remainder(Duration.of(wait))
                return
            if not tracker.try_claim(index):
                return
            stamp = Timestamp.of(event)
            current = watermark.current_watermark()
            if current is None or stamp > current:
                watermark.set_watermark(stamp)
            yield TimestampedValue(ref, stamp)
            index += 1


class ReplayFiles(beam.PTransform):
    """Unbounded source: the planned pages as (uri, size, mtime) with event timestamps."""

    def __init__(self, items: list[ReplayItem], loop: bool = False) -> None:
        super().__init__()
        if not items:
            raise ValueError("nothing to replay")
        self.items = items
        self.loop = loop

    def expand(self, pbegin):  # type: ignore[no-untyped-def]
        fn = _ReplayFn(self.items, self.loop)
        return (
            pbegin
            | "Start" >> beam.Impulse()
            | "StartTime" >> beam.Map(lambda _, total: (time.time(), total), fn.total())
            | "EmitOnSchedule" >> beam.ParDo(fn)
        )

