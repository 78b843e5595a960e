"""Properties of `next_allowed`, checked against a plain wall-clock oracle.

This module runs with the host clock set to America/Los_Angeles (user story 3: a worker's own
zone must never leak into the decision); results must be identical to a UTC host.
"""

from __future__ import annotations

import os
import time as host_time
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.quiet_hours import LocalWindow, next_allowed_in, window_bounds

ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "America/Chicago",
    "America/Phoenix",
    "America/St_Johns",
    "America/Havana",
    "America/Sao_Paulo",
    "Pacific/Honolulu",
    "Europe/London",
    "Europe/Paris",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tehran",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "Africa/Cairo",
]
START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2030, 12, 31, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="module")
def host_in_los_angeles() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/Los_Angeles")
        host_time.tzset()
        yield
    host_time.tzset()
    assert os.environ.get("TZ") != "America/Los_Angeles"


def allowed(instant: datetime, zones: list[str], window: LocalWindow) -> bool:
    """Oracle: the wall clock in every zone, read directly."""
    for name in zones:
        wall = instant.astimezone(ZoneInfo(name))
        seconds = wall.hour * 3600 + wall.minute * 60 + wall.second
        if wall.weekday() in window.blackout_weekdays or wall.date() in window.blackout_dates:
            return False
        if not window.start <= seconds < window.end:
            return False
    return True


instants = st.integers(int(START.timestamp()), int(END.timestamp())).map(
    lambda seconds: datetime.fromtimestamp(seconds, UTC)
)


def _offset_change_days() -> list[datetime]:
    """Noon UTC of days on which some zone's UTC offset changes (DST days), 2020–2030."""
    days = []
    day = START
    while day < END:
        tomorrow = day + timedelta(days=1)
        if any(
            day.astimezone(ZoneInfo(name)).utcoffset()
            != tomorrow.astimezone(ZoneInfo(name)).utcoffset()
            for name in ZONES
        ):
            days.append(day + timedelta(hours=12))
        day = tomorrow
    return days


# Half of the instants fall within ±36 h of a DST change: where time-zone bugs hide.
near_dst = st.tuples(
    st.sampled_from(_offset_change_days()), st.integers(-36 * 3600, 36 * 3600)
).map(lambda pair: pair[0] + timedelta(seconds=pair[1]))
instants = st.one_of(instants, near_dst)
zone_sets = st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True)


@st.composite
def windows(draw: st.DrawFn) -> LocalWindow:
    start = draw(st.integers(0, 44)) * 30  # minutes, on the half hour
    length = draw(st.integers(2, 48 - start // 30)) * 30
    end = None if start + length == 24 * 60 else time(*divmod(start + length, 60))
    weekdays = draw(st.frozensets(st.integers(0, 6), max_size=2))
    bounds = window_bounds(time(*divmod(start, 60)), end)
    return LocalWindow(*bounds, blackout_weekdays=weekdays)


PROFILE_WINDOW = LocalWindow(*window_bounds(time(8), time(21)))


@settings(max_examples=300, deadline=None)
@given(instant=instants, zones=zone_sets, window=st.one_of(st.just(PROFILE_WINDOW), windows()))
def test_next_allowed_is_allowed_and_earliest(
    instant: datetime, zones: list[str], window: LocalWindow
) -> None:
    found = next_allowed_in(instant, zones, window)
    if found is None:
        # No lawful instant: none either in the next three days, minute by minute
        assert not any(
            allowed(instant + timedelta(minutes=step), zones, window) for step in range(3 * 1440)
        )
        return
    assert found >= instant
    assert allowed(found, zones, window)
    if found == instant:
        return
    # Nothing allowed one second earlier, nor at any whole minute since `instant`
    assert not allowed(found - timedelta(seconds=1), zones, window)
    assert not allowed(instant, zones, window)
    first_minute = instant.replace(second=0) + timedelta(minutes=1)
    span = min(found, instant + timedelta(days=3)) - first_minute
    steps = max(0, int(span.total_seconds() // 60))
    assert not any(
        allowed(first_minute + timedelta(minutes=step), zones, window) for step in range(steps)
    )


@settings(max_examples=60, deadline=None)
@given(instant=instants, zones=zone_sets)
def test_next_allowed_ignores_host_zone(instant: datetime, zones: list[str]) -> None:
    # The same instant given in the host's local offset gives the same answer
    local = instant.astimezone()  # host zone: America/Los_Angeles here
    assert local.utcoffset() == instant.astimezone(ZoneInfo("America/Los_Angeles")).utcoffset()
    assert next_allowed_in(local, zones, PROFILE_WINDOW) == next_allowed_in(
        instant, zones, PROFILE_WINDOW
    )
