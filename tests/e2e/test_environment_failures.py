"""A broken environment fails the run; a bad record is still a dead letter (pipeline/errors.py).

Each broken case must exit non-zero with one line naming the cause and the fix, commit no row and no dead
letter, and leave the incremental ledger as it was. Faults are injected into the real pipeline: a module
made unimportable in a real subprocess, a model file deleted from a copy of the package, and MemoryError /
ImportError / a systematic ValueError raised inside a stage of an in-process run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Config, EnrichConfig
from pipeline.errors import RunFailed
from pipeline.io.sinks import read_articles, read_dead_letters
from pipeline.lib.topics import TopicClassifier
from pipeline.run import run_batch

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "tests" / "fixtures" / "smoke" / "page.html"


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) if out.exists() else []


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr[-3000:]}"
    return lines[0]


def _jsonl(path: Path, n: int, bad: set[int] = frozenset()) -> Path:  # type: ignore[assignment]
    rows = [{"title": ("bad " if i in bad else "") + f"خبر رقم {i} عن الاقتصاد",
             "body": f"قال المسؤولون اليوم إن الاقتصاد نما بنسبة {i} في المئة خلال الربع الأخير من العام.",
             "url": f"https://example.com/{i}", "outlet": "example.com"} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_uninstalled_html_cleaner_fails_the_run_in_one_line(tmp_path: Path) -> None:
    """What a pip that skipped lxml[html_clean] gave: every .html input was a dead letter, exit 0."""
    code = ("import sys; sys.modules['lxml_html_clean'] = None; sys.modules['lxml.html.clean'] = None; "
            "from pipeline.cli import app; app(sys.argv[1:], prog_name='newspipe')")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", code, "run", "-i", str(HTML), "-o", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 3, result.stderr[-3000:]
    line = _one_line(result.stderr)
    assert "lxml.html.clean" in line and "pip install" in line and "lxml_html_clean" in line
    assert not [f for f in _files(out) if not f.startswith("_runs/")]


def test_deleted_model_file_fails_the_run_in_one_line(tmp_path: Path) -> None:
    """A copy of the package with the NER model removed, run as `python -m pipeline run`."""
    shutil.copytree(ROOT / "pipeline", tmp_path / "pkg" / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    model = tmp_path / "pkg" / "pipeline" / "resources" / "ner" / "model.crfsuite"
    model.unlink()
    out = tmp_path / "out"
    probe = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"],
                           cwd=tmp_path / "pkg", capture_output=True, text=True, check=True)
    assert probe.stdout.startswith(str(tmp_path / "pkg")), "the copy must be the package that runs"
    result = subprocess.run([sys.executable, "-m", "pipeline", "run", "-i", str(ROOT / "seeds"), "-o", str(out)],
                            cwd=tmp_path / "pkg", capture_output=True, text=True, timeout=600)
    assert result.returncode == 3, result.stderr[-3000:]
    line = _one_line(result.stderr)
    assert "ner" in line and "model.crfsuite" in line
    assert not [f for f in _files(out) if not f.startswith("_runs/")]


@pytest.mark.parametrize("error", [MemoryError(), ImportError("No module named 'sklearn'", name="sklearn")],
                         ids=["MemoryError", "ImportError"])
def test_environment_error_in_a_stage_commits_nothing(tmp_path: Path, monkeypatch, error: BaseException) -> None:
    def broken(self, title, body):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(TopicClassifier, "predict", broken)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(ROOT / "seeds" / "000_748f4bdf56961c0a.txt", inbox)
    out = tmp_path / "out"
    with pytest.raises(RunFailed) as failed:
        run_batch([str(inbox)], str(out), Config(), incremental=True)
    message = str(failed.value)
    assert "\n" not in message and "stage classify" in message
    assert ("out of memory" in message) if isinstance(error, MemoryError) else ("'sklearn'" in message)
    assert not [f for f in _files(out) if not f.startswith("_state/")], _files(out)
    assert not list((out / "_state").rglob("*.json")) if (out / "_state").exists() else True  # claims released
    monkeypatch.undo()
    again = run_batch([str(inbox)], str(out), Config(), incremental=True)  # nothing was claimed or committed
    assert again.inputs == 1 and again.articles == 2


def test_a_stage_failing_for_most_records_is_a_systematic_failure(tmp_path: Path, monkeypatch) -> None:
    def broken(self, title, body):  # type: ignore[no-untyped-def]
        raise ValueError("weights and features disagree")

    monkeypatch.setattr(TopicClassifier, "predict", broken)
    out = tmp_path / "out"
    cfg = Config(enrich=EnrichConfig(entities=False, stories=False))
    with pytest.raises(RunFailed, match=r"systematic failure in stage classify: 25 of 25 records failed with ValueError"):
        run_batch([str(_jsonl(tmp_path / "in.jsonl", 25))], str(out), cfg)
    assert not [f for f in _files(out) if not f.startswith("_state/")], _files(out)


def test_a_few_bad_records_are_dead_letters_and_the_run_goes_on(tmp_path: Path, monkeypatch) -> None:
    real = TopicClassifier.predict

    def sometimes(self, title, body):  # type: ignore[no-untyped-def]
        if title.startswith("bad "):
            raise ValueError("this record's text breaks the classifier")
        return real(self, title, body)

    monkeypatch.setattr(TopicClassifier, "predict", sometimes)
    out = tmp_path / "out"
    cfg = Config(enrich=EnrichConfig(entities=False, stories=False))
    summary = run_batch([str(_jsonl(tmp_path / "in.jsonl", 25, bad={3, 17}))], str(out), cfg)
    assert summary.articles == 23 and summary.dead_letters_by_reason == {"classify.error": 2}
    letters = read_dead_letters(str(out))
    assert sorted(d["stage"] + ":" + d["reason"] for d in letters) == ["classify:error"] * 2
    assert len(read_articles(str(out))) == 23
