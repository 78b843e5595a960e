"""A discrete-event virtual clock shared by every ladder execution thread of the local world.

moto runs each Step Functions execution in its own thread, and a Wait state (or a Retry
back-off) would sleep for real. The patches in `rung.moto_patches` send every such sleep
here instead: the thread registers the instant it wants to wake at and blocks. One
coordinator (the simulation engine's thread) moves time forward only when nothing can
happen any more at the current instant — every live execution thread is blocked in a
Wait or finished, and no handler is running — and then wakes exactly one thread, the
earliest due. Sleepers due at the same instant are woken one after the other, in the
order (instant, execution name), each running until it blocks again; so a run is
deterministic whatever the operating system's thread scheduling, and a 35-day ladder
takes no longer than its handlers do.

The clock is also the `Clock` port (`functions.core.clock`): handlers read virtual time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from functions.core.errors import RungError


class ClockStalled(RungError):
    """No execution thread blocked or finished within the stall timeout: a thread is stuck
    outside a Wait (a deadlocked handler, a lost thread). Raised instead of hanging forever."""


class NotAnExecutionThread(RungError):
    """A virtual sleep was asked for while the clock knows of no execution thread."""


@dataclass(order=True)
class _Sleeper:
    at: datetime
    name: str
    seq: int
    is_stopped: Callable[[], bool] = field(compare=False)
    # Each sleeper blocks on its own event, so a wake-up costs O(1), not one per sleeper.
    wake: threading.Event = field(default_factory=threading.Event, compare=False)
    cancelled: bool = field(default=False, compare=False)


class VirtualClock:
    """Virtual UTC time; advanced only by `run_until`, never by the wall clock."""

    def __init__(self, start: datetime, stall_timeout: float = 120.0) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start instant")
        self._now = start.astimezone(UTC)
        # A guard against a stuck thread, in real seconds; the clock never sleeps for real.
        self.stall_timeout = stall_timeout
        self._cond = threading.Condition()
        self._running = 0  # live execution threads not blocked in a virtual sleep
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()

    # --- Clock port ---------------------------------------------------------------------

    def now(self) -> datetime:
        with self._cond:
            return self._now

    # --- execution threads --------------------------------------------------------------

    def thread_starting(self) -> None:
        """Called on the starting thread *before* a new execution thread is started, so the
        coordinator can never see "everyone is asleep" while that thread is still booting."""
        with self._cond:
            self._running += 1

    def thread_start_failed(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def thread_finished(self) -> None:
        """Called last thing on an execution thread, however it ended."""
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def sleep_until(self, at: datetime, name: str, is_stopped: Callable[[], bool]) -> None:
        """Block the calling execution thread until virtual time reaches `at` (or a stop).

        `name` (the execution's) orders sleepers due at the same instant; `is_stopped` tells
        whether the execution was stopped meanwhile (StopExecution), which ends the sleep.
        An instant already past still blocks until the coordinator wakes it, so that threads
        due "now" run one at a time in a deterministic order rather than all at once.
        """
        with self._cond:
            if self._running <= 0:
                raise NotAnExecutionThread(
                    f"virtual sleep until {at.isoformat()} requested by {name!r}, but no "
                    "execution thread is registered (thread_starting was not called)"
                )
            if is_stopped():
                return  # stopped before it slept: run on to the end
            sleeper = _Sleeper(
                at=max(at.astimezone(UTC), self._now),
                name=name,
                seq=next(self._seq),
                is_stopped=is_stopped,
            )
            heapq.heappush(self._sleepers, sleeper)
            self._running -= 1
            self._cond.notify_all()
        # Whoever sets `wake` (the coordinator releasing it, or `interrupt` after a stop) has
        # already counted this thread as running again.
        sleeper.wake.wait()

    def sleep_for(self, seconds: float, name: str, is_stopped: Callable[[], bool]) -> None:
        """A Retry back-off or a Seconds wait: virtual seconds from now."""
        self.sleep_until(self.now() + timedelta(seconds=seconds), name, is_stopped)

    def interrupt(self) -> None:
        """An execution was stopped: wake its sleeping thread so that it runs to its end."""
        with self._cond:
            for sleeper in self._sleepers:
                if not sleeper.cancelled and sleeper.is_stopped():
                    sleeper.cancelled = True
                    self._running += 1
                    sleeper.wake.set()
            self._cond.notify_all()

    # --- coordinator --------------------------------------------------------------------

    def run_until(
        self,
        limit: datetime,
        *,
        inclusive: bool = False,
        progress: Callable[[datetime], None] | None = None,
    ) -> None:
        """Run every sleeper due before `limit` (or at it, if `inclusive`), then set the clock
        to `limit`. `progress` is told each new instant time moves to.

        Scripted events (replies, payments) happen at `limit` after a non-inclusive run
        returns, i.e. before any ladder step due at that same instant.
        """
        limit = limit.astimezone(UTC)
        with self._cond:
            while True:
                self._settle_locked()
                sleeper = self._next_sleeper_locked()
                if sleeper is None or sleeper.at > limit or (sleeper.at == limit and not inclusive):
                    self._now = max(self._now, limit)
                    return
                heapq.heappop(self._sleepers)
                if progress is not None and sleeper.at != self._now:
                    progress(sleeper.at)
                self._now = sleeper.at
                # Counted as running from now on, so that the settle above waits for it.
                self._running += 1
                sleeper.wake.set()

    def settle(self) -> None:
        """Wait until every execution thread is asleep or finished (nothing runs any more)."""
        with self._cond:
            self._settle_locked()

    def next_wake(self) -> datetime | None:
        """The earliest instant a sleeper is due, once everything has settled; None if idle."""
        with self._cond:
            self._settle_locked()
            sleeper = self._next_sleeper_locked()
            return sleeper.at if sleeper else None

    @property
    def sleeping(self) -> int:
        with self._cond:
            return sum(1 for sleeper in self._sleepers if not sleeper.cancelled)

    def _next_sleeper_locked(self) -> _Sleeper | None:
        while self._sleepers and self._sleepers[0].cancelled:
            heapq.heappop(self._sleepers)
        return self._sleepers[0] if self._sleepers else None

    def _settle_locked(self) -> None:
        deadline = time.monotonic() + self.stall_timeout
        while self._running > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClockStalled(
                    f"{self._running} execution thread(s) neither slept nor finished within "
                    f"{self.stall_timeout:.0f} s at virtual time {self._now.isoformat()}"
                )
            self._cond.wait(remaining)
