"""Progress of a transfer: a tqdm bar redrawn in place on a terminal, plain lines elsewhere.

On a terminal each collection gets one line, redrawn by tqdm (which clears what a shorter
redraw would leave behind): a bar with a percentage when the total is known, a live
count with a rate otherwise. Elsewhere (a log file, CI) a plain line every few seconds and
one when a collection is done: no carriage returns, nothing to clean up.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]

_LINE_SECONDS = 5.0
_REDRAW_SECONDS = 0.1
_NAME_WIDTH = 24


class Progress:
    """Counts documents per collection and shows counts and rates on ``stream``.

    ``start(collection, total=...)`` turns the count into a bar when the total is known.
    Quiet progress shows nothing but still counts, for callers that only want the numbers.
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
        self._bar: Any = None  # a tqdm bar while a collection runs on a terminal

    def start(self, collection: str, total: int | None = None, done: int = 0) -> None:
        """Begin a collection (``done`` documents were copied before a resume; ``total``
        counts those too)."""
        self._close_bar()
        self._collection = collection
        self._total = total
        self.counts[collection] = done
        self._started = time.monotonic()
        self._shown = self._started
        if self.interactive:
            self._bar = _bar(self.stream, collection, total, done)

    def advance(self, count: int) -> None:
        self.counts[self._collection] = self.counts.get(self._collection, 0) + count
        if self._bar is not None:
            self._bar.update(count)
        elif not self.quiet and time.monotonic() - self._shown >= _LINE_SECONDS:
            self._line()

    def finish(self) -> None:
        """End the current collection: the bar's final state, or a final plain line."""
        if self._bar is not None:
            self._close_bar()
        elif not self.quiet:
            self._line(final=True)

    def note(self, message: str) -> None:
        """A line of its own (checking, resuming, verifying, ...), above a running bar."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    def _close_bar(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.close()

    def _line(self, *, final: bool = False) -> None:
        now = time.monotonic()
        self._shown = now
        count = self.counts.get(self._collection, 0)
        elapsed = max(now - self._started, 1e-9)
        rate = f"{count / elapsed:,.0f} docs/s" if count else "-"
        if self._total:
            percent = min(count, self._total) * 100 // self._total
            text = f"{self._collection:<{_NAME_WIDTH}} {count:,}/{self._total:,} docs {percent}%"
        else:
            text = f"{self._collection:<{_NAME_WIDTH}} {count:,} docs"
        self.stream.write(f"{text} {rate}" + ("  done" if final else "") + "\n")
        self.stream.flush()


def _bar(stream: TextIO, collection: str, total: int | None, done: int) -> Any:
    # Imported here: only a terminal needs it, and `import asyncdb.transfer` stays light.
    from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

    return tqdm(
        total=total,
        initial=done,
        desc=collection,
        unit=" docs",
        unit_scale=False,
        file=stream,
        dynamic_ncols=True,
        mininterval=_REDRAW_SECONDS,
        leave=True,
        ascii=False,
    )
