"""Fixtures for the reliability tests (issue 7 parts 1 and 5): a synthetic corpus that writes many
article files, its rows from a clean local run, and MinIO servers of our own."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relkit import CORPUS_CONFIG, N_ARTICLES, ROOT, MinioServer, minio_binary

sys.path.insert(0, str(ROOT))
from benchmarks.synth import write_corpus
from pipeline.config import load_config
from pipeline.io.sinks import read_articles
from pipeline.run import run_batch


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, N_ARTICLES, per_file=20)
    return out


@pytest.fixture(scope="session")
def corpus_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "corpus.yaml"
    path.write_text(CORPUS_CONFIG)
    return path


@pytest.fixture(scope="session")
def clean_rows(corpus: Path, corpus_config: Path, tmp_path_factory) -> list[dict]:
    """The corpus's rows from an undisturbed local run: what every faulted run must end up with."""
    out = tmp_path_factory.mktemp("clean") / "out"
    summary = run_batch([str(corpus)], str(out), load_config(corpus_config))
    rows = read_articles(str(out))
    assert summary.articles == N_ARTICLES == len(rows) == len({r["id"] for r in rows})
    # Many files (a story's articles may share a partition), so that a fault can land mid-run.
    assert summary.counters["sink.files"] >= N_ARTICLES // 2, summary.counters
    return rows


@pytest.fixture(scope="session")
def minio_bin() -> str:
    return minio_binary()


@pytest.fixture(scope="session")
def shared_minio(minio_bin: str, tmp_path_factory):
    """One server for the tests that do not kill it."""
    server = MinioServer(minio_bin, tmp_path_factory.mktemp("minio-shared") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def own_minio(minio_bin: str, tmp_path: Path):
    """A server for this test alone (it may be killed and restarted)."""
    server = MinioServer(minio_bin, tmp_path / "minio-data").start()
    yield server
    server.stop()
