"""Quiet hours and candidate zones (docs/compliance.md): exact instants on ordinary and DST days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from functions.core.profiles import load_profiles
from functions.core.quiet_hours import (
    LocalWindow,
    is_allowed,
    next_allowed,
    next_allowed_in,
    window_bounds,
)
from functions.core.zones import InvalidLocation
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
US = BOOK.profiles["US"]
NY, LA, SH = "America/New_York", "America/Los_Angeles", "Asia/Shanghai"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("name", ["US", "US-MA", "US-WA", "CN", "GB", "DEFAULT"])
def test_profile_window_edges_are_start_inclusive_end_exclusive(name: str) -> None:
    # Given each profile's configured window, in Shanghai (no DST)
    profile = BOOK.profiles[name]
    day = date(2026, 6, 10)
    start = datetime.combine(day, profile.window.start).replace(tzinfo=UTC) - timedelta(hours=8)
    end = datetime.combine(day, profile.window.end).replace(tzinfo=UTC) - timedelta(hours=8)
    # Then the first second of the window is allowed, the last second before it is not,
    # and the window's end is already quiet
    assert is_allowed(start, [SH], profile)
    assert not is_allowed(start - timedelta(seconds=1), [SH], profile)
    assert is_allowed(end - timedelta(seconds=1), [SH], profile)
    assert not is_allowed(end, [SH], profile)


def test_configured_windows_match_compliance_table() -> None:
    # docs/compliance.md, Quiet hours: every profile allows 08:00–21:00 (CN and GB by our
    # stricter choice)
    for profile in BOOK.profiles.values():
        assert (profile.window.start, profile.window.end) == (time(8), time(21)), profile.name


def test_next_allowed_cfpb_example_eastern_area_code_pacific_address() -> None:
    # Given a New York area code and a California address (Reg F commentary example)
    zones = BOOK.atlas.candidates("+12125550123", "US", "CA", None, None)
    assert set(zones) == {NY, LA}
    # When it is 07:00 in New York (04:00 in Los Angeles) on an ordinary day
    at = utc(2026, 6, 10, 11, 0)
    # Then the next allowed instant is 08:00 Pacific = 11:00 Eastern
    assert next_allowed(at, zones, US) == utc(2026, 6, 10, 15, 0)
    # And 21:00 Eastern ends the window although it is only 18:00 in Los Angeles
    assert is_allowed(utc(2026, 6, 11, 0, 59), zones, US)
    assert not is_allowed(utc(2026, 6, 11, 1, 0), zones, US)


def test_next_allowed_no_zone_is_never_allowed() -> None:
    # Fail closed: no candidate zone ⇒ no lawful instant (docs/compliance.md, Quiet hours)
    assert not is_allowed(utc(2026, 6, 10, 15, 0), [], US)
    assert next_allowed(utc(2026, 6, 10, 15, 0), [], US) is None


@pytest.mark.parametrize(
    ("zone_name", "day", "expected_open_utc", "expected_close_utc"),
    [
        # 2nd Sunday of March 2026 (spring forward): EDT from 02:00, so 08:00 = 12:00 UTC
        (NY, date(2026, 3, 8), utc(2026, 3, 8, 12), utc(2026, 3, 9, 1)),
        (NY, date(2026, 3, 7), utc(2026, 3, 7, 13), utc(2026, 3, 8, 2)),
        # 1st Sunday of November 2026 (fall back): EST from 02:00, so 08:00 = 13:00 UTC
        (NY, date(2026, 11, 1), utc(2026, 11, 1, 13), utc(2026, 11, 2, 2)),
        (NY, date(2026, 10, 31), utc(2026, 10, 31, 12), utc(2026, 11, 1, 1)),
        (LA, date(2026, 3, 8), utc(2026, 3, 8, 15), utc(2026, 3, 9, 4)),
        (LA, date(2026, 11, 1), utc(2026, 11, 1, 16), utc(2026, 11, 2, 5)),
        # Asia/Shanghai has no DST: the same UTC hours all year
        (SH, date(2026, 3, 8), utc(2026, 3, 8, 0), utc(2026, 3, 8, 13)),
        (SH, date(2026, 11, 1), utc(2026, 11, 1, 0), utc(2026, 11, 1, 13)),
    ],
)
def test_next_allowed_dst_days_open_and_close_at_local_times(
    zone_name: str, day: date, expected_open_utc: datetime, expected_close_utc: datetime
) -> None:
    # Given local midnight of a DST day (or an ordinary day) in the zone
    midnight = expected_open_utc - timedelta(hours=6)
    # When asking for the next allowed instant from before the window opens
    opened = next_allowed(midnight, [zone_name], US)
    # Then it is 08:00 local, computed with the day's real offset
    assert opened == expected_open_utc
    assert not is_allowed(expected_open_utc - timedelta(seconds=1), [zone_name], US)
    # And the window closes at 21:00 local of that day
    assert is_allowed(expected_close_utc - timedelta(seconds=1), [zone_name], US)
    assert not is_allowed(expected_close_utc, [zone_name], US)
    assert opened is not None and opened.astimezone(UTC).date() <= day + timedelta(days=1)


def test_next_allowed_after_window_closes_is_next_local_morning() -> None:
    # Given 21:30 in Los Angeles the evening before the fall-back night
    at = utc(2026, 11, 1, 4, 30)  # Sat 31 Oct 21:30 PDT
    # Then the next allowed instant is Sunday 08:00 PST (UTC−8 after the change)
    assert next_allowed(at, [LA], US) == utc(2026, 11, 1, 16, 0)


def test_next_allowed_blackout_sunday_moves_to_monday() -> None:
    # Given the US profile with Sundays blacked out (a lender override, stricter)
    strict = BOOK.with_overrides({"US": {"blackout_weekdays": ["sunday"]}}).profiles["US"]
    saturday_late = utc(2026, 6, 14, 2, 0)  # Sat 13 Jun 22:00 EDT
    # Then nothing is allowed on Sunday; Monday 08:00 New York is next
    assert not is_allowed(utc(2026, 6, 14, 16, 0), [NY], strict)
    assert next_allowed(saturday_late, [NY], strict) == utc(2026, 6, 15, 12, 0)


def test_next_allowed_blackout_date_in_local_calendar() -> None:
    # Given 4 July blacked out (the holiday calendar off, so 3 July, the day it is observed
    # in 2026, is not): in Shanghai it is already 5 July while New York is on 4 July
    strict = BOOK.with_overrides(
        {"US": {"blackout_dates": ["2026-07-04"], "holidays": False}}
    ).profiles["US"]
    at = utc(2026, 7, 4, 0, 30)  # 3 Jul 20:30 EDT
    # Then New York may be contacted until 21:00 on 3 July, then only from 5 July 08:00
    assert is_allowed(at, [NY], strict)
    assert next_allowed(utc(2026, 7, 4, 1, 0), [NY], strict) == utc(2026, 7, 5, 12, 0)


def test_next_allowed_empty_intersection_is_none() -> None:
    # Given three zones 8 hours apart (no DST) whose 13-hour windows never all overlap
    zones = ["Africa/Abidjan", "Asia/Shanghai", "Pacific/Pitcairn"]
    # Then there is no lawful instant at all: None, never a guess
    assert next_allowed(utc(2026, 1, 10), zones, US) is None


def test_next_allowed_overlap_exists_only_while_new_york_is_on_standard_time() -> None:
    # Given Shanghai + New York and a 09:00–21:00 window: Shanghai is open 01:00–13:00 UTC,
    # New York 13:00–01:00 UTC under EDT (they only touch) and 14:00–02:00 UTC under EST
    window = LocalWindow(*window_bounds(time(9), time(21)))
    # When asking in winter, the overlap is 01:00–02:00 UTC the same night
    assert next_allowed_in(utc(2026, 1, 10), [SH, NY], window) == utc(2026, 1, 10, 1)
    # When asking in summer, nothing overlaps until New York falls back on 1 November
    assert next_allowed_in(utc(2026, 7, 1), [SH, NY], window) == utc(2026, 11, 2, 1)


def test_next_allowed_handles_a_window_starting_in_a_dst_gap() -> None:
    # Given Havana, which springs forward at 00:00 (no 00:00–00:59 on 8 March 2026),
    # and a window opening at 00:30
    window = LocalWindow(*window_bounds(time(0, 30), time(23)))
    before = utc(2026, 3, 8, 3, 0)  # Sat 7 Mar 22:00 CST (UTC−5): inside the window
    assert next_allowed_in(before, ["America/Havana"], window) == before
    closed = utc(2026, 3, 8, 4, 10)  # Sat 23:10 CST: closed
    # Then the window reopens at the transition itself: 01:00 CDT = 05:00 UTC
    assert next_allowed_in(closed, ["America/Havana"], window) == utc(2026, 3, 8, 5, 0)


def test_next_allowed_handles_a_window_starting_in_a_repeated_hour() -> None:
    # Given New York falling back at 02:00 EDT → 01:00 EST on 1 November 2026, and a
    # window opening at 01:30: 01:30–01:59 EDT is allowed, 01:00–01:29 EST is not
    window = LocalWindow(*window_bounds(time(1, 30), time(23)))
    repeated = utc(2026, 11, 1, 6, 10)  # 01:10 EST, after the change
    assert next_allowed_in(utc(2026, 11, 1, 5, 40), [NY], window) == utc(2026, 11, 1, 5, 40)
    # Then the window reopens at 01:30 EST, not at the first 01:30
    assert next_allowed_in(repeated, [NY], window) == utc(2026, 11, 1, 6, 30)


def test_candidate_zones_combine_phone_address_and_lender_zone() -> None:
    # Given a Shanghai mobile, a GB address and a lender-given zone
    zones = BOOK.atlas.candidates("+8613800138000", "GB", None, None, "Europe/Paris")
    # Then all three sources count, lender zone first, no duplicates
    assert zones == ("Europe/Paris", "Europe/London", SH)


def test_candidate_zones_multi_zone_state_lists_every_zone() -> None:
    # Given a Florida address: Eastern and Central
    zones = BOOK.atlas.candidates("+13055550123", "US", "FL", "32501", None)
    assert set(zones) == {NY, "America/Chicago"}


def test_candidate_zones_state_without_country_uses_phone_region() -> None:
    assert set(BOOK.atlas.candidates("+12065550123", None, "wa", None, None)) == {LA}


@pytest.mark.parametrize(
    ("phone", "country", "state", "tz", "field"),
    [
        ("+1212", None, None, None, "phone"),
        ("not a number", None, None, None, "phone"),
        ("+12125550123", "ZZ", None, None, "country"),
        ("+12125550123", "US", "XX", None, "state"),
        ("+12125550123", None, None, "Mars/Base", "timezone"),
    ],
)
def test_candidate_zones_invalid_input_names_the_field(
    phone: str, country: str | None, state: str | None, tz: str | None, field: str
) -> None:
    with pytest.raises(InvalidLocation, match=f"^{field}:"):
        BOOK.atlas.candidates(phone, country, state, None, tz)


def test_is_allowed_rejects_naive_instants() -> None:
    # A naive instant would be read in the host's zone (user story 3): refuse it
    with pytest.raises(ValueError, match="no time zone"):
        is_allowed(datetime(2026, 6, 10, 12, 0), [NY], US)
