"""Sources: expand inputs (paths, globs, s3:// URIs) into work items and read them into RawDocuments.

A work item is a whole file or, for .warc/.warc.gz and large plain .jsonl files, a byte range of it
(pipeline/io/ranges.py), so several workers share one big file. Every file that cannot become text
(binary, undecodable, truncated gzip, too large, invalid JSONL line, unreadable WARC record) becomes a
dead letter with the stage and reason, never a crash and never a silent drop.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import progress
from pipeline.config import Config, S3Settings
from pipeline.errors import ENVIRONMENT_ERRORS, RunFailed, environment_failure
from pipeline.io.ranges import ByteWindow, WorkItem, iter_lines, split_ranges
from pipeline.io.storage import ObjectInfo, Storage, StorageError, has_glob, is_s3
from pipeline.io.warc import BadRecord, Page, WarcPages, is_warc
from pipeline.lib.decode import BadInput, decode_file, parse_jsonl_record
from pipeline.protos.article_pb2 import RawDocument
from pipeline.transforms.base import DEAD, METRICS_NAMESPACE, Stage, StageFn, dead_letter


class InputError(ValueError):
    """An input the user named does not exist or cannot be listed (one-line message)."""


def expand_inputs(patterns: Iterable[str], settings: S3Settings | None) -> list[ObjectInfo]:
    """Resolve paths, globs, folders and s3:// URIs to files. Raises InputError when a pattern
    matches nothing, so a typo is a clear error rather than an empty run."""
    found: dict[str, ObjectInfo] = {}
    for pattern in patterns:
        storage = Storage.for_uri(pattern, settings)
        try:
            matches = storage.list(pattern)
        except StorageError as exc:
            raise InputError(str(exc)) from None
        if not matches:
            what = "no file matches" if has_glob(pattern) else "no such file or folder"
            hint = "check the path or quote the glob" if not is_s3(pattern) else "check bucket and prefix"
            raise InputError(f"{pattern}: {what}; {hint}")
        for info in matches:
            name = info.uri.rsplit("/", 1)[-1]
            if name.startswith(".") or any(f"/{d}/" in info.uri for d in ("_runs", "_state", "_staging")):
                continue  # hidden files and newspipe's own bookkeeping are never inputs
            found.setdefault(info.uri, info)
    return [found[k] for k in sorted(found)]


RANGED_JSONL_SUFFIXES = (".jsonl", ".ndjson")


def plan_work(files: list[ObjectInfo], range_bytes: int) -> list[WorkItem]:
    """Files → work items: every WARC as record ranges (one range when small), plain JSONL above
    `range_bytes` as line ranges, everything else whole. The ledger still claims whole files."""
    items = []
    for info in files:
        mtime = info.mtime.timestamp()
        name = info.uri.lower()
        if is_warc(name) or (name.endswith(RANGED_JSONL_SUFFIXES) and info.size > range_bytes):
            items.extend(WorkItem(info.uri, info.size, mtime, s, e) for s, e in split_ranges(info.size, range_bytes))
        else:
            items.append(WorkItem(info.uri, info.size, mtime))
    return items


def jsonl_document(base: RawDocument, record: dict[str, str], line_no: int) -> RawDocument:
    """A RawDocument for one parsed JSONL record (pipeline.lib.decode.parse_jsonl_record)."""
    doc = RawDocument()
    doc.CopyFrom(base)
    doc.content_type = "html" if record["body"].lstrip().startswith("<") else "text"
    doc.text = record["body"]
    doc.title = record["title"]
    doc.url = record["url"]
    doc.published = record["published"]
    doc.outlet = record["outlet"]
    doc.language = record["language"]
    doc.line = line_no
    return doc


def raw_documents(info: ObjectInfo, data: bytes, cfg: Config, source_kind: str = "file") -> Iterator[RawDocument | tuple]:
    """Decode one file's bytes into RawDocuments. Raises BadInput for the whole file; yields
    ("bad_line", line_no, text, BadInput) tuples for single bad JSONL lines."""
    decoded = decode_file(info.uri, data, cfg.input.max_decompressed_bytes)
    base = RawDocument(source_uri=info.uri, source_kind=source_kind, encoding=decoded.encoding)
    base.fetched_at.FromDatetime(info.mtime.astimezone(timezone.utc).replace(tzinfo=None))
    if decoded.content_type != "jsonl":
        doc = RawDocument()
        doc.CopyFrom(base)
        doc.content_type = decoded.content_type
        doc.text = decoded.text
        yield doc
        return
    for line_no, line in enumerate(decoded.text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = parse_jsonl_record(line)
        except BadInput as exc:
            yield ("bad_line", line_no, line, exc)
            continue
        yield jsonl_document(base, record, line_no)


class _ReadFileFn(StageFn):
    stage = "read"

    def __init__(self, cfg: Config, settings: S3Settings | None) -> None:
        super().__init__()
        self.cfg = cfg
        self.settings = settings
        self._line_dead = Metrics.counter(METRICS_NAMESPACE, "decode.dead_letters")

    def setup(self) -> None:
        self._storages: dict[bool, Storage] = {}
        self._counters: dict[str, object] = {}
        self._language_prefilter = self._load_prefilter()

    def _storage(self, uri: str) -> Storage:
        key = is_s3(uri)
        if key not in self._storages:
            self._storages[key] = Storage.for_uri(uri, self.settings)
        return self._storages[key]

    def process(self, element: tuple) -> Iterator:
        item = WorkItem.from_element(element)
        if not (item.is_range or is_warc(item.uri)):
            yield from super().process(element)
            return
        # A range is read as a stream: its records are yielded as they come, not held in memory.
        self._in.inc()
        try:
            stream = self._storage(item.uri).open_read(item.uri, max(0, item.start - 4))
        except FileNotFoundError:
            yield self._reject("vanished", "file disappeared before it could be read", element)
            return
        except PermissionError:
            yield self._reject("unreadable", "permission denied", element)
            return
        with stream:
            window = ByteWindow(stream, max(0, item.start - 4))
            end = item.end if item.is_range else item.size
            outputs = self._warc(item, window, end) if is_warc(item.uri) else self._jsonl_range(item, window, end)
            try:
                for out in outputs:
                    if not isinstance(out, beam.pvalue.TaggedOutput):
                        self._out.inc()
                        progress.add(f"{self.stage}.out")
                    yield out
            except (StorageError, RunFailed):
                raise
            except ENVIRONMENT_ERRORS as exc:  # bad records are dead letters inside; this is the disk or memory
                raise environment_failure(f"stage {self.stage}", exc) from exc

    def _count(self, name: str) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(METRICS_NAMESPACE, name)
        counter.inc()

    def _record_dead_letter(
        self, stage: str, reason: str, error: str, payload: bytes, uri: str, line: int = 0
    ) -> beam.pvalue.TaggedOutput:
        letter = dead_letter(stage, reason, error, payload)
        letter.source_uri, letter.line = uri, line
        self._count(f"dead_letter.{stage}.{reason}")
        self._count(f"{stage}.dead_letters")
        progress.add("dead_letters")
        return beam.pvalue.TaggedOutput(DEAD, letter)

    def _warc(self, item: WorkItem, window: ByteWindow, end: int) -> Iterator:
        pages = WarcPages(item.uri, self.cfg.warc, self._language_prefilter)
        for out in pages.read(window, item.start, end):
            if isinstance(out, Page):
                yield out.doc
            elif isinstance(out, BadRecord):
                yield self._record_dead_letter(out.stage, out.reason, out.detail, out.payload, item.uri)
            else:
                self._count(f"warc.{out.counter}")

    def _load_prefilter(self):  # type: ignore[no-untyped-def]
        """The WARC language prefilter (`warc.languages`), on the same detector the language stage uses."""
        if not self.cfg.warc.languages:
            return None
        from pipeline.lib.crawl import LanguagePrefilter
        from pipeline.lib.language import ARABIC_SCRIPT_CODES, LanguageDetector

        detector = LanguageDetector.load(min_confidence=self.cfg.language.min_confidence)
        return LanguagePrefilter(tuple(self.cfg.warc.languages), detector.detect, tuple(ARABIC_SCRIPT_CODES))

    def _jsonl_range(self, item: WorkItem, window: ByteWindow, end: int) -> Iterator:
        """Lines starting in the range. JSONL is UTF-8; `line` counts from the range's first line
        (the file's line numbers in the first range), and a dead letter's error names the byte offset."""
        base = RawDocument(source_uri=item.uri, source_kind="file", encoding="utf_8")
        base.fetched_at.FromDatetime(datetime.fromtimestamp(item.mtime, timezone.utc).replace(tzinfo=None))
        line_no = 0
        for offset, raw in iter_lines(window, item.start, end):
            line_no += 1
            if offset == 0:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield self._record_dead_letter("decode", "undecodable", f"line at byte {offset} is not UTF-8",
                                               raw, item.uri, line_no)
                continue
            try:
                record = parse_jsonl_record(text)
            except BadInput as exc:
                yield self._record_dead_letter("decode", exc.reason, f"{exc} (line at byte {offset})",
                                               raw, item.uri, line_no)
                continue
            yield jsonl_document(base, record, line_no)

    def process_one(self, element: tuple) -> Iterable[RawDocument]:
        uri, size, mtime = WorkItem.from_element(element)[:3]
        info = ObjectInfo(uri, size, datetime.fromtimestamp(mtime, timezone.utc))
        limit = self.cfg.input.max_file_bytes
        if size > limit:
            raise BadInput("too_large", f"file is {size} bytes, over the input.max_file_bytes limit of {limit}")
        try:
            data = self._storage(uri).read_bytes(uri, limit=limit)
        except FileNotFoundError:
            raise BadInput("vanished", "file disappeared before it could be read") from None
        except PermissionError:
            raise BadInput("unreadable", "permission denied") from None
        if len(data) > limit:
            raise BadInput("too_large", f"file is over the input.max_file_bytes limit of {limit}")
        out = []
        for item in raw_documents(info, data, self.cfg):
            if isinstance(item, tuple):
                _, line_no, text, exc = item
                letter = dead_letter("decode", exc.reason, str(exc), text.encode("utf-8", "replace"))
                letter.source_uri, letter.line = uri, line_no
                Metrics.counter(METRICS_NAMESPACE, f"dead_letter.decode.{exc.reason}").inc()
                self._line_dead.inc()
                progress.add("dead_letters")
                out.append(beam.pvalue.TaggedOutput(DEAD, letter))
            else:
                out.append(item)
        return out


class ReadFile(Stage):
    """Work item (pipeline/io/ranges.py; also a plain (uri, size, mtime)) → RawDocument, plus dead letters."""

    step = "ReadFile"

    def __init__(self, cfg: Config, settings: S3Settings | None) -> None:
        super().__init__()
        self.cfg = cfg
        self.settings = settings

    def make_fn(self) -> StageFn:
        return _ReadFileFn(self.cfg, self.settings)


class ReadFiles(beam.PTransform):
    """Files (already expanded to ObjectInfo) → RawDocument, plus dead letters."""

    def __init__(self, files: list[ObjectInfo], cfg: Config, settings: S3Settings | None) -> None:
        super().__init__()
        self.files = files
        self.cfg = cfg
        self.settings = settings

    def expand(self, pbegin):  # type: ignore[no-untyped-def]
        # Each work item (a file, or a byte range of a big WARC/JSONL file) is spread on its own.
        listing = [tuple(item) for item in plan_work(self.files, self.cfg.input.range_bytes)]
        files = (
            pbegin
            | "ListFiles" >> beam.Create(listing)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        return files | "ReadFile" >> ReadFile(self.cfg, self.settings)


