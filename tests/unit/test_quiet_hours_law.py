"""Quiet hours to the second, and local days that are not 24 hours long
(functions/core/quiet_hours.py). A message one second into quiet hours is a message in
quiet hours; a local day cut short on a DST change lets a second text through that day.
"""

from __future__ import annotations

import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import pytest

from functions.core.profiles import load_profiles
from functions.core.quiet_hours import (
    SECONDS_PER_DAY,
    LocalWindow,
    blocking_zone,
    day_start,
    is_allowed,
    local_day,
    next_allowed_in,
    require_aware,
    window_bounds,
)
from functions.settings import PROJECT_ROOT

US = load_profiles(PROJECT_ROOT).profiles["US"]
NY, LA, SANTIAGO = "America/New_York", "America/Los_Angeles", "America/Santiago"
SHANGHAI = "Asia/Shanghai"
EIGHT_TO_NINE = LocalWindow(8 * 3600, 21 * 3600)


def ny(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 6) -> datetime:
    """Wall time in New York on a June day (EDT, UTC−4) as a UTC instant."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC) + timedelta(hours=4)


@pytest.mark.parametrize(
    ("wall", "allowed"),
    [
        ((7, 59, 59), False),
        ((8, 0, 0), True),
        ((20, 59, 59), True),
        ((21, 0, 0), False),
        ((21, 0, 30), False),  # half a minute into quiet hours is quiet hours
        ((21, 59, 59), False),
    ],
)
def test_quiet_hours_are_checked_to_the_second(wall: tuple[int, int, int], allowed: bool) -> None:
    assert is_allowed(ny(10, *wall), [NY], US) is allowed


def test_quiet_hours_window_starting_on_a_half_minute_is_honoured_to_the_second() -> None:
    window = LocalWindow(*window_bounds(time(8, 0, 30), time(21, 0)))
    assert blocking_zone(ny(10, 8, 0, 29), [NY], window) == (NY, "quiet_hours")
    assert blocking_zone(ny(10, 8, 0, 30), [NY], window) is None


def test_quiet_hours_window_bounds_count_seconds_and_an_open_end_is_midnight() -> None:
    assert window_bounds(time(8, 0, 30), time(20, 59, 59)) == (28_830, 75_599)
    assert window_bounds(time(0), None) == (0, SECONDS_PER_DAY)


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, 3600), (3600, 3600), (7200, 3600), (0, SECONDS_PER_DAY + 1)],
)
def test_quiet_hours_window_that_is_empty_or_outside_a_day_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="window must satisfy"):
        LocalWindow(start, end)


def test_quiet_hours_whole_day_window_keeps_blackout_days() -> None:
    sunday = LocalWindow(8 * 3600, 21 * 3600, blackout_weekdays=frozenset({6}))
    whole = sunday.whole_day()
    assert (whole.start, whole.end, whole.blackout_weekdays) == (0, SECONDS_PER_DAY, {6})
    assert blocking_zone(ny(14, 23), [NY], whole) == (NY, "blackout_day")  # Sunday night
    assert blocking_zone(ny(15, 23), [NY], whole) is None  # Monday night


def test_quiet_hours_blackout_is_by_weekday_or_by_date_in_the_borrowers_zone() -> None:
    holiday = LocalWindow(0, SECONDS_PER_DAY, blackout_dates=frozenset({date(2026, 7, 4)}))
    assert holiday.is_blackout(date(2026, 7, 4))
    assert not holiday.is_blackout(date(2026, 7, 5))
    # 23:30 on 3 July in Los Angeles is already 4 July in New York
    late = datetime(2026, 7, 4, 6, 30, tzinfo=UTC)
    assert blocking_zone(late, [LA], holiday) is None
    assert blocking_zone(late, [LA, NY], holiday) == (NY, "blackout_day")


def test_quiet_hours_blackout_day_is_reported_before_the_hours() -> None:
    sunday = LocalWindow(8 * 3600, 21 * 3600, blackout_weekdays=frozenset({6}))
    assert blocking_zone(ny(14, 23), [NY], sunday) == (NY, "blackout_day")


def test_quiet_hours_no_zone_is_never_a_lawful_time() -> None:
    assert not is_allowed(ny(10, 12), [], US)
    assert next_allowed_in(ny(10, 12), [], EIGHT_TO_NINE) is None


def test_quiet_hours_naive_instant_is_refused_rather_than_read_in_the_hosts_zone() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        require_aware(datetime(2026, 6, 10, 12, 0))
    assert require_aware(ny(10, 12)).tzinfo is UTC


def test_quiet_hours_window_without_an_allowed_day_has_no_next_instant() -> None:
    never = LocalWindow(0, SECONDS_PER_DAY, blackout_weekdays=frozenset(range(7)))
    assert next_allowed_in(ny(10, 12), [NY], never) is None


def test_quiet_hours_next_instant_is_exact_across_zones() -> None:
    # 21:30 in New York: New York opens at 08:00 EDT, Los Angeles three hours later
    assert next_allowed_in(ny(10, 21, 30), [NY], EIGHT_TO_NINE) == ny(11, 8)
    assert next_allowed_in(ny(10, 21, 30), [NY, LA], EIGHT_TO_NINE) == ny(11, 11)
    assert next_allowed_in(ny(10, 12), [NY, LA], EIGHT_TO_NINE) == ny(10, 12)


def test_quiet_hours_window_across_the_spring_gap_is_one_stretch() -> None:
    # 01:30–03:30 on 8 March 2026 in New York: 02:00–03:00 does not exist that night
    window = LocalWindow(5400, 12600)
    opens = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST
    closes = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert next_allowed_in(opens - timedelta(hours=1), [NY], window) == opens
    assert next_allowed_in(closes - timedelta(seconds=1), [NY], window) == closes - timedelta(
        seconds=1
    )
    # The next night is an ordinary one: 01:30 EDT
    assert next_allowed_in(closes, [NY], window) == datetime(2026, 3, 9, 5, 30, tzinfo=UTC)


def test_quiet_hours_repeated_hour_in_the_window_is_allowed_both_times() -> None:
    # 01:00–02:00 on 1 November 2026 in New York happens twice (EDT, then EST)
    window = LocalWindow(3600, 7200)
    second_time = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert next_allowed_in(second_time, [NY], window) == second_time
    after = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 02:00 EST: the window is over
    assert next_allowed_in(after, [NY], window) == datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def test_quiet_hours_fall_back_local_day_is_25_hours_long() -> None:
    day, spans = local_day(NY, datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert day == date(2026, 11, 1)
    assert spans == (
        (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),
    )


def test_quiet_hours_spring_forward_local_day_is_23_hours_long() -> None:
    day, spans = local_day(NY, datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    assert day == date(2026, 3, 8)
    assert spans == (
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),
    )


def test_quiet_hours_day_without_a_midnight_starts_at_its_first_instant() -> None:
    # Santiago springs forward at midnight: 6 September 2026 begins at 01:00 (−03)
    assert day_start(SANTIAGO, date(2026, 9, 6)) == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert day_start(NY, date(2026, 6, 10)) == ny(10, 0)


@pytest.fixture(params=["UTC", "America/New_York", "Pacific/Kiritimati"])
def worker_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The host's own zone: the answers must not depend on it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", request.param)
    time_module.tzset()
    yield request.param
    mp.undo()
    time_module.tzset()


def test_quiet_hours_window_opening_in_the_spring_gap_opens_at_the_change_exactly(
    worker_zone: str,
) -> None:
    # 02:30 does not exist on 8 March 2026 in New York: a 02:30–05:00 window opens at the
    # change itself, 03:00 EDT — not a second later
    window = LocalWindow(9000, 18000)
    opened = next_allowed_in(datetime(2026, 3, 8, 6, 0, tzinfo=UTC), [NY], window)
    assert opened == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert opened is not None and opened.tzinfo is UTC


def test_quiet_hours_borrowers_late_evening_is_found_whatever_the_hosts_date(
    worker_zone: str,
) -> None:
    # 10:30 UTC on 10 June is 23:30 on 9 June in Pago Pago (UTC−11) and 00:30 on 11 June on
    # a host in Kiritimati (UTC+14): a window open all day is open now
    now = datetime(2026, 6, 10, 10, 30, tzinfo=UTC)
    assert next_allowed_in(now, ["Pacific/Pago_Pago"], LocalWindow(0, SECONDS_PER_DAY)) == now


def test_quiet_hours_window_inside_the_spring_gap_does_not_exist_that_day() -> None:
    # 02:00–03:00 is skipped on 8 March 2026: the next such hour is on 9 March
    window = LocalWindow(7200, 10800)
    opened = next_allowed_in(datetime(2026, 3, 8, 6, 0, tzinfo=UTC), [NY], window)
    assert opened == datetime(2026, 3, 9, 6, 0, tzinfo=UTC)


def test_quiet_hours_local_day_is_the_borrowers_date_not_utcs(worker_zone: str) -> None:
    # 02:00 UTC on 11 June is still 10 June, 22:00, in New York
    day, spans = local_day(NY, datetime(2026, 6, 11, 2, 0, tzinfo=UTC))
    assert day == date(2026, 6, 10)
    assert spans == ((ny(10, 0), ny(11, 0)),)
    assert all(edge.tzinfo is UTC for span in spans for edge in span)


def test_quiet_hours_window_on_the_half_hour_is_honoured_within_the_hour() -> None:
    window = LocalWindow(*window_bounds(time(8, 30), time(20, 30)))
    assert blocking_zone(ny(10, 8, 15), [NY], window) == (NY, "quiet_hours")
    assert blocking_zone(ny(10, 8, 45), [NY], window) is None
    assert blocking_zone(ny(10, 20, 15), [NY], window) is None
    assert blocking_zone(ny(10, 20, 45), [NY], window) == (NY, "quiet_hours")


def test_quiet_hours_instant_whose_zone_gives_no_offset_is_refused() -> None:
    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

    with pytest.raises(ValueError, match="has no time zone"):
        require_aware(datetime(2026, 6, 10, 12, 0, tzinfo=NoOffset()))


def holidays(first: date, last: date) -> frozenset[date]:
    return frozenset(first + timedelta(days=n) for n in range((last - first).days + 1))


def test_quiet_hours_first_open_day_just_inside_the_horizon_is_found() -> None:
    # Given holidays every day until 14 July 2027 and a search from 10 June 2026 16:00 UTC
    # (the horizon ends 400 days later, 15 July 2027 16:00 UTC)
    window = LocalWindow(
        8 * 3600, 21 * 3600, blackout_dates=holidays(date(2026, 6, 10), date(2027, 7, 14))
    )
    # Then 15 July 2027 08:00 EDT, four hours before the horizon, is the answer
    start = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
    assert next_allowed_in(start, [NY], window) == datetime(2027, 7, 15, 12, 0, tzinfo=UTC)


def test_quiet_hours_first_open_day_on_the_day_after_the_horizons_utc_date_is_found() -> None:
    # Tokyo is ahead of UTC: its 16 July 08:00 is 15 July 23:00 UTC, before a horizon that
    # ends at 15 July 23:30 UTC
    window = LocalWindow(
        8 * 3600, 21 * 3600, blackout_dates=holidays(date(2026, 6, 10), date(2027, 7, 15))
    )
    start = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    assert next_allowed_in(start, ["Asia/Tokyo"], window) == datetime(
        2027, 7, 15, 23, 0, tzinfo=UTC
    )


def test_quiet_hours_opening_at_or_after_the_horizon_is_no_answer() -> None:
    # The window would open exactly when the 400 days end, or a day later: no lawful instant
    start = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT; the horizon ends at 08:00 EDT
    at_horizon = LocalWindow(
        8 * 3600, 21 * 3600, blackout_dates=holidays(date(2026, 6, 10), date(2027, 7, 14))
    )
    assert next_allowed_in(start, [NY], at_horizon) is None
    after = LocalWindow(
        8 * 3600, 21 * 3600, blackout_dates=holidays(date(2026, 6, 10), date(2027, 7, 20))
    )
    assert next_allowed_in(start, [NY], after) is None


def test_quiet_hours_offset_change_off_the_half_hour_is_found_to_the_second(
    worker_zone: str,
) -> None:
    # Given Shanghai leaving local mean time (+8:05:43) for +8:00 at 15:54:17 UTC on
    # 31 December 1900 (its clocks went back from midnight to 23:54:17), and a window of
    # 23:50–24:00 local: it is open without a break across the change
    window = LocalWindow(23 * 3600 + 50 * 60, SECONDS_PER_DAY)
    change = datetime(1900, 12, 31, 15, 54, 17, tzinfo=UTC)
    for instant in (change - timedelta(seconds=1), change, change + timedelta(seconds=1)):
        opened = next_allowed_in(instant, [SHANGHAI], window)
        assert opened == instant
        assert opened is not None and opened.tzinfo is UTC
