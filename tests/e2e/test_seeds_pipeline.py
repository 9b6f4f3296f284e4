"""End to end on the DirectRunner: the seeds against the gold, locally and on a real MinIO."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.config import Config, s3_settings
from pipeline.evaluate.seeds import evaluate_rows
from pipeline.io.sinks import read_articles
from pipeline.run import run_batch

CONTENT_COLUMNS = ["id", "title", "body", "paragraphs", "image_captions", "published_at", "outlet", "language",
                   "entities", "topics", "keywords", "related", "content_hash", "story_id", "duplicate_of"]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, seeds_dir: Path):
    out = tmp_path_factory.mktemp("out")
    summary = run_batch([str(seeds_dir / "*")], str(out), Config())
    return out, summary, read_articles(str(out))


def _content(rows: list[dict]) -> list[dict]:
    return sorted(({k: r[k] for k in CONTENT_COLUMNS} for r in rows), key=lambda r: r["id"])


def test_seeds_output_matches_gold(local_run, gold) -> None:
    _, summary, rows = local_run
    assert summary.articles == 10 and summary.dead_letters == 0
    scores = evaluate_rows(rows, gold)
    checks = ["split", "title", "role", "body_start", "body_end", "paragraphs", "captions", "date", "outlet",
              "keywords_raw", "no_boilerplate"]
    assert {k: scores[k] for k in checks} == {k: 1.0 for k in checks}, scores["failures"]
    assert scores["entity_recall"] == 1.0, [f for f in scores["failures"] if f.startswith("entities")]
    assert scores["qid_accuracy"] == 1.0, [f for f in scores["failures"] if f.startswith("qid")]


def test_output_layout_and_manifest(local_run) -> None:
    out, summary, rows = local_run
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    article_files = [f for f in files if f.startswith("articles/")]
    assert article_files and all(
        re.fullmatch(rf"articles/dt=\d{{4}}-\d\d-\d\d/lang=ar/part-{summary.run_id}-[0-9a-f]{{8}}\.parquet", f)
        for f in article_files
    ), article_files
    assert "articles/dt=2023-09-24/lang=ar" in " ".join(article_files)  # 002 main: published 24 Sep 2023
    assert not any(".tmp" in f for f in files)
    manifest = json.loads((out / "_runs" / summary.run_id / "manifest.json").read_text())
    assert manifest["counts"]["articles_written"] == 10
    assert manifest["counts"]["input_files"] == 5 and len(manifest["inputs"]) == 5
    assert manifest["counts"]["per_stage"]["parse.out"] == 10
    assert manifest["dead_letters_by_reason"] == {}
    assert manifest["versions"]["apache_beam"]


def test_rerun_on_same_output_keeps_the_same_rows(local_run, seeds_dir: Path) -> None:
    out, _, rows = local_run
    again = run_batch([str(seeds_dir / "*")], str(out), Config())
    assert again.articles == 0 and again.already_present == 10
    rows_after = read_articles(str(out))
    assert _content(rows_after) == _content(rows)
    assert len({r["id"] for r in rows_after}) == len(rows_after) == 10


@pytest.mark.minio
def test_minio_output_has_the_same_rows(local_run, seeds_dir: Path, s3_bucket: str) -> None:
    _, _, rows = local_run
    uri = f"s3://{s3_bucket}/seeds"
    summary = run_batch([str(seeds_dir / "*")], uri, Config())
    assert summary.articles == 10
    s3_rows = read_articles(uri, s3_settings(Config()))
    assert _content(s3_rows) == _content(rows)


def test_jsonl_output_has_the_same_rows(local_run, seeds_dir: Path, tmp_path: Path) -> None:
    _, _, rows = local_run
    cfg = Config()
    cfg = cfg.replace(output=cfg.output.__class__(format="jsonl"))
    run_batch([str(seeds_dir / "*")], str(tmp_path / "j"), cfg)
    files = sorted((tmp_path / "j" / "articles").rglob("part-*"))
    assert files and all(f.suffix == ".jsonl" for f in files)
    jrows = read_articles(str(tmp_path / "j"))
    assert sorted(r["id"] for r in jrows) == sorted(r["id"] for r in rows)
    by_id = {r["id"]: r for r in rows}
    for r in jrows:
        assert r["body"] == by_id[r["id"]]["body"] and r["entities"] == by_id[r["id"]]["entities"]


@pytest.mark.minio
def test_s3_input_reads_the_same_pages(local_run, seeds_dir: Path, s3_bucket: str, minio_client, tmp_path: Path) -> None:
    _, _, rows = local_run
    for page in sorted(seeds_dir.glob("*.txt")):
        minio_client.fput_object(s3_bucket, f"in/{page.name}", str(page))
    summary = run_batch([f"s3://{s3_bucket}/in/*.txt"], str(tmp_path / "o"), Config())
    assert summary.inputs == 5 and summary.articles == 10
    got = read_articles(str(tmp_path / "o"))
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in rows)


def test_parallel_config_has_the_same_rows(local_run, seeds_dir: Path, tmp_path: Path) -> None:
    """config/parallel.yaml: two worker processes, the same rows and counts as one in-process run."""
    from pipeline.config import load_config

    _, summary, rows = local_run
    cfg = load_config(Path(__file__).resolve().parents[2] / "config" / "parallel.yaml")
    assert cfg.beam["direct_num_workers"] == 2
    parallel = run_batch([str(seeds_dir / "*")], str(tmp_path / "p"), cfg)
    assert parallel.articles == summary.articles == 10
    assert parallel.counters == summary.counters
    assert _content(read_articles(str(tmp_path / "p"))) == _content(rows)
