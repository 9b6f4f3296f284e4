"""Byte ranges of large inputs: the one splitting mechanism for WARC files and big JSONL files.

A large file becomes several work items `WorkItem(uri, size, mtime, start, end)`, cut at fixed byte
offsets without looking inside the file (the driver only needs its size). Each reader then applies
one rule: **a record belongs to the range its first byte is in**. A range reader syncs forward from
`start` to the first record start at or after it (a line start for JSONL; a gzip member or a
`WARC/1.x` header for WARC, pipeline/io/warc.py) and reads records while they start before `end`,
reading past `end` to finish the last one. So every record is read by exactly one range, whatever
the range size, and the rows equal those of reading the whole file.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator, NamedTuple

WHOLE_FILE = -1


class WorkItem(NamedTuple):
    """One unit of reading: a whole file (`end == -1`) or the records starting in [start, end).

    Travels between workers as a plain tuple (`tuple(item)`); `from_element` reads it back, and also
    accepts the 3-tuples (uri, size, mtime) the replay source emits."""

    uri: str
    size: int
    mtime: float
    start: int = 0
    end: int = WHOLE_FILE

    @property
    def is_range(self) -> bool:
        return self.end != WHOLE_FILE

    @classmethod
    def from_element(cls, element: tuple) -> "WorkItem":
        return cls(*element)


def split_ranges(size: int, range_bytes: int) -> list[tuple[int, int]]:
    """[start, end) cuts of a file of `size` bytes into ranges of about `range_bytes` (at least one)."""
    if size <= range_bytes:
        return [(0, size)]
    count = -(-size // range_bytes)
    step = -(-size // count)  # equal shares, so the last range is not a sliver
    return [(s, min(s + step, size)) for s in range(0, size, step)]


class ByteWindow:
    """A forward-only buffered view of a stream that starts at absolute offset `offset`.

    Positions are absolute file offsets. Bytes before `release()`d positions are dropped, so memory
    stays around one record plus one read, however long the range is."""

    def __init__(self, stream: BinaryIO, offset: int, read_size: int = 1 << 20) -> None:
        self._stream = stream
        self.base = offset
        self._buf = bytearray()
        self.read_size = read_size
        self.eof = False

    @property
    def end(self) -> int:
        """Absolute offset just past the last buffered byte."""
        return self.base + len(self._buf)

    def fill(self, upto: int) -> None:
        """Buffer bytes up to absolute offset `upto` (fewer at end of file: then `eof` is set)."""
        while self.end < upto and not self.eof:
            chunk = self._stream.read(max(self.read_size, upto - self.end))
            if not chunk:
                self.eof = True
            else:
                self._buf += chunk

    def at_end(self, pos: int) -> bool:
        """True when no byte exists at `pos` (end of file)."""
        self.fill(pos + 1)
        return pos >= self.end

    def get(self, start: int, stop: int) -> bytes:
        """Bytes [start, stop), fewer at end of file."""
        if start < self.base:
            raise ValueError(f"offset {start} was already released (window starts at {self.base})")
        self.fill(stop)
        return bytes(self._buf[start - self.base:stop - self.base])

    def find(self, needle: bytes, start: int, limit: int | None = None) -> int:
        """Absolute offset of the first `needle` at or after `start` (and before `limit`), else -1."""
        pos = max(start, self.base)
        while True:
            idx = self._buf.find(needle, pos - self.base)
            if idx >= 0:
                found = self.base + idx
                return found if limit is None or found < limit else -1
            if self.eof or (limit is not None and self.end >= limit):
                return -1
            pos = max(pos, self.end - len(needle) + 1)
            self.fill(self.end + self.read_size)

    def release(self, before: int) -> None:
        """Forget bytes before `before` (compacts once enough has piled up)."""
        drop = before - self.base
        if drop > 4 * self.read_size:
            del self._buf[:drop]
            self.base = before


def iter_lines(window: ByteWindow, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line without its newline) for every line that starts in [start, end).

    The window must begin at `start - 1` (or 0): a line starts at `start` exactly when the byte
    before it is a newline."""
    pos = start
    if start > 0 and window.get(start - 1, start) != b"\n":
        newline = window.find(b"\n", start)
        if newline < 0:
            return
        pos = newline + 1
    while pos < end and not window.at_end(pos):
        newline = window.find(b"\n", pos)
        stop = newline if newline >= 0 else window.end
        yield pos, window.get(pos, stop)
        if newline < 0:
            return
        pos = newline + 1
        window.release(pos)
