"""A tiny bounded memo for per-token work (feature ids, stem hashes) that repeats across articles."""

from __future__ import annotations

from typing import Callable

CACHE_SIZE = 200_000


class BoundedCache(dict):  # type: ignore[type-arg]
    """key -> fn(key), computed on first use; emptied when it reaches `size` entries."""

    def __init__(self, fn: Callable[[str], object], size: int = CACHE_SIZE) -> None:
        super().__init__()
        self._fn = fn
        self._size = size

    def __missing__(self, key: str) -> object:
        value = self._fn(key)
        if len(self) >= self._size:
            self.clear()
        self[key] = value
        return value
