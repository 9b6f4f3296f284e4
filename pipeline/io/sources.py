"""Sources: expand inputs (paths, globs, s3:// URIs) and read them into RawDocument records.

Every file that cannot become text (binary, undecodable, truncated gzip, too large, invalid JSONL
line) becomes a dead letter with the stage and reason, never a crash and never a silent drop.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline import progress
from pipeline.config import Config, S3Settings
from pipeline.io.storage import ObjectInfo, Storage, StorageError, has_glob, is_s3
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

    def _storage(self, uri: str) -> Storage:
        key = is_s3(uri)
        if key not in self._storages:
            self._storages[key] = Storage.for_uri(uri, self.settings)
        return self._storages[key]

    def process_one(self, element: tuple[str, int, float]) -> Iterable[RawDocument]:
        uri, size, mtime = element
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
    """(uri, size, mtime) → RawDocument, plus dead letters."""

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
        listing = [(f.uri, f.size, f.mtime.timestamp()) for f in self.files]
        files = (
            pbegin
            | "ListFiles" >> beam.Create(listing)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        return files | "ReadFile" >> ReadFile(self.cfg, self.settings)


