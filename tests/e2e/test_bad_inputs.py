"""A folder of mixed bad files: exit 0, one dead letter per bad input with a reason, counts in the manifest."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io.sinks import read_articles, read_dead_letters

ARTICLE = "عنوان خبر تجريبي عن الاقتصاد\n\nقال وزير المالية إن النمو الاقتصادي تحسن خلال الربع الثالث من العام.\n\nوأضاف أن الحكومة ستواصل الإصلاحات.\n"


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    (src / "empty.txt").write_bytes(b"")
    (src / "binary.bin").write_bytes(os.urandom(3000))
    (src / "windows1256.txt").write_bytes(ARTICLE.replace("الاقتصاد", "السوق").encode("cp1256"))
    (src / "utf16.txt").write_bytes(ARTICLE.replace("الاقتصاد", "الطاقة").encode("utf-16"))
    (src / "truncated.txt.gz").write_bytes(gzip.compress(ARTICLE.encode())[:-15])
    good = {"title": "خبر بصيغة JSONL", "body": "نص الخبر الأول في السطر.", "url": "https://example.org/1"}
    (src / "feed.jsonl").write_text(json.dumps(good, ensure_ascii=False) + "\n{broken json\n", encoding="utf-8")
    (src / "huge.txt").write_bytes(ARTICLE.encode() * 2000)
    cfg = src.parent / "small.yaml"
    cfg.write_text("input:\n  max_file_bytes: 100000\n")
    out = src.parent / "out"
    result = CliRunner().invoke(
        app, ["run", "--input", str(src), "--output", str(out), "--config", str(cfg), "--json"], catch_exceptions=False
    )
    return result, out


def test_run_exits_zero_and_reports_dead_letters(bad_run) -> None:
    result, out = bad_run
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["articles"] == 3  # windows-1256, utf-16, the good JSONL line
    assert summary["dead_letters"] == 5
    assert summary["dead_letters_by_reason"] == {
        "read.too_large": 1,
        "read.empty": 1,
        "read.binary_content": 1,
        "read.truncated_gzip": 1,
        "decode.invalid_json": 1,
    }


def test_each_bad_input_is_one_dead_letter_with_reason(bad_run) -> None:
    _, out = bad_run
    letters = read_dead_letters(str(out))
    by_file = {(Path(d["source_uri"]).name, d["reason"]): d for d in letters}
    assert set(by_file) == {
        ("empty.txt", "empty"), ("binary.bin", "binary_content"), ("truncated.txt.gz", "truncated_gzip"),
        ("feed.jsonl", "invalid_json"), ("huge.txt", "too_large"),
    }
    assert by_file[("feed.jsonl", "invalid_json")]["line"] == 2
    assert by_file[("feed.jsonl", "invalid_json")]["payload"] == "{broken json"
    manifest = json.loads(next((out / "_runs").glob("*/manifest.json")).read_text())
    assert manifest["counts"]["dead_letters"] == 5


def test_legacy_encodings_decode_to_the_same_text(bad_run) -> None:
    _, out = bad_run
    titles = {r["title"] for r in read_articles(str(out))}
    assert {"عنوان خبر تجريبي عن السوق", "عنوان خبر تجريبي عن الطاقة", "خبر بصيغة JSONL"} == titles


def test_missing_input_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--input", str(tmp_path / "nope*.txt"), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no file matches" in result.output and "Traceback" not in result.output


def test_bad_config_key_is_a_one_line_error(tmp_path: Path, seeds_dir: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("runer: direct\n")
    result = CliRunner().invoke(app, ["run", "-i", str(seeds_dir), "-o", str(tmp_path / "o"), "-c", str(cfg)])
    assert result.exit_code == 2 and "unknown key 'runer'" in result.output and "c.yaml" in result.output


def test_unknown_runner_is_a_one_line_error(tmp_path: Path, seeds_dir: Path) -> None:
    result = CliRunner().invoke(app, ["run", "-i", str(seeds_dir), "-o", str(tmp_path / "o"), "--runner=Sparkle"])
    assert result.exit_code == 2 and "unknown runner 'Sparkle'" in result.output and "Traceback" not in result.output


def test_unreachable_object_store_is_a_one_line_error(tmp_path: Path, seeds_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "never-printed-secret")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("storage:\n  retries: 1\n")
    result = CliRunner().invoke(app, ["run", "-i", str(seeds_dir), "-o", "s3://news/x", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "cannot reach http://127.0.0.1:9" in result.output and "never-printed-secret" not in result.output


@pytest.mark.minio
def test_wrong_credentials_are_a_one_line_error(tmp_path: Path, seeds_dir: Path, s3_bucket: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-42")
    result = CliRunner().invoke(app, ["run", "-i", str(seeds_dir), "-o", f"s3://{s3_bucket}/x"])
    assert result.exit_code == 2
    assert "access denied" in result.output and "wrong-secret-value-42" not in result.output
