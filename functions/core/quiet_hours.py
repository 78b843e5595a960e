"""Quiet hours: when a message may be sent at the borrower's location (docs/compliance.md).

A profile allows a local window [start, end) on days that are not blackout days. With
several candidate zones an instant is allowed only if it is allowed in *every* zone (the Reg F
intersection rule). Time zones come from `zoneinfo` only: no fixed offsets, so DST days are
right by construction. `next_allowed` is exact: it returns the earliest allowed instant, found
by intersecting each zone's allowed UTC intervals, not by stepping a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from functions.core.holiday_calendar import HolidayCalendar

if TYPE_CHECKING:
    from functions.core.profiles import Profile

SECONDS_PER_DAY = 86_400
# An intersection of windows can be empty for months (e.g. Shanghai + New York only overlap
# while New York observes DST); past a year and a bit there is no allowed instant at all.
HORIZON = timedelta(days=400)
# Offsets in tzdata lie within −12 h … +14 h; these margins cover any local day in UTC.
_BEFORE_DAY = timedelta(hours=15)
_AFTER_DAY = timedelta(hours=13)
_ONE_DAY = timedelta(days=1)
_SAMPLE = timedelta(minutes=30)  # no zone has two offset changes within half an hour

Interval = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """The allowed local wall-clock window of a profile, precomputed for fast checks."""

    start: int  # seconds after local midnight, inclusive
    end: int  # seconds after local midnight, exclusive (86 400 = end of day)
    blackout_weekdays: frozenset[int] = frozenset()  # date.weekday(): Monday = 0
    blackout_dates: frozenset[date] = frozenset()
    holidays: HolidayCalendar | None = None  # public holidays, also blackout days

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= SECONDS_PER_DAY:
            raise ValueError(f"window must satisfy 0 <= start < end <= 24:00, got {self}")

    def blackout(self, day: date) -> tuple[str, str] | None:
        """Why local date `day` is a blackout day — ("holiday", its name) or ("blackout_day",
        the weekday or "configured date") — or None. A weekend day that the holiday calendar
        makes a working day (China's adjusted working days) is not blocked by its weekday."""
        if self.holidays is not None and (name := self.holidays.holiday(day)):
            return "holiday", name
        if day in self.blackout_dates:
            return "blackout_day", "configured blackout date"
        if day.weekday() in self.blackout_weekdays and not (
            self.holidays is not None and self.holidays.is_adjusted_working_day(day)
        ):
            return "blackout_day", f"{day:%A}s are blackout days"
        return None

    def is_blackout(self, day: date) -> bool:
        return self.blackout(day) is not None

    def in_hours(self, wall: datetime) -> bool:
        # Whole-second bounds: comparing the floored second is exact for [start, end).
        second = wall.hour * 3600 + wall.minute * 60 + wall.second
        return self.start <= second < self.end

    def whole_day(self) -> LocalWindow:
        """The same blackout days without the hours: what a borrower-requested reply obeys."""
        return replace(self, start=0, end=SECONDS_PER_DAY)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    # ZoneInfo's own cache holds only 8 strong references; past that, instances are dropped
    # and the tz file is read again. The gate touches dozens of zones: keep them.
    return ZoneInfo(name)


def require_aware(instant: datetime) -> datetime:
    """Every instant the gate sees must be timezone-aware: a naive one would be read in the
    host's zone, the bug that sent messages in quiet hours on non-UTC workers
    (docs/user-stories.md, story 3)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant {instant.isoformat()} has no time zone")
    return instant.astimezone(UTC)


def blocking_zone(
    instant: datetime, zones: Sequence[str], window: LocalWindow
) -> tuple[str, str] | None:
    """The first zone in which `instant` is not allowed, with why (`holiday`, `blackout_day`
    or `quiet_hours`)."""
    for name in zones:
        wall = instant.astimezone(zone(name))
        blackout = window.blackout(wall.date())
        if blackout is not None:
            return name, blackout[0]
        if not window.in_hours(wall):
            return name, "quiet_hours"
    return None


def is_allowed(instant: datetime, zones: Sequence[str], profile: Profile) -> bool:
    """True when `instant` is inside the profile's window in every candidate zone."""
    if not zones:
        return False  # fail closed: no zone, no lawful time (docs/compliance.md, Quiet hours)
    return blocking_zone(require_aware(instant), zones, profile.local_window) is None


def next_allowed(instant: datetime, zones: Sequence[str], profile: Profile) -> datetime | None:
    """The earliest instant ≥ `instant` allowed in every zone; None if none within HORIZON."""
    return next_allowed_in(instant, zones, profile.local_window)


def next_allowed_in(
    instant: datetime, zones: Sequence[str], window: LocalWindow
) -> datetime | None:
    """Leapfrog intersection: each zone moves the candidate to its own next open instant
    (a lower bound of the answer) until one full pass moves nothing."""
    if not zones:
        return None
    candidate = require_aware(instant)
    limit = candidate + HORIZON
    while candidate < limit:
        moved = False
        for name in zones:
            opened = _next_open(name, window, candidate, limit)
            if opened is None:
                return None
            if opened > candidate:
                candidate, moved = opened, True
        if not moved:
            return candidate
    return None


def _next_open(
    name: str, window: LocalWindow, instant: datetime, limit: datetime
) -> datetime | None:
    """The earliest instant ≥ `instant` allowed in zone `name`, or None before `limit`."""
    day = instant.astimezone(zone(name)).date() - _ONE_DAY
    last = limit.date() + _ONE_DAY
    while day <= last:
        for start, end in _day_intervals(name, window, day):
            if end > instant:
                return max(start, instant) if start < limit else None
        day += _ONE_DAY
    return None


_WHOLE_DAY = LocalWindow(0, SECONDS_PER_DAY)


def local_day(name: str, instant: datetime) -> tuple[date, tuple[Interval, ...]]:
    """The local date of `instant` in zone `name` and the UTC intervals that make up that date
    (one, or two when a DST change repeats midnight)."""
    day = instant.astimezone(zone(name)).date()
    return day, _day_intervals(name, _WHOLE_DAY, day)


def day_start(name: str, day: date) -> datetime:
    """The first instant of local date `day` in zone `name` (exact on DST days)."""
    return _day_intervals(name, _WHOLE_DAY, day)[0][0]


def _intervals_on(name: str, window: LocalWindow, day: date) -> tuple[Interval, ...]:
    """The UTC intervals whose wall time in zone `name` is on `day` and inside the window."""
    if window.is_blackout(day):
        return ()
    tz = zone(name)
    wall_start = datetime.combine(day, time()) + timedelta(seconds=window.start)
    wall_end = datetime.combine(day, time()) + timedelta(seconds=window.end)
    start = wall_start.replace(tzinfo=tz).astimezone(UTC)
    end = wall_end.replace(tzinfo=tz).astimezone(UTC)
    # Fast path: one UTC offset across the whole window (every day but DST days, and DST
    # days too when the change happens outside the window, as it does for real profiles).
    offsets = {
        start.astimezone(tz).utcoffset(),
        (start + (end - start) / 2).astimezone(tz).utcoffset(),
        (end - timedelta(microseconds=1)).astimezone(tz).utcoffset(),
    }
    if (
        len(offsets) == 1
        and start.astimezone(tz).replace(tzinfo=None) == wall_start
        and end.astimezone(tz).replace(tzinfo=None) == wall_end
    ):
        return ((start, end),)
    return _day_intervals_across_transitions(tz, wall_start, wall_end)


# Cached by wrapping rather than by a decorator, so that mutation testing (which leaves
# decorated functions alone) also checks the rule itself (docs/mutation.md).
_day_intervals = lru_cache(maxsize=1 << 16)(_intervals_on)


def _day_intervals_across_transitions(
    tz: ZoneInfo, wall_start: datetime, wall_end: datetime
) -> tuple[Interval, ...]:
    """Exact intervals when an offset change falls inside the window (gaps and repeated hours).

    Between two offset changes wall time is UTC plus a constant, so each constant-offset
    segment contributes at most one interval; adjacent pieces are merged.
    """
    midnight = datetime.combine(wall_start.date(), time(), tzinfo=UTC)
    segments = _constant_offset_segments(
        tz, midnight - _BEFORE_DAY, midnight + timedelta(days=1) + _AFTER_DAY
    )
    naive_start, naive_end = wall_start.replace(tzinfo=UTC), wall_end.replace(tzinfo=UTC)
    pieces: list[Interval] = []
    for seg_start, seg_end, offset in segments:
        start = max(seg_start, naive_start - offset)
        end = min(seg_end, naive_end - offset)
        if start < end:
            if pieces and pieces[-1][1] == start:
                pieces[-1] = (pieces[-1][0], end)
            else:
                pieces.append((start, end))
    return tuple(pieces)


def _constant_offset_segments(
    tz: ZoneInfo, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    samples = [lo]
    while samples[-1] + _SAMPLE < hi:
        samples.append(samples[-1] + _SAMPLE)
    samples.append(hi)
    changes = [
        _change_between(tz, a, b) for a, b in pairwise(samples) if _offset(tz, a) != _offset(tz, b)
    ]
    bounds = [lo, *changes, hi]
    return [(a, b, _offset(tz, a)) for a, b in pairwise(bounds) if a < b]


def _change_between(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant the offset changes, to the second (tzdata transitions are whole seconds)."""
    lo, hi = int(before.timestamp()), int(after.timestamp())
    initial = _offset(tz, before)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, datetime.fromtimestamp(mid, UTC)) == initial:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    if offset is None:  # ZoneInfo always knows the offset of an aware instant
        raise ValueError(f"zone {tz.key} has no offset at {instant.isoformat()}")
    return offset


def window_bounds(start: time, end: time | None) -> tuple[int, int]:
    """Seconds after midnight for a window given as times; `end` None means 24:00."""
    end_seconds = SECONDS_PER_DAY if end is None else end.hour * 3600 + end.minute * 60 + end.second
    return start.hour * 3600 + start.minute * 60 + start.second, end_seconds


__all__ = [
    "HORIZON",
    "LocalWindow",
    "blocking_zone",
    "day_start",
    "is_allowed",
    "local_day",
    "next_allowed",
    "next_allowed_in",
    "require_aware",
    "window_bounds",
    "zone",
]
