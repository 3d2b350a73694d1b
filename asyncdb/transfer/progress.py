"""Progress of a transfer: a bar redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_REDRAW_SECONDS = 0.1
_LINE_SECONDS = 5.0


class Progress:
    """Counts documents per collection and shows counts and rates on ``stream``.

    ``total`` (when known) turns the count into a bar. Quiet progress shows nothing but
    still counts, for callers that only want the numbers.
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet
        self.interactive = not quiet and self.stream.isatty()
        self.counts: dict[str, int] = {}
        self._collection = ""
        self._total: int | None = None
        self._started = time.monotonic()
        self._shown = 0.0

    def start(self, collection: str, total: int | None = None, done: int = 0) -> None:
        """Begin a collection (``done`` documents were copied before a resume)."""
        self._collection = collection
        self._total = total
        self.counts[collection] = done
        self._started = time.monotonic()
        self._show(force=True)

    def advance(self, count: int) -> None:
        self.counts[self._collection] = self.counts.get(self._collection, 0) + count
        self._show()

    def finish(self) -> None:
        """End the current collection with a final line."""
        self._show(force=True, final=True)

    def note(self, message: str) -> None:
        """A line of its own (resuming, verifying, ...)."""
        if not self.quiet:
            self.stream.write(("\n" if self.interactive else "") + message + "\n")
            self.stream.flush()

    def _show(self, *, force: bool = False, final: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        interval = _REDRAW_SECONDS if self.interactive else _LINE_SECONDS
        if not force and now - self._shown < interval:
            return
        self._shown = now
        count = self.counts.get(self._collection, 0)
        elapsed = max(now - self._started, 1e-9)
        rate = f"{count / elapsed:,.0f} docs/s" if count else "-"
        if self._total:
            filled = int(30 * min(count, self._total) / self._total)
            bar = "#" * filled + "." * (30 - filled)
            text = f"{self._collection:<24} [{bar}] {count:,}/{self._total:,} {rate}"
        else:
            text = f"{self._collection:<24} {count:,} docs {rate}"
        if self.interactive:
            self.stream.write("\r" + text + ("\n" if final else ""))
        elif final or not force:
            self.stream.write(text + ("  done" if final else "") + "\n")
        self.stream.flush()
