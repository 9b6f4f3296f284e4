"""A batch run's rows become visible only when the run commits: staged files, moved in place at the end.

The sinks of a batch run write under `<output>/_staging/<run_id>/` with the layout of the output itself
(`articles/dt=…/lang=…/part-…`, `dead_letters/…`, `stories/…`). Nothing reads there. When the pipeline has
succeeded (and the circuit breaker found no systematic failure), `commit_staged` moves each file to the same
path under `<output>/`; a run that failed, or was killed, has committed nothing (`discard_staged` removes
what it staged; a killed run's leftovers are removed by the next run that commits, once they are stale).
State that later runs read (ledger, feed state, story index) is committed after this, by its owner.
Streaming runs write their windows in place as they fire: a window's files are its commit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator

from pipeline.io.storage import Storage, join

log = logging.getLogger("newspipe")

STAGING = "_staging"
STALE_AFTER = timedelta(hours=24)


_COMMITTING = threading.Event()
_INTERRUPT_PENDING = threading.Event()


@contextlib.contextmanager
def commit_section() -> Iterator[None]:
    """Rows, then every piece of state that points at them: an interrupt (Ctrl-C, SIGTERM) that arrives
    inside is held until the section is done, so a stopped run has committed all of it or none."""
    _COMMITTING.set()
    try:
        yield
    finally:
        _COMMITTING.clear()
    if _INTERRUPT_PENDING.is_set():
        _INTERRUPT_PENDING.clear()
        raise KeyboardInterrupt


def defer_interrupt() -> bool:
    """For a signal handler: True (and the interrupt is raised when the section ends) while committing."""
    if _COMMITTING.is_set():
        _INTERRUPT_PENDING.set()
        return True
    return False


def committing() -> bool:
    return _COMMITTING.is_set()


def staging_root(output: str, run_id: str) -> str:
    return join(output, STAGING, run_id)


def commit_staged(storage: Storage, output: str, run_id: str) -> int:
    """Move every file the run staged to its place under `output`; returns how many.

    Each file lands atomically; the file names carry the run id, so a commit interrupted half-way and
    retried (or a rerun of the same input, whose rows the sinks skip) never writes a row twice."""
    root = staging_root(output, run_id)
    moved = 0
    for info in storage.list(join(root, "**")):
        relative = info.uri[len(root) + 1:]
        storage.move(info.uri, join(output, relative))
        moved += 1
    _sweep_stale(storage, output, run_id)
    return moved


def discard_staged(storage: Storage, output: str, run_id: str) -> None:
    """Remove what a failed run staged (best effort: a failing store must not hide the run's own error)."""
    try:
        for info in storage.list(join(staging_root(output, run_id), "**")):
            storage.delete(info.uri)
    except Exception:  # noqa: BLE001 - cleanup only; leftovers are swept by a later commit
        log.debug("could not discard staged files of run %s", run_id, exc_info=True)


def _sweep_stale(storage: Storage, output: str, own_run: str) -> None:
    """Delete staging files of runs that were killed long ago (never of a run that may still be going)."""
    cutoff = datetime.now(timezone.utc) - STALE_AFTER
    for info in storage.list(join(output, STAGING, "**")):
        if f"/{STAGING}/{own_run}/" not in info.uri and info.mtime < cutoff:
            storage.delete(info.uri)
