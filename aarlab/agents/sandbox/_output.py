"""Bounded capture of a stream: keep the first and last bytes, count what was dropped in between."""

from __future__ import annotations

from collections import deque


class BoundedOutput:
    """Collects up to ``limit`` bytes: the first ``limit // 2`` and the last ``limit - limit // 2``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0

    @property
    def truncated(self) -> bool:
        """More than ``limit`` bytes arrived."""
        return self.total > self.limit

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of the stream."""
        self.total += len(chunk)
        room = self.limit // 2 - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        keep = self.limit - self.limit // 2
        while self._tail_size - len(self._tail[0]) >= keep:
            self._tail_size -= len(self._tail.popleft())

    def text(self) -> str:
        """The kept bytes as text (UTF-8, invalid bytes replaced), with a marker where the middle was cut."""
        tail = b"".join(self._tail)
        keep = self.limit - self.limit // 2
        tail = tail[-keep:] if keep else b""
        if not self.truncated:
            return (bytes(self._head) + tail).decode("utf-8", "replace")
        dropped = self.total - len(self._head) - len(tail)
        return (bytes(self._head).decode("utf-8", "replace") + f"\n[... {dropped} bytes truncated ...]\n"
                + tail.decode("utf-8", "replace"))
