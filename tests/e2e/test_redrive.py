"""`newspipe redrive`: dead letters fed back in after a fix give the rows a clean run would have."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import Config
from pipeline.io.schema import dead_letter_row, json_ready
from pipeline.io.sinks import read_articles, read_dead_letters
from pipeline.protos.article_pb2 import Article
from pipeline.run import run_batch, run_redrive
from pipeline.transforms.base import dead_letter

ROOT = Path(__file__).resolve().parents[2]


def _ids(out: Path) -> set[str]:
    return {r["id"] for r in read_articles(str(out))}


def test_files_rejected_by_a_limit_come_back_after_the_limit_is_raised(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for page in sorted((ROOT / "seeds").glob("*.txt"))[:3]:
        shutil.copy(page, inbox / page.name)
    (inbox / "lines.jsonl").write_text('{"title": "خبر", "body": "نص الخبر هنا."}\n{oops\n', encoding="utf-8")
    strict = Config().replace(input=Config().input.__class__(max_file_bytes=9000))
    out = tmp_path / "out"
    first = run_batch([str(inbox)], str(out), strict)
    assert first.dead_letters >= 2 and first.dead_letters_by_reason.get("read.too_large", 0) >= 1
    clean = tmp_path / "clean"
    run_batch([str(inbox)], str(clean), Config())

    result = CliRunner().invoke(app, ["redrive", str(out / "dead_letters"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["articles"] > 0
    assert _ids(out) == _ids(clean)  # the rows a clean run has: no more, no fewer
    again = run_redrive(str(out / "dead_letters"), None, Config())
    assert again.articles == 0  # nothing is written twice
    # The JSONL line that is still broken stays a dead letter.
    assert any(d["reason"] == "invalid_json" for d in read_dead_letters(str(out)))


def test_a_record_re_enters_at_the_stage_that_failed(tmp_path: Path) -> None:
    body = "قال وزير الخارجية الروسي سيرغي لافروف في موسكو إن روسيا ستواصل المحادثات."
    article = Article(title="لافروف في موسكو", body=body, paragraphs=[body], source_uri="mem://a", id="abc",
                      content_hash="h", language="ar")
    letter = dead_letter("entities", "error", "RuntimeError: model crashed", article)
    day = tmp_path / "out" / "dead_letters" / "dt=2026-01-01"
    day.mkdir(parents=True)
    (day / "part-r-1.jsonl").write_text(
        json.dumps(json_ready(dead_letter_row(letter)), ensure_ascii=False) + "\n", encoding="utf-8"
    )
    summary = run_redrive(str(tmp_path / "out" / "dead_letters"), None, Config())
    assert summary.articles == 1
    (row,) = read_articles(str(tmp_path / "out"))
    assert row["id"] == "abc" and {e["wikidata_id"] for e in row["entities"]} >= {"Q649", "Q159"}
    assert row["topics"]  # the stages after the failed one ran too
