"""One-line progress on stderr: a bar for long simulations (virtual day x/N, decisions,
elapsed) and a row count for long validations.

It draws only when the stream is a terminal (or when asked, `force`), so piped output, `--json`
consumers and CI logs stay clean; redraws are throttled so the work, not the printing, takes
the time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

BAR_WIDTH = 24
REDRAW_EVERY_SECONDS = 0.1


class Progress:
    """`update(virtual_now)` as the virtual clock advances; `close()` when the run ends."""

    def __init__(
        self,
        total_days: int,
        *,
        start: datetime | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total_days = max(total_days, 1)
        self.start = start  # the first virtual instant seen, when not given
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.enabled = self.stream.isatty()
        self.began = clock()
        self.last_drawn: float | None = None
        self.day = 0
        self.decisions = 0
        self._count: Callable[[], int] | None = None
        self.width = 0  # of the last line drawn, to clear it on close

    def update(
        self, virtual_now: datetime, /, decisions: int | Callable[[], int] | None = None
    ) -> None:
        """Record progress; `decisions` is the running total of gate decisions, or how to count
        it (counted only when the bar is drawn)."""
        if self.start is None:
            self.start = virtual_now
        self.day = min(self.total_days, (virtual_now - self.start).days + 1)
        if isinstance(decisions, int):
            self.decisions = decisions
        elif decisions is not None:
            self._count = decisions
        now = self.clock()
        if self.enabled and (
            self.last_drawn is None or now - self.last_drawn >= REDRAW_EVERY_SECONDS
        ):
            self._draw(now)

    def line(self, now: float) -> str:
        filled = round(BAR_WIDTH * self.day / self.total_days)
        elapsed = int(now - self.began)
        return (
            f"simulating [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"day {self.day}/{self.total_days} · {self.decisions:,} decisions · "
            f"{elapsed // 60:d}:{elapsed % 60:02d}"
        )

    def _draw(self, now: float) -> None:
        if self._count is not None:
            self.decisions = self._count()
        text = self.line(now)
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)
        self.last_drawn = now

    def close(self) -> None:
        """Clear the bar so whatever is printed next starts on a clean line."""
        if self.enabled and self.last_drawn is not None:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
        self.last_drawn = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RowProgress(Progress):
    """`row()` per row checked (or `row(n)` per n rows): "validating · 120,000 rows · 0:07"."""

    def __init__(
        self,
        *,
        force: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(1, stream=stream, clock=clock)
        self.enabled = self.enabled or force
        self.rows = 0

    def __enter__(self) -> RowProgress:
        return self

    def row(self, count: int = 1) -> None:
        self.rows += count
        now = self.clock()
        if self.enabled and (
            self.last_drawn is None or now - self.last_drawn >= REDRAW_EVERY_SECONDS
        ):
            self._draw(now)

    def line(self, now: float) -> str:
        elapsed = int(now - self.began)
        return f"validating · {self.rows:,} rows · {elapsed // 60:d}:{elapsed % 60:02d}"
