"""The Parquet/JSONL row schema of `articles` and `dead_letters`, and proto → row conversion.

SCHEMA_VERSION is written into every Parquet file's metadata; bump it (and keep a reader test
for the old version) whenever a column changes meaning or type.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from pipeline.protos.article_pb2 import Article
from pipeline.protos.dead_letter_pb2 import DeadLetter

SCHEMA_VERSION = "1"
_TS = pa.timestamp("us", tz="UTC")

ENTITY = pa.struct(
    [("surface", pa.string()), ("type", pa.string()), ("canonical", pa.string()),
     ("wikidata_id", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("in_title", pa.bool_())]
)
TOPIC = pa.struct([("code", pa.string()), ("label", pa.string()), ("score", pa.float32())])
RELATED = pa.struct([("headline", pa.string()), ("summary", pa.string()), ("byline", pa.string())])

ARTICLE_SCHEMA = pa.schema(
    [
        ("id", pa.string()), ("source_uri", pa.string()), ("source_kind", pa.string()),
        ("page_format", pa.string()), ("role", pa.string()), ("outlet", pa.string()), ("url", pa.string()),
        ("title", pa.string()), ("body", pa.string()), ("paragraphs", pa.list_(pa.string())),
        ("image_captions", pa.list_(pa.string())), ("published_at", _TS), ("published_raw", pa.string()),
        ("ingested_at", _TS), ("source_modified_at", _TS), ("language", pa.string()),
        ("language_confidence", pa.float32()), ("entities", pa.list_(ENTITY)), ("topics", pa.list_(TOPIC)),
        ("keywords", pa.list_(pa.string())), ("keywords_raw", pa.string()), ("related", pa.list_(RELATED)),
        ("content_hash", pa.string()), ("story_id", pa.string()), ("duplicate_of", pa.string()),
        ("pipeline_version", pa.string()), ("warc_file", pa.string()), ("warc_offset", pa.int64()),
    ],
    metadata={"newspipe.schema_version": SCHEMA_VERSION, "newspipe.record": "article"},
)


def _ts(msg: Any, name: str) -> datetime | None:
    return getattr(msg, name).ToDatetime(tzinfo=timezone.utc) if msg.HasField(name) else None


def article_row(a: Article) -> dict[str, Any]:
    return {
        "id": a.id, "source_uri": a.source_uri, "source_kind": a.source_kind, "page_format": a.page_format,
        "role": a.role, "outlet": a.outlet, "url": a.url, "title": a.title, "body": a.body,
        "paragraphs": list(a.paragraphs), "image_captions": list(a.image_captions),
        "published_at": _ts(a, "published_at"), "published_raw": a.published_raw,
        "ingested_at": _ts(a, "ingested_at"), "source_modified_at": _ts(a, "source_modified_at"),
        "language": a.language, "language_confidence": a.language_confidence,
        "entities": [
            {"surface": e.surface, "type": e.type, "canonical": e.canonical, "wikidata_id": e.wikidata_id,
             "start": e.start, "end": e.end, "in_title": e.in_title}
            for e in a.entities
        ],
        "topics": [{"code": t.code, "label": t.label, "score": t.score} for t in a.topics],
        "keywords": list(a.keywords), "keywords_raw": a.keywords_raw,
        "related": [{"headline": r.headline, "summary": r.summary, "byline": r.byline} for r in a.related],
        "content_hash": a.content_hash, "story_id": a.story_id, "duplicate_of": a.duplicate_of or None,
        "pipeline_version": a.pipeline_version,
        "warc_file": a.warc_file or None, "warc_offset": a.warc_offset if a.warc_file else None,
    }


def articles_table(articles: list[Article]) -> pa.Table:
    return pa.Table.from_pylist([article_row(a) for a in articles], schema=ARTICLE_SCHEMA)


def json_ready(row: dict[str, Any]) -> dict[str, Any]:
    """Timestamps as ISO-8601 strings, for JSONL output."""
    return {k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v) for k, v in row.items()}


def dead_letter_row(d: DeadLetter) -> dict[str, Any]:
    try:
        payload, encoding = d.payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(d.payload).decode("ascii"), "base64"
    return {
        "stage": d.stage, "reason": d.reason, "error": d.error, "source_uri": d.source_uri, "line": d.line,
        "failed_at": _ts(d, "failed_at"), "run_id": d.run_id, "payload_type": d.payload_type,
        "payload_encoding": encoding, "payload": payload, "payload_truncated": d.payload_truncated,
    }


def dead_letter_from_row(row: dict[str, Any]) -> DeadLetter:
    """Inverse of dead_letter_row, for re-driving dead letters after a fix."""
    raw = row.get("payload", "")
    payload = base64.b64decode(raw) if row.get("payload_encoding") == "base64" else raw.encode("utf-8")
    return DeadLetter(
        stage=row.get("stage", ""), reason=row.get("reason", ""), error=row.get("error", ""),
        source_uri=row.get("source_uri", ""), line=int(row.get("line") or 0), payload=payload,
        payload_type=row.get("payload_type", ""), run_id=row.get("run_id", ""),
        payload_truncated=bool(row.get("payload_truncated")),
    )


STORY_ENTITY = pa.struct([("name", pa.string()), ("wikidata_id", pa.string()), ("articles", pa.int32())])
STORY_SCHEMA = pa.schema(
    [
        ("story_id", pa.string()), ("merged_into", pa.string()), ("first_published", _TS),
        ("last_published", _TS), ("article_count", pa.int64()), ("outlets", pa.list_(pa.string())),
        ("languages", pa.list_(pa.string())), ("top_entities", pa.list_(STORY_ENTITY)), ("title", pa.string()),
        ("updated_at", _TS),
    ],
    metadata={"newspipe.schema_version": SCHEMA_VERSION, "newspipe.record": "story"},
)
