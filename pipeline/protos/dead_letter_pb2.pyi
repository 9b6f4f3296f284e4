import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeadLetter(_message.Message):
    __slots__ = ("stage", "reason", "error", "source_uri", "payload", "payload_truncated", "failed_at", "run_id", "line", "payload_type")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    reason: str
    error: str
    source_uri: str
    payload: bytes
    payload_truncated: bool
    failed_at: _timestamp_pb2.Timestamp
    run_id: str
    line: int
    payload_type: str
    def __init__(self, stage: _Optional[str] = ..., reason: _Optional[str] = ..., error: _Optional[str] = ..., source_uri: _Optional[str] = ..., payload: _Optional[bytes] = ..., payload_truncated: _Optional[bool] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ..., line: _Optional[int] = ..., payload_type: _Optional[str] = ...) -> None: ...
