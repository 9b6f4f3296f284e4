"""Feed parsing (RSS/Atom/RDF/JSON Feed built from the seed articles), entity safety, polling with
state and conditional GET against a real HTTP server, failures as dead letters, and FeedSource."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from feedkit import (
    BILLION_LAUGHS,
    MALFORMED,
    OUTLET,
    FeedServer,
    Static,
    article_page,
    atom,
    big,
    items,
    json_feed,
    rdf,
    redirect,
    rss,
    slow,
    status,
)

from pipeline.config import Config, FeedsConfig
from pipeline.io.feeds import FeedSource, FeedState, poll_feeds, state_uri
from pipeline.io.storage import LocalStorage
from pipeline.lib.feeds import entry_articles, parse_feed, strip_doctype
from pipeline.protos.article_pb2 import RawDocument

ITEMS = items()


def _cfg(**feeds) -> Config:
    base = {"allowed_networks": ("127.0.0.1/32",), "read_timeout_seconds": 1.0, "total_timeout_seconds": 5.0}
    return Config(feeds=FeedsConfig(**{**base, **feeds}))


@pytest.mark.parametrize("render,kind", [(rss, "rss20"), (atom, "atom10"), (rdf, "rss10"), (json_feed, "json1")])
def test_every_format_gives_the_seed_articles(render, kind: str) -> None:
    feed = parse_feed(render(ITEMS), "http://news.example/feed")
    assert feed.kind == kind and feed.title == OUTLET and feed.problems == []
    assert [e.title for e in feed.entries] == [it.title for it in ITEMS]  # RSS item 0 uses &#NNNN; references
    assert [e.link for e in feed.entries] == [it.link for it in ITEMS]
    expected_ids = [it.link for it in ITEMS] if kind == "rss10" else [it.guid for it in ITEMS]
    assert [e.entry_id for e in feed.entries] == expected_ids
    first = feed.entries[0]
    assert first.content_type == ("text" if kind == "rss10" else "html")
    assert first.published  # raw; parsed by pipeline.lib.dates later
    body = entry_articles(first.title, first.text, first.content_type, first.link)
    assert len(body) == 1 and body[0].title == ITEMS[0].title
    assert body[0].paragraphs == list(ITEMS[0].paragraphs)
    assert body[0].page_format == "feed"


def test_identity_falls_back_to_link_then_content_hash() -> None:
    doc = (
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>بلا معرف</title><link>http://news.example/x</link><description>نص</description></item>"
        "<item><title>بلا رابط</title><description>نص آخر</description></item></channel></rss>"
    ).encode()
    a, b = parse_feed(doc).entries
    assert a.entry_id == "http://news.example/x"
    assert b.entry_id.startswith("sha256:") and b.entry_id == parse_feed(doc).entries[1].entry_id


def test_malformed_feed_yields_what_is_recoverable_and_a_problem() -> None:
    feed = parse_feed(MALFORMED, "http://news.example/bad.xml")
    assert [e.title for e in feed.entries][:2] == ["الخبر الأول", "الخبر الثاني"]
    assert "المزيد" in feed.entries[1].text
    # The third item is cut off before its title ends: nothing of it survives.
    assert [reason for reason, _ in feed.problems] == ["malformed_feed", "empty_entry"]


def test_billion_laughs_is_not_expanded() -> None:
    t0 = time.monotonic()
    feed = parse_feed(BILLION_LAUGHS, "http://news.example/lol.xml")
    assert time.monotonic() - t0 < 2.0
    reasons = [reason for reason, _ in feed.problems]
    assert reasons[0] == "unsafe_dtd"
    texts = [feed.title] + [e.title + e.text for e in feed.entries]
    assert all("lollol" not in t and len(t) < 200 for t in texts), texts
    assert [e.entry_id for e in feed.entries] == ["urn:lol:1"]
    stripped, declared = strip_doctype(BILLION_LAUGHS)
    assert declared and b"<!ENTITY" not in stripped and b"<!DOCTYPE" not in stripped
    # The same attack in UTF-16 is caught too (the scan runs on UTF-8).
    utf16 = parse_feed(BILLION_LAUGHS.decode("utf-8").encode("utf-16"), "")
    assert "unsafe_dtd" in [r for r, _ in utf16.problems]
    assert all("lollol" not in e.title + e.text for e in utf16.entries)


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>x</title><item><title>a &xxe;</title><guid>1</guid>'
        "<description>b &xxe;</description></item></channel></rss>"
    ).encode()
    feed = parse_feed(xxe, "")
    assert "TOP-SECRET" not in json.dumps([dataclasses.asdict(e) for e in feed.entries], ensure_ascii=False)
    assert "unsafe_dtd" in [r for r, _ in feed.problems]


def test_html_that_is_not_a_feed() -> None:
    feed = parse_feed(b"<!doctype html><html><body><p>hello</p></body></html>", "http://x/", "text/html")
    assert feed.entries == [] and [r for r, _ in feed.problems] == ["not_a_feed"]


# --------------------------------------------------------------------------- polling


@pytest.fixture()
def server():
    srv = FeedServer().start()
    srv.routes.update({
        "/feed.xml": Static(rss(ITEMS[:6]), etag='"v1"'),
        "/atom.xml": Static(atom(ITEMS[6:]), content_type="application/atom+xml"),  # no ETag: body hash only
        "/500": status(500),
        "/slow": slow(3.0),
        "/big": big(200_000, declare=False),
        "/loop": redirect("/loop"),
        "/private": redirect("http://10.0.0.1/feed.xml"),
        "/bad.xml": Static(MALFORMED),
        "/lol.xml": Static(BILLION_LAUGHS),
    })
    yield srv
    srv.stop()


def test_poll_remembers_entries_and_uses_conditional_get(server: FeedServer, tmp_path: Path) -> None:
    out, storage, cfg = str(tmp_path / "out"), LocalStorage(), _cfg()
    feeds = [server.url("/feed.xml"), server.url("/atom.xml")]
    first = poll_feeds(feeds, out, storage, cfg)
    assert [d.title for d in first.docs] == [it.title for it in ITEMS]
    doc = first.docs[0]
    assert (doc.source_kind, doc.source_uri, doc.url, doc.outlet, doc.content_type) == (
        "feed", feeds[0], ITEMS[0].link, OUTLET, "html")
    assert doc.published == "Sun, 24 Sep 2023 08:00:00 +0000" and first.dead == []

    # Not committed (as after a crash): the same entries come again.
    assert len(poll_feeds(feeds, out, storage, cfg).docs) == 10
    first.commit()
    state = json.loads(Path(state_uri(out, feeds[0])).read_text(encoding="utf-8"))
    assert state["etag"] == '"v1"' and state["seen"] == [it.guid for it in reversed(ITEMS[:6])]

    second = poll_feeds(feeds, out, storage, cfg)
    assert second.docs == [] and [r.status for r in second.reports] == ["not_modified", "unchanged"]
    assert server.hits("/feed.xml")[-1].headers["if-none-match"] == '"v1"'

    # One more entry in the RSS feed: only it is new.
    extra = dataclasses.replace(ITEMS[0], guid="urn:newspipe:extra", title="خبر جديد", link="http://news.example/n")
    server.routes["/feed.xml"] = Static(rss([extra, *ITEMS[:6]]), etag='"v2"')
    second.commit()
    third = poll_feeds(feeds, out, storage, cfg)
    assert [d.title for d in third.docs] == ["خبر جديد"]
    third.commit()
    assert FeedState.load(storage, out, feeds[0]).seen[0] == "urn:newspipe:extra"


def test_failing_feeds_are_dead_letters_and_the_rest_goes_on(server: FeedServer, tmp_path: Path) -> None:
    cfg = _cfg(max_feed_bytes=100_000)
    names = ["/500", "/slow", "/big", "/loop", "/private", "/bad.xml", "/lol.xml", "/feed.xml"]
    t0 = time.monotonic()
    poll = poll_feeds([server.url(n) for n in names], str(tmp_path / "out"), LocalStorage(), cfg)
    assert time.monotonic() - t0 < 8
    got = sorted((letter.source_uri.rsplit("/", 1)[-1], letter.stage, letter.reason) for letter in poll.dead)
    assert got == sorted([
        ("500", "feed", "http_500"), ("slow", "feed", "timeout"), ("big", "feed", "too_large"),
        ("loop", "feed", "redirect_loop"), ("private", "feed", "blocked_address"),
        ("bad.xml", "feed", "malformed_feed"), ("bad.xml", "feed", "empty_entry"), ("lol.xml", "feed", "unsafe_dtd"), ("lol.xml", "feed", "malformed_feed"),
    ])
    malformed = next(d for d in poll.dead if d.reason == "malformed_feed" and d.source_uri.endswith("bad.xml"))
    assert malformed.payload == MALFORMED  # the document is kept for re-driving
    titles = [d.title for d in poll.docs]
    assert titles[:2] == ["الخبر الأول", "الخبر الثاني"] and titles[-6:] == [it.title for it in ITEMS[:6]]
    # Failed fetches leave no state behind, so they are retried next time.
    assert {s.feed.rsplit("/", 1)[-1] for s in poll.pending} == {"bad.xml", "lol.xml", "feed.xml"}


def test_local_feed_files_and_their_size_cap(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_bytes(json_feed(ITEMS[:3]))
    poll = poll_feeds([str(feed)], str(tmp_path / "out"), LocalStorage(), _cfg())
    assert [d.title for d in poll.docs] == [it.title for it in ITEMS[:3]] and poll.dead == []
    small = poll_feeds([str(feed)], str(tmp_path / "out2"), LocalStorage(), _cfg(max_feed_bytes=1000))
    assert small.docs == [] and [d.reason for d in small.dead] == ["too_large"]


def test_fetch_pages_replaces_the_summary_by_the_page(server: FeedServer, tmp_path: Path) -> None:
    linked = [dataclasses.replace(it, link=server.url(f"/articles/{n}.html")) for n, it in enumerate(ITEMS[:2])]
    for n, it in enumerate(linked):
        server.routes[f"/articles/{n}.html"] = Static(article_page(it), content_type="text/html; charset=utf-8")
    short = [dataclasses.replace(it, paragraphs=it.paragraphs[:1]) for it in linked]
    server.routes["/short.xml"] = Static(rss(short))
    poll = poll_feeds([server.url("/short.xml")], str(tmp_path / "out"), LocalStorage(), _cfg(fetch_pages=True))
    assert [r.pages_fetched for r in poll.reports] == [2]
    doc = poll.docs[1]
    assert doc.content_type == "html" and doc.text.startswith("<!DOCTYPE html>")
    articles = entry_articles(doc.title, doc.text, doc.content_type, doc.url)
    assert articles[0].title == linked[1].title
    assert articles[0].paragraphs[-1] == linked[1].paragraphs[-1]  # the full text, not the one-line summary


def test_feed_source_hands_documents_and_dead_letters_to_the_pipeline(server: FeedServer, tmp_path: Path) -> None:
    poll = poll_feeds([server.url("/feed.xml"), server.url("/500")], str(tmp_path / "out"), LocalStorage(), _cfg())
    assert len(poll.docs) == 6 and len(poll.dead) == 1
    with TestPipeline() as p:
        docs, dead = p | "Read" >> FeedSource(poll.docs, poll.dead)
        assert_that(docs | "Titles" >> beam.Map(lambda d: d.title), equal_to([it.title for it in ITEMS[:6]]),
                    label="docs")
        assert_that(dead | "Reasons" >> beam.Map(lambda d: (d.stage, d.reason)), equal_to([("feed", "http_500")]),
                    label="dead")
    assert isinstance(poll.docs[0], RawDocument)
