"""Chunk fast path: the ordinary TaskEnd lines of a chunk decoded together, without splitting the chunk.

numpy finds the newlines and checks the event prefix and closing brace of every line of a chunk;
the ordinary TaskEnd lines are then decoded by one msgspec ``decode_lines`` call over their joined
bytes, and TaskStart lines ending in ``}`` are dropped unread (as the line path drops them). Every
other line comes back on its own, in order, for the line path. :meth:`ChunkScanner.scan` returns
None (having done nothing) when a chunk holds anything the line path would treat differently; that
chunk then takes the line path.

Why the joined decode equals the line path: every line decoded starts with
``{"Event":"SparkListenerTaskEnd"`` and ends with ``}`` (``\\r`` allowed), so no JSON value can span
two lines, and the lines must decode to exactly one value each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import msgspec
import numpy as np

from airflow_provider_gradient.core.eventlog.schema import TASK_END_DECODER, TaskEnd

TASK_END = b'{"Event":"SparkListenerTaskEnd"'
TASK_START = b'{"Event":"SparkListenerTaskStart"'
#: TaskEnd lines longer than this get the sliced decode (schema.decode_task_end), one by one.
BIG_LINE = 3000
_MIN_BODY = 64


def _word(b: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(b, "little"))


assert TASK_END[:24] == TASK_START[:24] and len(TASK_START) == 33
_W0, _W8, _W16 = _word(TASK_END[0:8]), _word(TASK_END[8:16]), _word(TASK_END[16:24])
_END23 = _word(TASK_END[23:31])  # 'TaskEnd"'
_START24 = _word(TASK_START[24:32])  # 'askStart', then '"' at 32
_MIN = len(TASK_START)


class LineSource(Protocol):
    """Lines of a TaskEnd batch, by index (only read for failures and missing peak memory)."""

    def __getitem__(self, index: int, /) -> bytes: ...


class _BatchLines:
    """The lines of the TaskEnds of a scanned chunk, sliced from the chunk when asked for."""

    __slots__ = ("_chunk", "_base", "_starts", "_ends", "_plain_ends", "_head", "_pos")

    def __init__(self, chunk: bytes, base: int, starts: np.ndarray, ends: np.ndarray, plain_ends: np.ndarray,
                 head: bytes | None) -> None:  # fmt: skip
        self._chunk = chunk
        self._base = base
        self._starts = starts
        self._ends = ends
        self._plain_ends = plain_ends
        self._head = head
        self._pos: list[int] | None = None

    def __getitem__(self, index: int, /) -> bytes:
        if self._head is not None:
            if index == 0:
                return self._head
            index -= 1
        if self._pos is None:
            self._pos = np.flatnonzero(self._plain_ends).tolist()
        k = self._pos[index]
        return self._chunk[self._base + int(self._starts[k]) : self._base + int(self._ends[k])]


@dataclass(frozen=True, slots=True)
class Scanned:
    """What :meth:`ChunkScanner.scan` found in one chunk.

    ``others`` are (line number, line) pairs for the line path, in order: any line that is not an
    ordinary TaskStart / TaskEnd, and TaskEnds longer than :data:`BIG_LINE`. ``task_ends`` are the
    other TaskEnds, decoded, in line order; ``lines`` gives their lines.
    """

    others: list[tuple[int, bytes]]
    task_ends: list[TaskEnd]
    lines: LineSource
    rest: bytes
    last: int


class ChunkScanner:
    """Scans the chunks of one part; keeps one scratch buffer (no large allocation per chunk)."""

    __slots__ = ("_newlines", "_joined")

    def __init__(self) -> None:
        self._newlines = np.empty(0, np.bool_)
        self._joined = bytearray()

    def _newline_offsets(self, a: np.ndarray) -> np.ndarray:
        """Offsets of the newlines in ``a``: 8-byte groups holding one first, then the bytes in those."""
        n = a.size
        m = (n + 7) & ~7
        if self._newlines.size < m:
            self._newlines = np.empty(m + (1 << 16), np.bool_)
        eq = self._newlines[:m]
        np.equal(a, 10, out=eq[:n])
        eq[n:] = False
        groups = np.flatnonzero(eq.view(np.uint64) != 0)
        rows, cols = np.nonzero(eq.reshape(-1, 8)[groups])
        return groups[rows] * 8 + cols

    def _join(self, view: memoryview, starts: np.ndarray, ends: np.ndarray) -> memoryview:
        """The given slices of ``view``, newline-separated, in a buffer kept from chunk to chunk: a fresh
        bytes object per chunk made the allocator hand pages back and fault them in again each time."""
        need = int((ends - starts).sum()) + starts.size
        if len(self._joined) < need:
            self._joined = bytearray(need + (need >> 2))
        out = memoryview(self._joined)
        pos = 0
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            end = pos + b - a
            out[pos:end] = view[a:b]
            out[end] = 10
            pos = end + 1
        return out[:pos]

    def scan(self, rest: bytes, chunk: bytes, first: int) -> Scanned | None:
        """Decode the complete lines of ``rest + chunk``, whose first line is number ``first``.

        :return: what was found, with the incomplete last line as ``rest``; None when the chunk must
            take the line path (nothing has been done then).
        """
        i = chunk.find(b"\n")
        j = chunk.rfind(b"\n")
        n = j - i - 1  # the body: the complete lines after the first
        if i < 0 or n < _MIN_BODY:
            return None
        head = rest + chunk[:i] if rest else chunk[:i]
        base = i + 1
        a = np.frombuffer(chunk, np.uint8, n, base)
        nl = self._newline_offsets(a)
        count = nl.size + 1
        starts = np.empty(count, np.intp)
        starts[0] = 0
        np.add(nl, 1, out=starts[1:])
        ends = np.empty(count, np.intp)
        ends[:-1] = nl
        ends[-1] = n
        lens = ends - starts
        words = np.ndarray((n - 7,), np.uint64, a, 0, (1,))  # the 8 bytes at every offset
        s = np.minimum(starts, n - _MIN)
        hot = (words[s] == _W0) & (words[s + 8] == _W8) & (words[s + 16] == _W16) & (lens >= _MIN)
        te = hot & (words[s + 23] == _END23)
        ts = hot & (words[s + 24] == _START24) & (a[s + 32] == 34)
        last = a[ends - 1]
        closed = (last == 125) | ((last == 13) & (a[ends - 2] == 125))
        big = te & (lens > BIG_LINE)
        plain_ends = te & closed & ~big
        if (te & ~closed & ~big).any():
            return None  # a TaskEnd line that the line path batches as is: leave the chunk to it
        task_ends: list[TaskEnd] = []
        others: list[tuple[int, bytes]] = []
        head_end: bytes | None = None
        if head.startswith(TASK_END) and len(head) <= BIG_LINE:
            try:
                task_ends.append(TASK_END_DECODER.decode(head))
            except msgspec.DecodeError:
                return None
            head_end = head
        else:
            others.append((first, head))
        view = memoryview(chunk)
        picked = np.flatnonzero(plain_ends)
        if picked.size:
            try:
                got = TASK_END_DECODER.decode_lines(
                    self._join(view, starts[picked] + base, ends[picked] + base)
                )
            except msgspec.DecodeError:
                return None
            if len(got) != picked.size:
                return None  # some line holds more than one JSON value
            task_ends += got
        # TaskStart lines ending in "}" are dropped unread, as the line path drops them.
        for k in np.flatnonzero(~(plain_ends | (ts & closed))).tolist():
            others.append((first + 1 + k, chunk[base + int(starts[k]) : base + int(ends[k])]))
        lines = _BatchLines(chunk, base, starts, ends, plain_ends, head_end)
        return Scanned(others, task_ends, lines, chunk[j + 1 :], first + count)
