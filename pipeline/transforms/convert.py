"""Conversions between pipeline/lib dataclasses and the protobuf records that flow between stages."""

from __future__ import annotations

from datetime import datetime, timezone

from pipeline.lib.model import EntityMention, ParsedArticle, TopicScore
from pipeline.protos.article_pb2 import Article, Entity, RawDocument, Related, Topic


def article_from_parsed(doc: RawDocument, parsed: ParsedArticle) -> Article:
    art = Article(
        source_uri=doc.source_uri,
        source_kind=doc.source_kind,
        page_format=parsed.page_format,
        outlet=parsed.outlet or doc.outlet,
        url=parsed.url or doc.url,
        title=parsed.title or doc.title,
        body=parsed.body,
        paragraphs=parsed.paragraphs,
        image_captions=parsed.image_captions,
        keywords_raw=parsed.keywords_raw,
        published_raw=parsed.published_raw or doc.published,
        role=parsed.role,
        language=parsed.language_hint or doc.language,
        warc_file=doc.warc_file,
        warc_offset=doc.warc_offset,
    )
    art.related.extend(Related(headline=r.headline, summary=r.summary, byline=r.byline) for r in parsed.related)
    if doc.HasField("fetched_at"):
        art.source_modified_at.CopyFrom(doc.fetched_at)
    return art


def entity_proto(m: EntityMention, in_title: bool = False) -> Entity:
    return Entity(
        surface=m.surface,
        type=m.type,
        canonical=m.canonical or m.surface,
        wikidata_id=m.wikidata_id,
        start=m.start,
        end=m.end,
        in_title=in_title,
    )


def topic_proto(t: TopicScore) -> Topic:
    return Topic(code=t.code, label=t.label, score=round(float(t.score), 4))


def set_time(field, value: datetime) -> None:  # type: ignore[no-untyped-def]
    """Set a Timestamp field from an aware datetime (stored as UTC)."""
    field.FromDatetime(value.astimezone(timezone.utc).replace(tzinfo=None))

