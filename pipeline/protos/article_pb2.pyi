import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entity(_message.Message):
    __slots__ = ("surface", "type", "canonical", "wikidata_id", "start", "end", "in_title")
    SURFACE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_FIELD_NUMBER: _ClassVar[int]
    WIKIDATA_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    IN_TITLE_FIELD_NUMBER: _ClassVar[int]
    surface: str
    type: str
    canonical: str
    wikidata_id: str
    start: int
    end: int
    in_title: bool
    def __init__(self, surface: _Optional[str] = ..., type: _Optional[str] = ..., canonical: _Optional[str] = ..., wikidata_id: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., in_title: _Optional[bool] = ...) -> None: ...

class Topic(_message.Message):
    __slots__ = ("code", "label", "score")
    CODE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    code: str
    label: str
    score: float
    def __init__(self, code: _Optional[str] = ..., label: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class Related(_message.Message):
    __slots__ = ("headline", "summary", "byline")
    HEADLINE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    BYLINE_FIELD_NUMBER: _ClassVar[int]
    headline: str
    summary: str
    byline: str
    def __init__(self, headline: _Optional[str] = ..., summary: _Optional[str] = ..., byline: _Optional[str] = ...) -> None: ...

class RawDocument(_message.Message):
    __slots__ = ("source_uri", "source_kind", "content_type", "text", "encoding", "fetched_at", "url", "title", "published", "outlet", "language", "line", "warc_file", "warc_offset")
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    FETCHED_AT_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    OUTLET_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    WARC_FILE_FIELD_NUMBER: _ClassVar[int]
    WARC_OFFSET_FIELD_NUMBER: _ClassVar[int]
    source_uri: str
    source_kind: str
    content_type: str
    text: str
    encoding: str
    fetched_at: _timestamp_pb2.Timestamp
    url: str
    title: str
    published: str
    outlet: str
    language: str
    line: int
    warc_file: str
    warc_offset: int
    def __init__(self, source_uri: _Optional[str] = ..., source_kind: _Optional[str] = ..., content_type: _Optional[str] = ..., text: _Optional[str] = ..., encoding: _Optional[str] = ..., fetched_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., published: _Optional[str] = ..., outlet: _Optional[str] = ..., language: _Optional[str] = ..., line: _Optional[int] = ..., warc_file: _Optional[str] = ..., warc_offset: _Optional[int] = ...) -> None: ...

class Article(_message.Message):
    __slots__ = ("id", "source_uri", "source_kind", "page_format", "outlet", "url", "title", "body", "paragraphs", "image_captions", "published_at", "ingested_at", "language", "language_confidence", "entities", "topics", "keywords", "related", "content_hash", "story_id", "duplicate_of", "pipeline_version", "role", "keywords_raw", "published_raw", "source_modified_at", "warc_file", "warc_offset")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTLET_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    PARAGRAPHS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CAPTIONS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    RELATED_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_RAW_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_RAW_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    WARC_FILE_FIELD_NUMBER: _ClassVar[int]
    WARC_OFFSET_FIELD_NUMBER: _ClassVar[int]
    id: str
    source_uri: str
    source_kind: str
    page_format: str
    outlet: str
    url: str
    title: str
    body: str
    paragraphs: _containers.RepeatedScalarFieldContainer[str]
    image_captions: _containers.RepeatedScalarFieldContainer[str]
    published_at: _timestamp_pb2.Timestamp
    ingested_at: _timestamp_pb2.Timestamp
    language: str
    language_confidence: float
    entities: _containers.RepeatedCompositeFieldContainer[Entity]
    topics: _containers.RepeatedCompositeFieldContainer[Topic]
    keywords: _containers.RepeatedScalarFieldContainer[str]
    related: _containers.RepeatedCompositeFieldContainer[Related]
    content_hash: str
    story_id: str
    duplicate_of: str
    pipeline_version: str
    role: str
    keywords_raw: str
    published_raw: str
    source_modified_at: _timestamp_pb2.Timestamp
    warc_file: str
    warc_offset: int
    def __init__(self, id: _Optional[str] = ..., source_uri: _Optional[str] = ..., source_kind: _Optional[str] = ..., page_format: _Optional[str] = ..., outlet: _Optional[str] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., paragraphs: _Optional[_Iterable[str]] = ..., image_captions: _Optional[_Iterable[str]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ingested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., language: _Optional[str] = ..., language_confidence: _Optional[float] = ..., entities: _Optional[_Iterable[_Union[Entity, _Mapping]]] = ..., topics: _Optional[_Iterable[_Union[Topic, _Mapping]]] = ..., keywords: _Optional[_Iterable[str]] = ..., related: _Optional[_Iterable[_Union[Related, _Mapping]]] = ..., content_hash: _Optional[str] = ..., story_id: _Optional[str] = ..., duplicate_of: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., role: _Optional[str] = ..., keywords_raw: _Optional[str] = ..., published_raw: _Optional[str] = ..., source_modified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warc_file: _Optional[str] = ..., warc_offset: _Optional[int] = ...) -> None: ...
