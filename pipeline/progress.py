"""Live progress of an in-process run, for the CLI's display.

Beam's metrics are only readable once an in-process (FnApiRunner) job has finished, so the stage
shells also bump these process-local counters. They stay at zero when the work runs in other
processes (multi-process direct mode, Prism, Flink); the display then shows elapsed time only.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def add(name: str, n: int = 1) -> None:
    with _lock:
        _counts[name] += n


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_counts)


def reset() -> None:
    with _lock:
        _counts.clear()
