"""Stories and duplicates that hold across runs, polls and windows (issue 12), end to end with the
real pipeline and the story state under `<output>/_state/stories/`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipeline.config import Config, FeedsConfig, StoriesConfig, load_config
from pipeline.io.sinks import read_articles, read_stories
from pipeline.io.storage import LocalStorage
from pipeline.io.story_state import STATE_DIR, read_all
from pipeline.run import run_batch, run_feeds

ROOT = Path(__file__).resolve().parents[2]
PAIR = ("000_748f4bdf56961c0a.txt", "002_778974e6473988db.txt")  # the gold same-story pair (main articles)
FAST = Config().replace(enrich=Config().enrich.__class__(topics=False, ner_model=False))  # gazetteer entities


def _mains(rows: list[dict]) -> dict[str, dict]:
    return {Path(r["source_uri"]).name: r for r in rows if r["role"] == "main"}


def _segments(out: Path) -> dict[str, bytes]:
    root = out / STATE_DIR
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.parquet") if "_staging" not in p.parts}


def test_incremental_runs_join_the_gold_pair_and_record_the_stories_table(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    shutil.copy(ROOT / "seeds" / PAIR[0], inbox)
    first = run_batch([str(inbox)], str(out), FAST, incremental=True)
    assert first.articles == 2
    shutil.copy(ROOT / "seeds" / PAIR[1], inbox)
    second = run_batch([str(inbox)], str(out), FAST, incremental=True)
    assert second.inputs == 1 and second.articles == 2
    mains = _mains(read_articles(str(out)))
    assert mains[PAIR[0]]["story_id"] and mains[PAIR[0]]["story_id"] == mains[PAIR[1]]["story_id"]
    # The story id is the one the first run wrote; the second run did not rewrite the first row.
    assert len(read_articles(str(out))) == 4
    state = read_all(LocalStorage(), str(out))
    assert len(state) == 4 and {r.story_id for r in state if r.article_id == mains[PAIR[1]]["id"]} == {
        mains[PAIR[0]]["story_id"]}
    stories = [s for s in read_stories(str(out)) if s["story_id"] == mains[PAIR[0]]["story_id"]]
    assert sum(s["article_count"] for s in stories) == 2 and len(stories) == 2  # one row per run that added to it
    assert all(s["top_entities"] and s["title"] for s in stories)
    # One row per story in `newspipe inspect`'s stories view, and a "stories over time" report section.
    from pipeline.io import duck
    from pipeline.report import build_report

    con = duck.connect(str(out))
    (count, outlets, qids), = con.execute(
        "SELECT article_count, outlets, [e.wikidata_id FOR e IN top_entities] FROM stories WHERE story_id = ?",
        [mains[PAIR[0]]["story_id"]]).fetchall()
    assert count == 2 and "Q56226" in qids  # Kim Jong Un
    assert con.execute("SELECT count(*) FROM stories").fetchone()[0] == 3
    page = build_report(str(out), None)
    assert 'id="stories-over-time"' in page and mains[PAIR[1]]["title"] in page


def test_rerun_of_the_same_input_gives_the_same_rows_and_story_ids(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inputs = [str(ROOT / "seeds" / name) for name in PAIR]
    run_batch(inputs, str(out), FAST)
    before = {r["id"]: (r["story_id"], r["duplicate_of"]) for r in read_articles(str(out))}
    state_before = _segments(out)
    again = run_batch(inputs, str(out), FAST)
    assert again.articles == 0 and again.already_present == 4
    after = {r["id"]: (r["story_id"], r["duplicate_of"]) for r in read_articles(str(out))}
    assert after == before and len(before) == 4
    # The same articles again add nothing to the state (no second row per article).
    assert len(read_all(LocalStorage(), str(out))) == 4
    assert set(_segments(out)) == set(state_before)
    assert sum(s["article_count"] for s in read_stories(str(out))) == 4  # counted once


def _jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _seed_article(name: str) -> dict:
    from pipeline.lib.pages import split_page

    art = split_page((ROOT / "seeds" / name).read_text(encoding="utf-8"))[0]
    return {"title": art.title, "body": "\n".join(art.paragraphs)}


def test_a_syndicated_copy_in_a_later_run_points_at_the_earlier_article(tmp_path: Path) -> None:
    out = tmp_path / "out"
    story = _seed_article(PAIR[0])
    _jsonl(tmp_path / "a.jsonl", [{**story, "url": "https://one.example/a", "outlet": "One",
                                   "published": "2024-03-01T08:00:00Z"}])
    _jsonl(tmp_path / "b.jsonl", [{**story, "url": "https://two.example/b", "outlet": "Two",
                                   "published": "2024-03-02T09:00:00Z"}])
    run_batch([str(tmp_path / "a.jsonl")], str(out), FAST)
    earlier = read_articles(str(out))
    assert len(earlier) == 1 and not earlier[0]["duplicate_of"]
    run_batch([str(tmp_path / "b.jsonl")], str(out), FAST)
    rows = {r["url"]: r for r in read_articles(str(out))}
    assert rows["https://two.example/b"]["duplicate_of"] == earlier[0]["id"]
    assert rows["https://two.example/b"]["story_id"] == earlier[0]["story_id"]
    assert not rows["https://one.example/a"]["duplicate_of"]


def test_a_copy_outside_the_window_is_not_linked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    story = _seed_article(PAIR[0])
    _jsonl(tmp_path / "a.jsonl", [{**story, "url": "https://one.example/a", "outlet": "One",
                                   "published": "2024-03-01T08:00:00Z"}])
    _jsonl(tmp_path / "b.jsonl", [{**story, "url": "https://two.example/b", "outlet": "Two",
                                   "published": "2024-03-20T08:00:00Z"}])
    cfg = FAST.replace(stories=StoriesConfig(window_days=7))
    run_batch([str(tmp_path / "a.jsonl")], str(out), cfg)
    run_batch([str(tmp_path / "b.jsonl")], str(out), cfg)
    rows = {r["url"]: r for r in read_articles(str(out))}
    assert not rows["https://two.example/b"]["duplicate_of"]
    assert rows["https://two.example/b"]["story_id"] != rows["https://one.example/a"]["story_id"]


def test_two_feed_polls_join_the_gold_pair(tmp_path: Path) -> None:
    from feedkit import FeedServer, Static, items, rss, seed_articles

    titles = [a.title for a in seed_articles()]
    wanted = [titles.index(_seed_article(name)["title"]) for name in PAIR]
    entries = items()
    srv = FeedServer().start()
    try:
        srv.routes["/feed.xml"] = Static(rss([entries[wanted[0]]]), etag='"1"')
        cfg = FAST.replace(feeds=FeedsConfig(allowed_networks=("127.0.0.1/32",)))
        out = str(tmp_path / "out")
        assert run_feeds([srv.url("/feed.xml")], out, cfg).articles == 1
        srv.routes["/feed.xml"] = Static(rss([entries[wanted[0]], entries[wanted[1]]]), etag='"2"')
        assert run_feeds([srv.url("/feed.xml")], out, cfg).articles == 1
    finally:
        srv.stop()
    rows = read_articles(out)
    assert len(rows) == 2 and rows[0]["story_id"] == rows[1]["story_id"]


def test_two_incremental_runs_started_together_lose_no_story_state(tmp_path: Path) -> None:
    seeds = sorted(p.name for p in (ROOT / "seeds").glob("*.txt"))
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    for name in seeds:
        shutil.copy(ROOT / "seeds" / name, inbox)
    config = tmp_path / "fast.yaml"
    config.write_text("enrich: {topics: false, ner_model: false}\ninput: {chunk_files: 2}\n")
    cmd = [sys.executable, "-m", "pipeline", "run", "--incremental", "-i", str(inbox), "-o", str(out), "--json", "-q",
           "--config", str(config)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(2)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, stderr[-2000:]
    rows = read_articles(str(out))
    state = read_all(LocalStorage(), str(out))
    assert len(rows) == 10 and {r.article_id for r in state} == {r["id"] for r in rows}
    assert {r.article_id: r.story_id for r in state} == {r["id"]: r["story_id"] for r in rows}
    assert not list((out / STATE_DIR / "_staging").rglob("*.parquet"))


def test_a_run_that_fails_before_its_commit_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch([str(ROOT / "seeds" / PAIR[0])], str(out), FAST)
    before = _segments(out)
    assert before
    # A file where the run stages its rows: the pipeline fails, the run commits nothing.
    shutil.rmtree(out / "_staging", ignore_errors=True)
    (out / "_staging").write_text("in the way")
    with pytest.raises(Exception):
        run_batch([str(ROOT / "seeds" / PAIR[1])], str(out), FAST)
    assert _segments(out) == before
    assert not list((out / STATE_DIR / "_staging").rglob("*.parquet"))
    (out / "_staging").unlink()
    run_batch([str(ROOT / "seeds" / PAIR[1])], str(out), FAST)
    mains = _mains(read_articles(str(out)))
    assert mains[PAIR[0]]["story_id"] == mains[PAIR[1]]["story_id"]


def test_killed_run_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch([str(ROOT / "seeds" / PAIR[0])], str(out), FAST)
    before = _segments(out)
    config = tmp_path / "fast.yaml"
    config.write_text("enrich: {topics: false, ner_model: false}\n")
    cmd = [sys.executable, "-m", "pipeline", "run", "-i", str(ROOT / "seeds" / PAIR[1]), "-o", str(out), "-q",
           "--config", str(config)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    staging = out / STATE_DIR / "_staging"
    deadline = datetime.now() + timedelta(seconds=300)
    while proc.poll() is None and datetime.now() < deadline and not list(staging.rglob("seg-*.parquet")):
        pass
    proc.kill()
    proc.wait()
    after = _segments(out)
    # Killed after it staged its segments and before it committed them (or it finished first).
    assert after == before or (proc.returncode == 0 and set(before) < set(after))


@pytest.mark.slow
def test_chunks_give_the_same_stories_as_one_batch(tmp_path: Path) -> None:
    """400 synthetic articles: one pipeline over everything vs 20-file chunks committed one after another."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.synth import write_corpus

    from pipeline.evaluate.stories import partition_scores

    corpus = tmp_path / "corpus"
    write_corpus(corpus, 400, per_file=50)
    one = load_config(None).replace(enrich=FAST.enrich, input=Config().input.__class__(chunk_mb=0, chunk_files=0))
    many = one.replace(input=Config().input.__class__(chunk_mb=0, chunk_files=20))
    batch = run_batch([str(corpus)], str(tmp_path / "one"), one)
    chunked = run_batch([str(corpus)], str(tmp_path / "many"), many)
    assert batch.articles == chunked.articles == 400
    scores = partition_scores(read_articles(str(tmp_path / "one")), read_articles(str(tmp_path / "many")),
                              read_stories(str(tmp_path / "many")))
    assert scores["multi_article_stories"] > 50
    assert scores["pairwise_f1"] >= 0.99 and scores["bcubed_f1"] >= 0.99, scores


def test_stories_keep_their_id_when_merged(tmp_path: Path) -> None:
    """Two earlier stories linked by a later article: both ids stay, the later is merged_into the earlier."""
    out = tmp_path / "out"
    base = _seed_article(PAIR[0])
    words = base["body"].split()
    half = len(words) // 2
    a = {"title": base["title"], "body": " ".join(words[: half + 10]), "url": "https://a.example/1", "outlet": "A",
         "published": "2024-03-01T08:00:00Z"}
    # Five days apart: too far for the same-event rule, so the halves stay two stories.
    b = {"title": "خبر", "body": " ".join(words[half - 10:]), "url": "https://b.example/2", "outlet": "B",
         "published": "2024-03-06T08:00:00Z"}
    bridge = {"title": base["title"], "body": base["body"], "url": "https://c.example/3", "outlet": "C",
              "published": "2024-03-03T20:00:00Z"}
    _jsonl(tmp_path / "a.jsonl", [a])
    _jsonl(tmp_path / "b.jsonl", [b])
    _jsonl(tmp_path / "c.jsonl", [bridge])
    run_batch([str(tmp_path / "a.jsonl")], str(out), FAST)
    run_batch([str(tmp_path / "b.jsonl")], str(out), FAST)
    first = {r["url"]: r["story_id"] for r in read_articles(str(out))}
    if first["https://a.example/1"] == first["https://b.example/2"]:
        pytest.skip("the two halves are one story already")
    run_batch([str(tmp_path / "c.jsonl")], str(out), FAST)
    rows = {r["url"]: r["story_id"] for r in read_articles(str(out))}
    assert {k: rows[k] for k in first} == first  # written ids never change
    merges = {s["story_id"]: s["merged_into"] for s in read_stories(str(out)) if s["merged_into"]}
    assert rows["https://c.example/3"] in (first["https://a.example/1"], first["https://b.example/2"])
    assert merges == {first["https://b.example/2"]: first["https://a.example/1"]}


def test_replay_windows_5h_apart_join_the_gold_pair(tmp_path: Path) -> None:
    """One JSONL file, the pair's articles published 5 h apart: two 1-h windows (own event time per
    article), one story (the second window reads the state the first committed)."""
    from pipeline.run import run_replay

    first, second = (_seed_article(name) for name in PAIR)
    _jsonl(tmp_path / "pair.jsonl", [
        {**first, "url": "https://one.example/a", "outlet": "One", "published": "2024-03-01T08:10:00Z"},
        {**second, "url": "https://two.example/b", "outlet": "Two", "published": "2024-03-01T13:10:00Z"},
    ])
    out = tmp_path / "stream"
    summary = run_replay([str(tmp_path / "pair.jsonl")], str(out), FAST, speedup=10**6, window_seconds=3600)
    assert summary.articles == 2
    rows = read_articles(str(out))
    windows = {r["_file"].split("-w")[-1][:15] for r in rows}
    assert windows == {"20240301T080000", "20240301T130000"}, windows
    assert rows[0]["story_id"] == rows[1]["story_id"]


@pytest.mark.minio
def test_story_state_on_minio(tmp_path: Path, s3_bucket: str) -> None:
    from pipeline.config import s3_settings
    from pipeline.io.storage import Storage

    out = f"s3://{s3_bucket}/stories"
    settings = s3_settings(Config())
    for name in PAIR:
        run_batch([str(ROOT / "seeds" / name)], out, FAST)
    mains = _mains(read_articles(out, settings))
    assert mains[PAIR[0]]["story_id"] == mains[PAIR[1]]["story_id"]
    assert len(read_all(Storage.for_uri(out, settings), out)) == 4
