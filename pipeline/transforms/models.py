"""Per-worker model handles: each heavy model loads once per worker process (Beam `Shared`)."""

from __future__ import annotations

from typing import Any, Callable

from apache_beam.utils.shared import Shared


class _Box:
    """Shared needs a weak-referenceable object; some models are not (or are tuples)."""

    def __init__(self, value: Any) -> None:
        self.value = value


class SharedModel:
    """Pickles into a DoFn; `get()` in setup() returns the worker's single loaded instance."""

    def __init__(self, tag: str, loader: Callable[[], Any]) -> None:
        self._shared = Shared()
        self._tag = tag
        self._loader = loader

    def get(self) -> Any:
        return self._shared.acquire(lambda: _Box(self._loader()), tag=self._tag).value
