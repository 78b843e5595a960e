"""The simulate progress bar: drawn on a terminal only, throttled, cleared on close."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rung.progress import Progress

START = datetime(2026, 12, 1, tzinfo=UTC)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_not_a_terminal_stays_silent() -> None:
    # Given output piped to a file
    stream = io.StringIO()

    # When the simulation advances and ends
    with Progress(30, stream=stream) as progress:
        progress.update(START, decisions=10)
        progress.update(START + timedelta(days=29), decisions=500)

    # Then nothing was written
    assert stream.getvalue() == ""


def test_progress_terminal_shows_day_decisions_and_elapsed() -> None:
    # Given a terminal and a clock 75 s after the start
    stream, clock = Terminal(), FakeClock()
    progress = Progress(30, start=START, stream=stream, clock=clock)
    clock.now += 75

    # When virtual day 3 is reached with 1 234 decisions
    progress.update(START + timedelta(days=2, hours=5), decisions=1234)

    # Then the line says so
    assert stream.getvalue().startswith("\r")
    assert "day 3/30" in stream.getvalue()
    assert "1,234 decisions" in stream.getvalue()
    assert "1:15" in stream.getvalue()


def test_progress_redraws_throttled_and_cleared_on_close() -> None:
    # Given a terminal and updates arriving faster than the redraw interval
    stream, clock = Terminal(), FakeClock()
    progress = Progress(10, stream=stream, clock=clock)
    progress.update(START)
    progress.update(START + timedelta(days=1))  # same instant: not drawn
    clock.now += 1
    progress.update(START + timedelta(days=2))

    # When closed
    progress.close()

    # Then two lines were drawn, the first virtual instant counted as day 1, and the bar cleared
    output = stream.getvalue()
    assert "day 1/10" in output
    assert "day 2/10" not in output
    assert "day 3/10" in output
    assert output.endswith("\r")
    assert output.rstrip("\r").split("\r")[-1].strip() == ""


def test_progress_counts_decisions_only_when_it_draws() -> None:
    # Given a terminal bar told how to count decisions (a table scan on the full engine)
    stream = Terminal()
    clock = FakeClock()
    progress = Progress(10, start=START, stream=stream, clock=clock)
    counted: list[int] = []

    def count() -> int:
        counted.append(len(counted) + 1)
        return 40 * len(counted)

    # When time moves on three times, only two of them far enough apart to redraw
    progress.update(START, decisions=count)
    progress.update(START + timedelta(hours=1), decisions=count)
    clock.now += 1
    progress.update(START + timedelta(days=1), decisions=count)

    # Then it counted once per drawing and shows the latest count
    assert len(counted) == 2
    assert "80 decisions" in stream.getvalue().rsplit("\r", 1)[-1]
