"""Re-driving dead letters: turn each back into the input of the stage that failed on it.

A dead letter keeps the record a stage received (RawDocument or Article, serialised), or for a
whole file that could not be read, its URI. After a fix (a larger size limit, a corrected file, a
new model) `newspipe redrive` feeds them in again: files are read anew, JSONL lines are decoded
again, and serialised records re-enter the chain at their stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import apache_beam as beam

from pipeline.config import Config, S3Settings
from pipeline.io.schema import dead_letter_from_row
from pipeline.io.sources import ReadFiles, jsonl_document
from pipeline.io.storage import ObjectInfo, Storage, has_glob, join
from pipeline.lib.decode import BadInput, parse_jsonl_record
from pipeline.protos.article_pb2 import Article, RawDocument


@dataclass
class RedrivePlan:
    files: list[ObjectInfo] = field(default_factory=list)  # read again from their source
    docs: list[RawDocument] = field(default_factory=list)  # re-enter at parse
    resume: dict[str, list[Article]] = field(default_factory=dict)  # stage → articles re-entering there
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count (cannot be re-driven)
    letters: int = 0


def dead_letter_files(uri: str, settings: S3Settings | None) -> list[ObjectInfo]:
    storage = Storage.for_uri(uri, settings)
    pattern = uri if has_glob(uri) or uri.endswith(".jsonl") else join(uri, "**", "part-*.jsonl")
    return storage.list(pattern)


def plan_redrive(uri: str, cfg: Config, settings: S3Settings | None) -> RedrivePlan:
    plan = RedrivePlan()
    storage = Storage.for_uri(uri, settings)
    seen_files: set[str] = set()
    for info in dead_letter_files(uri, settings):
        for line in storage.read_bytes(info.uri).decode("utf-8").splitlines():
            if not line.strip():
                continue
            letter = dead_letter_from_row(json.loads(line))
            plan.letters += 1
            if letter.payload_truncated:
                plan.skipped["payload_truncated"] = plan.skipped.get("payload_truncated", 0) + 1
            elif letter.payload_type == "newspipe.RawDocument":
                plan.docs.append(RawDocument.FromString(letter.payload))
            elif letter.payload_type == "newspipe.Article":
                plan.resume.setdefault(letter.stage, []).append(Article.FromString(letter.payload))
            elif letter.stage == "read" and letter.source_uri:
                if letter.source_uri not in seen_files:
                    seen_files.add(letter.source_uri)
                    source = Storage.for_uri(letter.source_uri, settings).stat(letter.source_uri)
                    if source is None:
                        plan.skipped["source_gone"] = plan.skipped.get("source_gone", 0) + 1
                    else:
                        plan.files.append(source)
            elif letter.stage == "decode" and letter.line:
                plan.docs.extend(_jsonl_line(letter.source_uri, letter.line, letter.payload.decode("utf-8", "replace"), plan))
            else:
                key = f"{letter.stage}.{letter.reason}"
                plan.skipped[key] = plan.skipped.get(key, 0) + 1
    return plan


def _jsonl_line(uri: str, line_no: int, text: str, plan: RedrivePlan) -> list[RawDocument]:
    try:
        record = parse_jsonl_record(text)
    except BadInput as exc:
        plan.skipped[f"decode.{exc.reason}"] = plan.skipped.get(f"decode.{exc.reason}", 0) + 1
        return []
    base = RawDocument(source_uri=uri, source_kind="file", encoding="utf_8")
    base.fetched_at.FromDatetime(datetime.now(timezone.utc).replace(tzinfo=None))
    return [jsonl_document(base, record, line_no)]


class RedriveSource(beam.PTransform):
    """Files read again plus decoded documents, as (RawDocument, dead letters) like ReadFiles."""

    def __init__(self, plan: RedrivePlan, cfg: Config, settings: S3Settings | None) -> None:
        super().__init__()
        self.plan, self.cfg, self.settings = plan, cfg, settings

    def expand(self, pbegin):  # type: ignore[no-untyped-def]
        docs = pbegin | "RedrivenDocuments" >> beam.Create(self.plan.docs)
        if not self.plan.files:
            return docs, pbegin | "NoReadFailures" >> beam.Create([])
        read, dead = pbegin | "ReadAgain" >> ReadFiles(self.plan.files, self.cfg, self.settings)
        return (docs, read) | "AllDocuments" >> beam.Flatten(), dead
