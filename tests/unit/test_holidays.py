"""Public holidays as blackout days (docs/compliance.md, Blackout days).

Oracles read the `holidays` library and wall clocks directly, independently of the gate's
calendar code: a holiday is judged on the borrower's local date in every candidate zone, never
on the UTC date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.core.errors import ConfigError
from functions.core.models import Account, Channel
from functions.core.policy import GateInput, Verdict, decide
from functions.core.profiles import Holidays, ProfileBook, load_profiles
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
US_HOLIDAYS = holidays.country_holidays("US", years=range(2025, 2029))
CN_HOLIDAYS = holidays.country_holidays("CN", years=range(2025, 2029))


def account(phone: str, country: str, state: str | None = None, tz: str | None = None) -> Account:
    return Account(
        lender_id="demo",
        account_id="A1",
        phone=phone,
        amount_due=Decimal("10"),
        currency="USD",
        due_date=date(2026, 12, 1),
        locale="en-US",
        country=country,
        state=state,
        timezone=tz,
    )


def gate(acct: Account, now: datetime) -> GateInput:
    return GateInput(account=acct, channel=Channel.SMS, now=now, template_version="v1")


NEW_YORK = account("+12125550123", "US", "NY")
LOS_ANGELES = account("+14155550123", "US", "CA")
SHANGHAI = account("+8613800138000", "CN")


def test_christmas_defers_to_the_next_morning_and_names_the_holiday() -> None:
    # Given a rung due on 25 December, 10:00 in New York
    result = decide(gate(NEW_YORK, datetime(2026, 12, 25, 15, 0, tzinfo=UTC)), BOOK)
    # Then it waits for 26 December 08:00, and the audit names the holiday
    assert (result.verdict, result.rule, result.reason) == (Verdict.DEFER, "blackout", "holiday")
    assert "Christmas Day" in result.detail
    assert result.until == datetime(2026, 12, 26, 13, 0, tzinfo=UTC)


def test_new_years_day_is_a_holiday_in_every_shipped_country_profile() -> None:
    borrowers = [
        (NEW_YORK, "America/New_York"),
        (SHANGHAI, "Asia/Shanghai"),
        (account("+442079460123", "GB"), "Europe/London"),
    ]
    for acct, zone_name in borrowers:
        noon = datetime(2027, 1, 1, 12, 0, tzinfo=ZoneInfo(zone_name))
        result = decide(gate(acct, noon), BOOK)
        assert (result.verdict, result.reason) == (Verdict.DEFER, "holiday"), zone_name


def test_state_holiday_only_where_the_profile_names_the_state() -> None:
    # Patriots' Day (Massachusetts) is not a federal holiday
    patriots_day = datetime(2026, 4, 20, 15, 0, tzinfo=UTC)  # 11:00 EDT
    boston = account("+16175550123", "US", "MA")
    blocked = decide(gate(boston, patriots_day), BOOK)
    assert (blocked.verdict, blocked.reason) == (Verdict.DEFER, "holiday")
    assert "Patriots' Day" in blocked.detail
    assert decide(gate(NEW_YORK, patriots_day), BOOK).verdict is Verdict.SEND


def test_uk_profile_takes_every_nation_s_bank_holidays() -> None:
    # St Andrew's Day is a bank holiday in Scotland only; a +44 number does not say where
    st_andrews = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    result = decide(gate(account("+442079460123", "GB"), st_andrews), BOOK)
    assert (result.verdict, result.reason) == (Verdict.DEFER, "holiday")
    assert "Saint Andrew's Day" in result.detail


def test_china_national_day_and_the_days_moved_around_it_are_blackout_days() -> None:
    # 1–7 October 2026: National Day, plus the days off moved from weekends (Sunday 4 October
    # is an ordinary weekend day, which the CN profile does not block)
    for day in (1, 2, 3, 5, 6, 7):
        ten = datetime(2026, 10, day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
        result = decide(gate(SHANGHAI, ten), BOOK)
        assert (result.verdict, result.reason) == (Verdict.DEFER, "holiday"), day
    assert decide(gate(SHANGHAI, datetime(2026, 10, 8, 2, 0, tzinfo=UTC)), BOOK).verdict is (
        Verdict.SEND
    )


def test_china_adjusted_working_day_is_a_working_day_when_weekends_are_blocked() -> None:
    # Given a lender that blocks weekends in China
    weekends_off = BOOK.with_overrides({"CN": {"blackout_weekdays": ["saturday", "sunday"]}})
    # When Saturday 14 February 2026 is a working day by the State Council's arrangement
    worked_saturday = datetime(2026, 2, 14, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert date(2026, 2, 14) in CN_HOLIDAYS.weekend_workdays
    # Then a rung goes out that Saturday, but not on an ordinary Saturday a week later
    assert decide(gate(SHANGHAI, worked_saturday), weekends_off).verdict is Verdict.SEND
    plain = decide(gate(SHANGHAI, worked_saturday + timedelta(days=7)), weekends_off)
    assert (plain.verdict, plain.reason) == (Verdict.DEFER, "blackout_day")


def test_lender_may_switch_off_a_calendar_marked_our_choice() -> None:
    no_holidays = BOOK.with_overrides({"US": {"holidays": False}})
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    assert decide(gate(NEW_YORK, christmas), no_holidays).verdict is Verdict.SEND


def test_lender_may_not_switch_off_a_calendar_the_law_requires() -> None:
    us = BOOK.profiles["US"]
    assert us.holidays is not None
    required = us.model_copy(update={"holidays": us.holidays.model_copy(update={"required": True})})
    book = ProfileBook({**BOOK.profiles, "US": required}, BOOK.default, "t", BOOK.atlas)
    with pytest.raises(ConfigError, match="holidays US are required"):
        book.with_overrides({"US": {"holidays": False}}, owner="lender demo")


def test_unknown_calendar_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ValidationError, match="XX"):
        Holidays(calendar="XX", source="s")
    with pytest.raises(ValidationError, match="ZZ"):
        Holidays(calendar="US", subdivisions=("ZZ",), source="s")


# Instants around US holidays, seen from zones west of UTC: the local date lags the UTC date.
US_DAYS = [day for day in US_HOLIDAYS if date(2026, 1, 1) <= day <= date(2027, 12, 31)]
WEST = [
    (NEW_YORK, "America/New_York"),
    (LOS_ANGELES, "America/Los_Angeles"),
    (account("+18085550123", "US", "HI"), "Pacific/Honolulu"),
]


@settings(max_examples=300, deadline=None)
@given(
    day=st.sampled_from(US_DAYS),
    minutes=st.integers(-36 * 60, 36 * 60),
    borrower=st.sampled_from(WEST),
)
def test_us_holiday_follows_the_local_date_not_the_utc_date(
    day: date, minutes: int, borrower: tuple[Account, str]
) -> None:
    # Given an instant within a day and a half of a federal holiday (DST included)
    acct, zone_name = borrower
    instant = datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(minutes=minutes)
    local = instant.astimezone(ZoneInfo(zone_name)).date()
    result = decide(gate(acct, instant), BOOK)
    # Then a local holiday never sends (whatever the UTC date says), and names the holiday
    if local in US_HOLIDAYS:
        assert (result.verdict, result.reason) == (Verdict.DEFER, "holiday")
        assert US_HOLIDAYS[local] in result.detail
    # And a local working day is never held as a holiday (whatever the UTC date says)
    else:
        assert result.reason != "holiday"
    # And whatever instant a DEFER points at is not a local holiday
    if result.until is not None:
        assert result.until.astimezone(ZoneInfo(zone_name)).date() not in US_HOLIDAYS


CN_DAYS = [day for day in CN_HOLIDAYS if date(2026, 1, 1) <= day <= date(2026, 12, 31)]


@settings(max_examples=200, deadline=None)
@given(day=st.sampled_from(CN_DAYS), minutes=st.integers(-24 * 60, 24 * 60))
def test_china_holiday_follows_shanghai_date_ahead_of_utc(day: date, minutes: int) -> None:
    # Given an instant near a Chinese holiday: Shanghai's date runs 8 hours ahead of UTC
    instant = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)
    local = instant.astimezone(ZoneInfo("Asia/Shanghai")).date()
    result = decide(gate(SHANGHAI, instant), BOOK)
    # Then only Shanghai's date decides
    assert (result.reason == "holiday") is (local in CN_HOLIDAYS)
    if result.verdict is Verdict.SEND:
        assert local not in CN_HOLIDAYS
