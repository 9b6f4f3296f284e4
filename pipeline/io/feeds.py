"""Feed source: poll feeds in the driver (safe fetch, conditional GET, per-feed state) and hand the
new entries to the pipeline as a `FeedSource` PTransform, like `ReadFiles` for files.

State per feed (seen entry ids, ETag, Last-Modified) lives in
`<output>/_state/feeds/<sha256 of the feed URL>.json` through `Storage`, so it works on s3:// and
across processes. It is written only by `FeedPoll.commit()`, which the driver calls after the
pipeline succeeded: a crash in between re-emits entries next time (ids are stable, the sink skips
rows already present) rather than losing them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.config import Config, S3Settings
from pipeline.io.http import FetchError, FetchPolicy, fetch
from pipeline.io.storage import ObjectInfo, Storage, is_s3, join
from pipeline.lib.decode import BadInput, decode_text
from pipeline.lib.feeds import FeedEntry, parse_feed
from pipeline.protos.article_pb2 import RawDocument
from pipeline.protos.dead_letter_pb2 import DeadLetter
from pipeline.transforms.base import METRICS_NAMESPACE, dead_letter

log = logging.getLogger("newspipe.feeds")

STAGE = "feed"
STATE_VERSION = 1
Fetcher = Callable[..., Any]  # signature of pipeline.io.http.fetch


def is_url(feed: str) -> bool:
    return feed.lower().startswith(("http://", "https://"))


def state_uri(output: str, feed: str) -> str:
    """Where a feed's state lives; a local feed file is keyed by its absolute path."""
    key = feed if is_url(feed) or "://" in feed else os.path.abspath(feed)
    return join(output, "_state", "feeds", hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json")


@dataclass
class FeedState:
    feed: str
    etag: str = ""
    last_modified: str = ""
    body_sha256: str = ""  # of the last body processed: an unchanged body needs no work even without ETag
    seen: list[str] = field(default_factory=list)  # entry ids, newest first
    updated_at: str = ""

    def to_json(self) -> bytes:
        body = {"version": STATE_VERSION, **self.__dict__}
        return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def load(cls, storage: Storage, output: str, feed: str) -> FeedState:
        uri = state_uri(output, feed)
        if storage.stat(uri) is None:  # first poll of this feed into this output
            return cls(feed)
        raw = storage.read_bytes(uri)
        try:
            data = json.loads(raw)
            return cls(
                feed=feed, etag=str(data.get("etag", "")), last_modified=str(data.get("last_modified", "")),
                body_sha256=str(data.get("body_sha256", "")), seen=[str(x) for x in data.get("seen", [])],
                updated_at=str(data.get("updated_at", "")),
            )
        except (ValueError, AttributeError, TypeError):
            log.warning("feed state %s is unreadable; starting that feed afresh", uri)
            return cls(feed)


@dataclass
class FeedReport:
    """What one poll of one feed did; goes into the run manifest."""

    feed: str
    status: str  # new | unchanged | not_modified | failed
    entries: int = 0
    new_entries: int = 0
    dead_letters: int = 0
    pages_fetched: int = 0
    pages_failed: int = 0
    reason: str = ""
    size: int = 0
    etag: str = ""


@dataclass
class FeedPoll:
    """Everything one poll of all feeds produced, and the state to write once the run succeeded."""

    output: str
    storage: Storage
    docs: list[RawDocument] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    reports: list[FeedReport] = field(default_factory=list)
    pending: list[FeedState] = field(default_factory=list)
    polled_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def inputs(self) -> list[ObjectInfo]:
        return [ObjectInfo(r.feed, r.size, self.polled_at, r.etag) for r in self.reports]

    def commit(self) -> None:
        """Write each polled feed's state. Call only after the run's articles are committed."""
        for state in self.pending:
            self.storage.write_bytes(state_uri(self.output, state.feed), state.to_json())


def _letter(reason: str, error: str, feed: str, payload: bytes = b"") -> DeadLetter:
    return dead_letter(STAGE, reason, error, (feed, payload))


def _read_local(feed: str, limit: int, settings: S3Settings | None) -> tuple[bytes, str]:
    data = Storage.for_uri(feed, settings).read_bytes(feed, limit=limit)
    if len(data) > limit:
        raise FetchError("too_large", f"feed file is over feeds.max_feed_bytes ({limit})", feed)
    return data, ""


def _entry_doc(feed: str, outlet: str, entry: FeedEntry, fetched_at: datetime) -> RawDocument:
    doc = RawDocument(
        source_uri=feed, source_kind="feed", content_type=entry.content_type, text=entry.text, title=entry.title,
        url=entry.link, published=entry.published, outlet=outlet, encoding="utf_8",
    )
    doc.fetched_at.FromDatetime(fetched_at.astimezone(timezone.utc).replace(tzinfo=None))
    return doc


def _fetch_page(doc: RawDocument, policy: FetchPolicy, fetcher: Fetcher) -> bool:
    """Replace the entry's text by its full page (HTML); False (text kept) when that fails."""
    try:
        page = fetcher(doc.url, policy)
        text, _ = decode_text(page.body)
    except (FetchError, BadInput) as exc:
        log.warning("page %s not fetched (%s): %s", doc.url, getattr(exc, "reason", "error"), exc)
        return False
    if not text.strip():
        return False
    doc.text, doc.content_type, doc.url = text, "html", page.url
    return True


def poll_feed(
    feed: str,
    state: FeedState,
    cfg: Config,
    *,
    settings: S3Settings | None = None,
    fetcher: Fetcher = fetch,
    now: datetime | None = None,
) -> tuple[list[RawDocument], list[DeadLetter], FeedReport, FeedState | None]:
    """Poll one feed: (new entries as RawDocuments, dead letters, report, state to commit or None)."""
    now = now or datetime.now(timezone.utc)
    report = FeedReport(feed, "failed")
    policy = FetchPolicy.from_config(cfg.feeds)
    try:
        if is_url(feed):
            result = fetcher(feed, policy, etag=state.etag, last_modified=state.last_modified)
            if result.not_modified:
                report.status, report.etag = "not_modified", state.etag
                return [], [], report, None
            data, content_type = result.body, result.content_type
            etag, last_modified = result.etag, result.last_modified
        else:
            data, content_type = _read_local(feed, cfg.feeds.max_feed_bytes, settings)
            etag, last_modified = "", ""
    except FetchError as exc:
        report.reason, report.dead_letters = exc.reason, 1
        return [], [_letter(exc.reason, f"{feed}: {exc}", feed)], report, None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        report.reason, report.dead_letters = "unreadable", 1
        return [], [_letter("unreadable", f"{feed}: {exc.__class__.__name__}", feed)], report, None
    report.size, report.etag = len(data), etag
    body_sha = hashlib.sha256(data).hexdigest()
    new_state = FeedState(feed, etag, last_modified, body_sha, list(state.seen), now.isoformat())
    if body_sha == state.body_sha256:
        report.status = "unchanged"
        return [], [], report, new_state

    parsed = parse_feed(data, feed, content_type)
    dead = []
    for reason, detail in parsed.problems:
        # The whole document is the payload only where the feed itself is at fault.
        payload = data if reason in ("malformed_feed", "not_a_feed", "unsafe_dtd") else b""
        dead.append(_letter(reason, f"{feed}: {detail}", feed, payload))
    seen = set(state.seen)
    fresh: list[FeedEntry] = []
    for entry in parsed.entries:
        if entry.entry_id not in seen:
            seen.add(entry.entry_id)
            fresh.append(entry)
    outlet = parsed.title.strip()
    docs = [_entry_doc(feed, outlet, entry, now) for entry in fresh]
    if cfg.feeds.fetch_pages:
        page_policy = FetchPolicy.from_config(cfg.feeds, max_bytes=cfg.feeds.max_page_bytes)
        for doc in docs:
            if doc.url and is_url(doc.url):
                ok = _fetch_page(doc, page_policy, fetcher)
                report.pages_fetched += ok
                report.pages_failed += not ok
    new_state.seen = ([e.entry_id for e in reversed(fresh)] + state.seen)[: cfg.feeds.max_remembered_ids]
    report.status = "new" if docs else "unchanged"
    report.entries, report.new_entries, report.dead_letters = len(parsed.entries), len(docs), len(dead)
    return docs, dead, report, new_state


def poll_feeds(
    feeds: Sequence[str],
    output: str,
    storage: Storage,
    cfg: Config,
    *,
    settings: S3Settings | None = None,
    fetcher: Fetcher = fetch,
    now: datetime | None = None,
) -> FeedPoll:
    """Poll every feed once (in order, each at most once). One feed's failure is its dead letter;
    the others go on."""
    poll = FeedPoll(output.rstrip("/"), storage, polled_at=now or datetime.now(timezone.utc))
    for feed in dict.fromkeys(feeds):
        state = FeedState.load(storage, poll.output, feed)
        try:
            docs, dead, report, new_state = poll_feed(
                feed, state, cfg, settings=settings, fetcher=fetcher, now=poll.polled_at
            )
        except Exception as exc:
            log.exception("polling %s failed", feed)
            docs, dead, new_state = [], [_letter("error", f"{feed}: {type(exc).__name__}: {exc}", feed)], None
            report = FeedReport(feed, "failed", reason="error", dead_letters=1)
        log.info("feed %s: %s, %d new entries, %d dead letters", feed, report.status, report.new_entries,
                 report.dead_letters)
        poll.docs += docs
        poll.dead += dead
        poll.reports.append(report)
        if new_state is not None:
            poll.pending.append(new_state)
    return poll


def check_feed_args(feeds: Sequence[str], settings: S3Settings | None) -> None:
    """Reject what can never work before polling: unknown schemes and missing local files."""
    from pipeline.io.sources import InputError

    for feed in feeds:
        scheme = feed.split("://", 1)[0].lower() if "://" in feed else ""
        if scheme and scheme not in ("http", "https", "s3", "file"):
            raise InputError(f"{feed}: feeds are http(s) URLs or files (scheme {scheme!r} is not allowed)")
        if not is_url(feed) and Storage.for_uri(feed, settings).stat(feed) is None:
            raise InputError(f"{feed}: no such feed file; check the path")


def _count_doc(doc: RawDocument) -> RawDocument:
    Metrics.counter(METRICS_NAMESPACE, f"{STAGE}.out").inc()
    return doc


def _count_dead(letter: DeadLetter) -> DeadLetter:
    Metrics.counter(METRICS_NAMESPACE, f"{STAGE}.dead_letters").inc()
    Metrics.counter(METRICS_NAMESPACE, f"dead_letter.{letter.stage}.{letter.reason}").inc()
    return letter


class FeedSource(beam.PTransform):
    """Entries already polled in the driver → (RawDocument, DeadLetter) PCollections, like ReadFiles."""

    def __init__(self, docs: Sequence[RawDocument], dead: Sequence[DeadLetter]) -> None:
        super().__init__()
        self.docs = list(docs)
        self.dead = list(dead)

    def expand(self, pbegin):  # type: ignore[no-untyped-def]
        docs = (
            pbegin
            | "FeedEntries" >> beam.Create(self.docs).with_output_types(RawDocument)
            | "CountFeedEntries" >> beam.Map(_count_doc).with_output_types(RawDocument)
        )
        dead = (
            pbegin
            | "FeedDeadLetters" >> beam.Create(self.dead).with_output_types(DeadLetter)
            | "CountFeedDeadLetters" >> beam.Map(_count_dead).with_output_types(DeadLetter)
        )
        return docs, dead


def feed_settings(feeds: Sequence[str], cfg: Config) -> S3Settings | None:
    from pipeline.config import s3_settings

    return s3_settings(cfg) if any(is_s3(f) for f in feeds) else None
