"""`newspipe feeds` end to end against a real HTTP server on 127.0.0.1: two `--once` runs in a row
(separate processes) write each entry once, failures are dead letters with exit 0, state on MinIO,
and `--every` stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from feedkit import OUTLET, FeedServer, Static, atom, items, rss, status

from pipeline.config import Config, EnrichConfig, FeedsConfig, s3_settings
from pipeline.io.feeds import state_uri
from pipeline.io.sinks import read_articles, read_dead_letters
from pipeline.run import run_feeds

ROOT = Path(__file__).resolve().parents[2]
ITEMS = items()
# Enrichment stages other than language are covered elsewhere; leaving them out keeps this fast.
CONFIG = """
enrich: {entities: false, topics: false, stories: false}
feeds:
  allowed_networks: ["127.0.0.1/32"]
  read_timeout_seconds: 2.0
"""


@pytest.fixture()
def server():
    srv = FeedServer().start()
    srv.routes.update({
        "/feed.xml": Static(rss(ITEMS), etag='"e1"'),
        "/atom.xml": Static(atom(ITEMS[:4]), content_type="application/atom+xml"),
        "/empty.xml": Static(rss([])),
        "/500": status(500),
    })
    yield srv
    srv.stop()


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "feeds", *args], capture_output=True, text=True, check=False,
                          timeout=timeout, cwd=ROOT)


def test_feeds_once_twice_writes_each_entry_once(server: FeedServer, tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    out = str(tmp_path / "out")
    feed = server.url("/feed.xml")

    first = _cli("--feed", feed, "--feed", server.url("/500"), "--output", out, "--once", "--config", str(config),
                 "--json", "-q")
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["articles"] == 10 and summary["dead_letters_by_reason"] == {"feed.http_500": 1}
    rows = read_articles(out)
    assert sorted(r["title"] for r in rows) == sorted(it.title for it in ITEMS)
    by_url = {r["url"]: r for r in rows}
    row = by_url[ITEMS[3].link]
    assert (row["source_kind"], row["page_format"], row["outlet"], row["source_uri"]) == ("feed", "feed", OUTLET, feed)
    assert row["title"] == ITEMS[3].title and row["paragraphs"] == list(ITEMS[3].paragraphs)
    assert row["published_at"].isoformat().startswith("2023-09-24T08:03:00") and row["language"] == "ar"
    assert [(d["stage"], d["reason"]) for d in read_dead_letters(out)] == [("feed", "http_500")]
    assert Path(state_uri(out, feed)).exists() and not Path(state_uri(out, server.url("/500"))).exists()

    second = _cli("--feed", feed, "--output", out, "--once", "--config", str(config), "--json", "-q")
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads(second.stdout)
    assert again["articles"] == 0 and again["dead_letters"] == 0
    assert server.hits("/feed.xml")[-1].headers.get("if-none-match") == '"e1"'
    manifest = json.loads(Path(again["manifest_uri"]).read_text(encoding="utf-8"))
    assert manifest["mode"] == "feeds" and manifest["feeds"][0]["status"] == "not_modified"
    assert len(read_articles(out)) == 10


def test_refused_feed_address_is_a_dead_letter_not_a_failure(server: FeedServer, tmp_path: Path) -> None:
    # Default config: loopback is refused, so nothing is fetched at all.
    result = _cli("--feed", server.url("/feed.xml"), "--output", str(tmp_path / "out"), "--once", "--json", "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["articles"] == 0 and summary["dead_letters_by_reason"] == {"feed.blocked_address": 1}
    assert server.hits("/feed.xml") == []


def test_bad_feed_argument_is_a_user_error(tmp_path: Path) -> None:
    result = _cli("--feed", "ftp://example.com/feed.xml", "--output", str(tmp_path / "out"), "--once")
    assert result.returncode == 2 and "scheme 'ftp' is not allowed" in result.stderr


def _start_every(server: FeedServer, tmp_path: Path, path: str, config_text: str = CONFIG) -> subprocess.Popen:
    config = tmp_path / "feeds.yaml"
    config.write_text(config_text, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "feeds", "--feed", server.url(path), "--output", str(tmp_path / "out"),
         "--every", "1s", "--config", str(config), "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _seconds_to_exit_after(proc: subprocess.Popen, sig: int) -> tuple[float, str]:
    """Send `sig`; how long the process took to exit (it is killed, and the test fails, after 30 s)."""
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return time.monotonic() - sent, stderr


# The bound is enforced by the process itself (a watchdog exits 4 s after the signal whatever the threads
# are doing), so load on the machine adds scheduling delay only, not another run's worth of time.
STOP_BOUND_SECONDS = 5.0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_every_polls_until_interrupted(server: FeedServer, tmp_path: Path, sig: int) -> None:
    proc = _start_every(server, tmp_path, "/empty.xml")
    runs = tmp_path / "out" / "_runs"

    def committed() -> int:
        return len(list(runs.glob("*/manifest.json")))

    # Wait for two committed runs, not two hits: a signal after the second poll but before its commit
    # rightly leaves that run out (all or nothing), which is not what this test is about.
    deadline = time.monotonic() + 120
    while committed() < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert committed() >= 2, proc.stderr.read() if proc.poll() is not None else f"{committed()} runs committed"
    assert len(server.hits("/empty.xml")) >= 2
    took, stderr = _seconds_to_exit_after(proc, sig)
    assert proc.returncode == 0, stderr[-2000:]
    assert "stopped" in stderr
    assert took <= STOP_BOUND_SECONDS, f"exited {took:.1f} s after the signal"


def test_every_stops_mid_run_and_commits_all_or_nothing(server: FeedServer, tmp_path: Path) -> None:
    """A signal while the pipeline runs: out within the bound, and rows and feed state both or neither."""
    proc = _start_every(server, tmp_path, "/feed.xml", CONFIG.replace("stories: false", "stories: true"))
    deadline = time.monotonic() + 120
    while not server.hits("/feed.xml") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert server.hits("/feed.xml"), "the feed was never polled"
    time.sleep(0.5)  # the poll is done; the run (model loading, pipeline) takes seconds
    took, stderr = _seconds_to_exit_after(proc, signal.SIGTERM)
    assert proc.returncode == 0, stderr[-2000:]
    assert took <= STOP_BOUND_SECONDS, f"exited {took:.1f} s after the signal"
    out = tmp_path / "out"
    rows = read_articles(str(out)) if (out / "articles").exists() else []
    state = Path(state_uri(str(out), server.url("/feed.xml")))
    assert bool(rows) == state.exists(), f"{len(rows)} rows but feed state {'present' if state.exists() else 'absent'}"
    if rows:
        assert len(rows) == len(ITEMS)


@pytest.mark.minio
def test_feed_state_on_minio(server: FeedServer, s3_bucket: str, minio_client) -> None:
    cfg = Config(enrich=EnrichConfig(entities=False, topics=False, stories=False),
                 feeds=FeedsConfig(allowed_networks=("127.0.0.1/32",)))
    out = f"s3://{s3_bucket}/feeds"
    feed = server.url("/atom.xml")
    first = run_feeds([feed], out, cfg)
    assert first.articles == 4
    key = state_uri(out, feed).split(f"s3://{s3_bucket}/", 1)[1]
    state = json.loads(minio_client.get_object(s3_bucket, key).read())
    assert state["seen"] == [it.guid for it in reversed(ITEMS[:4])]
    second = run_feeds([feed], out, cfg)  # the server sends no ETag: the body hash says "unchanged"
    assert second.articles == 0 and second.dead_letters == 0
    rows = read_articles(out, s3_settings(cfg))
    assert sorted(r["title"] for r in rows) == sorted(it.title for it in ITEMS[:4])
