"""README command 1 on a fresh machine, inside the test command (so CI runs it on every submission).

A throwaway venv made by `python3 -m venv`, with that venv's own pip (never upgraded: the pip a new user
gets), the runtime lock and then `pip install .` alone (no dev, train or dask extras), exactly as README
command 1 installs. `newspipe run` then reads the seeds and one fixture of every input kind (.txt, .html,
.jsonl, .gz, .warc.gz); every run must exit 0 with the expected article counts and no dead letter of reason
`error`. Last, every third-party distribution that `newspipe run` imported must be one newspipe's own
metadata asks for (directly or through its dependencies): a module that only happens to be installed is a
dependency missing from pyproject.

The venv is cached per lock file + pyproject (+ Python version), so a rerun only reinstalls newspipe itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.io.sinks import read_articles, read_dead_letters

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newspipe" / "fresh-venv"
LOCK = ROOT / "config" / "requirements.lock"

# One fixture of every input kind, with the articles it must give.
KINDS = {
    "smoke/page.html": 1,
    "smoke/records.jsonl": 3,
    "smoke/page.txt.gz": len(json.loads((FIXTURES / "pages" / "asharq_health.expected.json").read_text("utf-8"))
                             ["articles"]),
    "warc/small.warc.gz": 10,
}

# Runs inside the fresh venv after a `newspipe run`: the imported distributions that newspipe's declared
# requirements do not reach.
CLOSURE_CHECK = r"""
import importlib.metadata as md, re, sys
from packaging.requirements import Requirement
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
def closure():
    seen, todo = set(), [("newspipe", frozenset())]
    while todo:
        name, extras = todo.pop()
        key = (norm(name), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            req = Requirement(text)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(norm(e) for e in req.extras)))
    return {n for n, _ in seen}
sys.argv = ["newspipe", "run", "-q", "-i", sys.argv[1], "-o", sys.argv[2]]
from pipeline.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
dists = md.packages_distributions()
used = {norm(d) for m in list(sys.modules) for d in dists.get(m.split(".")[0], [])}
optional = {"cloudpickle", "grpcio-tools", "pip", "setuptools"}  # imported by Beam only when present
print("\n".join(sorted(used - closure() - optional)))
"""


def _sh(*cmd: str | Path, cwd: Path = ROOT, timeout: float = 1800) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def _project_copy(dst: Path) -> Path:
    """What a fresh clone holds for `pip install .` (pip would otherwise leave build/ in the work tree)."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dst / name)
    shutil.copytree(ROOT / "pipeline", dst / "pipeline", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dst


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    key = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
                         + sys.version.encode()).hexdigest()[:16]
    venv = CACHE / key
    source = _project_copy(tmp_path_factory.mktemp("clone"))
    if not (venv / "bin" / "newspipe").exists():
        shutil.rmtree(venv, ignore_errors=True)
        for old in CACHE.glob("*"):  # one cached venv at a time
            shutil.rmtree(old, ignore_errors=True)
        python = shutil.which("python3") or sys.executable
        _sh(python, "-m", "venv", venv)
        pip_version = _sh(venv / "bin" / "python", "-m", "pip", "--version").stdout.split()[1]
        # README command 1, step by step; the venv's own pip (never upgraded).
        _sh(venv / "bin" / "pip", "install", "-q", "-r", LOCK)
        _sh(venv / "bin" / "pip", "install", "-q", source)
        (venv / "pip-version").write_text(pip_version)
    else:  # dependencies as locked are there; this checkout's newspipe replaces the cached one
        _sh(venv / "bin" / "pip", "install", "-q", "--no-deps", "--force-reinstall", source)
    return venv


def _run(venv: Path, out: Path, *inputs: str) -> dict:
    args = [a for i in inputs for a in ("--input", i)]
    result = subprocess.run([venv / "bin" / "newspipe", "run", *args, "--output", out, "--json", "-q"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def test_fresh_venv_has_its_own_pip_and_no_extras(fresh_venv: Path) -> None:
    listed = _sh(fresh_venv / "bin" / "pip", "list", "--format=json").stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "newspipe" in names and "apache-beam" in names
    assert not names & {"pytest", "hypothesis", "scikit-learn", "distributed"}, "an extra leaked into the fresh venv"
    bundled = _sh(shutil.which("python3") or sys.executable, "-c", "import ensurepip; print(ensurepip.version())")
    assert (fresh_venv / "pip-version").read_text() == bundled.stdout.strip(), "the fresh venv's pip was upgraded"


def test_readme_command_on_the_seeds(fresh_venv: Path, tmp_path: Path) -> None:
    summary = _run(fresh_venv, tmp_path / "out", "seeds/*")
    assert summary["articles"] == 10, summary
    assert summary["dead_letters"] == 0, summary["dead_letters_by_reason"]


def test_every_input_kind(fresh_venv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = _run(fresh_venv, out, *(str(FIXTURES / k) for k in KINDS))
    assert "error" not in summary["dead_letters_by_reason"], read_dead_letters(str(out))
    by_source: dict[str, int] = {}
    for row in read_articles(str(out)):
        name = str(Path(row["source_uri"]).relative_to(FIXTURES))
        by_source[name] = by_source.get(name, 0) + 1
    assert by_source == KINDS
    assert summary["articles"] == sum(KINDS.values())


def test_everything_newspipe_run_imports_is_declared(fresh_venv: Path, tmp_path: Path) -> None:
    # Not from the checkout: there `python -c` would import its pipeline/ and read a stale newspipe.egg-info.
    result = _sh(fresh_venv / "bin" / "python", "-c", CLOSURE_CHECK, str(FIXTURES / "smoke" / "*"), tmp_path / "o",
                 cwd=tmp_path)
    undeclared = result.stdout.split()
    assert not undeclared, f"imported by newspipe run but not a declared dependency: {undeclared}"
