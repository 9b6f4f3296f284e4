"""Whose fault is it: a record's (a dead letter) or the environment's (the run fails with one line).

A record that cannot be processed because of its content becomes a dead letter (pipeline/transforms/base.py).
An error of the environment — a missing module, a missing or corrupt model file, memory, the local disk — is
not the record's fault: dead-lettering it would turn a broken install into "N bad records" and lose them.
Such errors become `RunFailed`, which fails the run: one line with the cause and the fix, exit code 3,
nothing committed, incremental claims released.
"""

from __future__ import annotations

import re

# Raised inside a stage, these are never the record's fault.
ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (ImportError, MemoryError, OSError)

# The circuit breaker: a stage that dead-letters at least this share of at least this many records with
# one exception type is failing systematically (a bug or a broken resource), not meeting bad input.
SYSTEMATIC_SHARE = 0.5
SYSTEMATIC_MIN_RECORDS = 20


class RunFailed(RuntimeError):
    """The run cannot go on because of its environment; the message is one line: cause, then fix."""


def environment_failure(where: str, exc: BaseException) -> RunFailed:
    """A one-line RunFailed for an environment error met in `where` (a stage or a start-up check)."""
    if isinstance(exc, RunFailed):
        return exc
    if isinstance(exc, ImportError):
        module = exc.name or str(exc)
        return RunFailed(
            f"{where}: cannot import {module!r} ({str(exc).splitlines()[0]}); the installation is incomplete: "
            f"pip install -r config/requirements.lock (or pip install {module.split('.')[0]}), then newspipe doctor"
        )
    if isinstance(exc, MemoryError):
        return RunFailed(
            f"{where}: out of memory; give the run more memory, fewer worker processes, or smaller inputs "
            "(input.max_file_bytes)"
        )
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc) or type(exc).__name__
        on = f" on {exc.filename}" if exc.filename else ""
        return RunFailed(f"{where}: {what}{on}; check the disk and file permissions, then run again")
    first = (str(exc).splitlines() or [""])[0]
    return RunFailed(f"{where}: {type(exc).__name__}: {first}")


def resource_failure(what: str, exc: BaseException) -> RunFailed:
    """A model or resource file that is missing or does not load."""
    first = (str(exc).splitlines() or [""])[0]
    return RunFailed(
        f"{what} cannot be loaded ({type(exc).__name__}: {first}); reinstall newspipe or run newspipe doctor"
    )


def systematic_failures(counters: dict[str, int]) -> list[str]:
    """One message per stage whose dead letters are mostly one exception type (see SYSTEMATIC_*).

    Reads the counters every stage keeps: `<stage>.in` (records in) and `error_type.<stage>.<Type>`
    (records dead-lettered with reason `error` by that exception type)."""
    messages = []
    for name, n in sorted(counters.items()):
        if not name.startswith("error_type."):
            continue
        _, stage, exc_type = name.split(".", 2)
        seen = counters.get(f"{stage}.in", 0)
        if seen >= SYSTEMATIC_MIN_RECORDS and n >= SYSTEMATIC_SHARE * seen:
            messages.append(
                f"systematic failure in stage {stage}: {n} of {seen} records failed with {exc_type}; "
                "this is a bug or a broken install, not bad input (newspipe doctor; -v for details)"
            )
    return messages


_FATAL_TEXT = re.compile(r"(StorageError|RunFailed): ([^\n]+)")


def fatal_cause(exc: BaseException | None) -> BaseException | None:
    """The StorageError or RunFailed behind `exc` (also one a portable runner passed on as text), else None."""
    from pipeline.io.storage import StorageError

    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, (StorageError, RunFailed)):
            return exc
        match = _FATAL_TEXT.search(str(exc))
        if match:  # Beam re-raises a DoFn's error with its traceback folded into the message text
            kind = StorageError if match.group(1) == "StorageError" else RunFailed
            return kind(match.group(2).strip())
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
