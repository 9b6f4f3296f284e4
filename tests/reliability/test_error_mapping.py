"""How a StorageError or RunFailed raised in a Beam worker reaches the caller (pipeline/errors.py): found
through the exception chain or, from portable runners that pass the worker's traceback on as text, in the
message; and Beam's own traceback log of it is dropped so the CLI's one line stays the only report."""

from __future__ import annotations

import logging
import sys

from pipeline.errors import RunFailed, fatal_cause
from pipeline.io.storage import StorageError
from pipeline.run import _QuietStorageErrors


def storage_error_in(exc: BaseException | None) -> str | None:
    cause = fatal_cause(exc)
    return str(cause) if isinstance(cause, StorageError) else None

LINE = "s3://b/x/articles/dt=2024-01-01/lang=ar/part-*: cannot reach http://127.0.0.1:9 after 2 attempts (MaxRetryError)"


def test_found_in_the_chain() -> None:
    try:
        try:
            raise StorageError(LINE)
        except StorageError as inner:
            raise RuntimeError("job failed") from inner
    except RuntimeError as outer:
        assert storage_error_in(outer) == LINE


def test_found_in_a_portable_runners_text() -> None:
    text = ("Pipeline job failed: Traceback (most recent call last):\n  File \"sinks.py\", line 1, in process\n"
            f"pipeline.io.storage.StorageError: {LINE} [while running 'WriteArticles/WriteArticleFiles']\n\nmore")
    assert storage_error_in(RuntimeError(text)) == f"{LINE} [while running 'WriteArticles/WriteArticleFiles']"


def test_other_failures_are_left_alone() -> None:
    try:
        try:
            raise OSError(5, "Input/output error")
        except OSError as inner:
            raise RuntimeError("OSError: [Errno 5] Input/output error [while running 'X']") from inner
    except RuntimeError as outer:
        assert storage_error_in(outer) is None
    assert storage_error_in(None) is None


def test_run_failed_found_in_the_chain_and_in_text() -> None:
    line = "stage parse: cannot import 'lxml_html_clean' (No module named 'lxml_html_clean'); ..."
    try:
        try:
            raise RunFailed(line)
        except RunFailed as inner:
            raise RuntimeError("job failed") from inner
    except RuntimeError as outer:
        found = fatal_cause(outer)
        assert isinstance(found, RunFailed) and str(found) == line
    text = f"Pipeline job failed: Traceback\n  File x\npipeline.errors.RunFailed: {line}\n\nmore"
    found = fatal_cause(RuntimeError(text))
    assert isinstance(found, RunFailed) and str(found) == line


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        return logging.LogRecord("apache_beam.runners.common", logging.ERROR, __file__, 1, exc, None, sys.exc_info())


def test_beams_log_of_a_storage_error_is_dropped_and_others_kept() -> None:
    quiet = _QuietStorageErrors()
    assert not quiet.filter(_record(StorageError(LINE)))
    assert not quiet.filter(_record(RunFailed("stage entities: out of memory")))
    assert quiet.filter(_record(ValueError("a real bug")))
    assert quiet.filter(logging.LogRecord("x", logging.INFO, __file__, 1, "plain message", None, None))
