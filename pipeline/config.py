"""Typed, frozen, strict configuration loaded from YAML.

Defaults live in the dataclasses below (config/default.yaml restates them for users). A file
only needs the keys it changes. Unknown or mistyped keys are a `ConfigError` naming the key and the
file. Secrets never live here: S3 credentials come from the standard AWS_* environment variables.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

RUNNERS = ("direct", "prism", "flink", "dask")


class ConfigError(ValueError):
    """A configuration problem the user can fix; the message is one line naming file and key."""


@dataclass(frozen=True)
class InputConfig:
    max_file_bytes: int = 50 * 1024 * 1024
    max_decompressed_bytes: int = 200 * 1024 * 1024
    # A batch run feeds its inputs through the pipeline in chunks of about this many MiB (or
    # chunk_files files), one after another; each commits its rows and story state before the next
    # starts, so memory does not grow with the input (docs/stories.md). 0 = one chunk.
    chunk_mb: int = 16
    chunk_files: int = 1000
    # .warc/.warc.gz and plain .jsonl files larger than this are read as byte ranges of about this size,
    # each its own work item (record- or line-aligned), so several workers share one file.
    range_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.range_bytes < 4096:
            raise ConfigError(f"'input.range_bytes': {self.range_bytes} is too small; use at least 4096 (bytes)")


@dataclass(frozen=True)
class OutputConfig:
    format: Literal["parquet", "jsonl"] = "parquet"
    max_rows_per_file: int = 50_000


@dataclass(frozen=True)
class LanguageConfig:
    min_confidence: float = 0.5


@dataclass(frozen=True)
class EnrichConfig:
    entities: bool = True
    ner_model: bool = True
    topics: bool = True
    stories: bool = True


@dataclass(frozen=True)
class StoriesConfig:
    """Stories and duplicates across runs (docs/stories.md)."""

    window_days: int = 7  # retention window of the story state, in publication time


@dataclass(frozen=True)
class StorageConfig:
    endpoint: str = ""
    region: str = ""
    retries: int = 5
    backoff_seconds: float = 0.5


@dataclass(frozen=True)
class FeedsConfig:
    """`newspipe feeds`: what may be fetched and how much (see docs/feeds.md)."""

    allow_private_networks: bool = False  # private/loopback/link-local addresses (metadata always refused)
    allowed_networks: tuple[str, ...] = ()  # CIDRs allowed even when private, e.g. ["127.0.0.1/32"]
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 20.0
    total_timeout_seconds: float = 60.0
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    fetch_pages: bool = False  # also fetch each new entry's link and extract the article from the page
    max_remembered_ids: int = 10_000  # entry ids remembered per feed
    user_agent: str = ""  # empty = "newspipe/<version>"

    def __post_init__(self) -> None:
        import ipaddress

        for cidr in self.allowed_networks:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ConfigError(f"'feeds.allowed_networks': {cidr!r} is not an IP network like 127.0.0.1/32") from None


@dataclass(frozen=True)
class WarcConfig:
    """Web-archive input (.warc, .warc.gz): filters applied before parsing (README "Inputs")."""

    allow_hosts: tuple[str, ...] = ()  # empty = every host; "example.com" also covers its subdomains; globs ok
    deny_hosts: tuple[str, ...] = ()
    url_allow: tuple[str, ...] = ()  # regular expressions searched in the target URI; empty = every URL
    url_deny: tuple[str, ...] = ()
    mime_types: tuple[str, ...] = ("text/html", "application/xhtml+xml")
    languages: tuple[str, ...] = ()  # language prefilter on <title> + first KB of text; empty = off
    max_record_bytes: int = 20 * 1024 * 1024  # a record that decompresses to more is a dead letter
    min_text_chars: int = 100  # pages with less visible text outside links (indexes, tag pages) are dropped; 0 = off

    def __post_init__(self) -> None:
        import re

        for key in ("url_allow", "url_deny"):
            for pattern in getattr(self, key):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ConfigError(f"'warc.{key}': {pattern!r} is not a regular expression ({exc})") from None


@dataclass(frozen=True)
class Config:
    runner: Literal["direct", "prism", "flink", "dask"] = "direct"
    input: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)
    enrich: EnrichConfig = field(default_factory=EnrichConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    warc: WarcConfig = field(default_factory=WarcConfig)
    beam: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if origin is tuple and typing.get_args(annotation)[-1] is Ellipsis:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item_type = typing.get_args(annotation)[0]
        return tuple(_check_type(item, item_type, f"{where}[{i}]") for i, item in enumerate(value))
    if origin in (dict,) or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    return value


def _build(cls: type, data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix or 'top level'}' must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (known: {', '.join(names)})"
            raise ConfigError(f"{source}: unknown key '{where}'{hint}")
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            kwargs[key] = _build(annotation, value or {}, source, f"{where}.")
        else:
            kwargs[key] = _check_type(value, annotation, f"{source}: '{where}'")
    return cls(**kwargs)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load `path` (or return defaults when None). Raises ConfigError with a one-line message."""
    if path is None:
        return Config()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found; pass an existing file to --config") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}: not valid YAML{at}; fix the syntax") from None
    return _build(Config, data or {}, source, "")


@dataclass(frozen=True)
class S3Settings:
    """Resolved object-store connection settings. `secret_key` is never printed (repr hides it)."""

    endpoint: str
    region: str
    access_key: str
    secret_key: str = field(repr=False)
    retries: int = 5
    backoff_seconds: float = 0.5

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"S3Settings(endpoint={self.endpoint!r}, region={self.region!r}, access_key='***')"


def s3_settings(cfg: Config, environ: typing.Mapping[str, str] | None = None) -> S3Settings:
    env = os.environ if environ is None else environ
    return S3Settings(
        endpoint=cfg.storage.endpoint or env.get("AWS_ENDPOINT_URL", "") or env.get("AWS_ENDPOINT_URL_S3", ""),
        region=cfg.storage.region or env.get("AWS_REGION", "") or env.get("AWS_DEFAULT_REGION", "") or "us-east-1",
        access_key=env.get("AWS_ACCESS_KEY_ID", ""),
        secret_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
        retries=cfg.storage.retries,
        backoff_seconds=cfg.storage.backoff_seconds,
    )
