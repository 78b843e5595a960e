"""Frequency caps at their edges (functions/core/caps.py): a capped message is deferred to the
exact instant the cap frees — not a second early (a borrower texted twice in a day), not
later than needed — on DST days and across several candidate zones too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from functions.core.caps import Cap, ContactHistory, blocked_until, first_block
from functions.core.models import Account, Channel
from functions.core.policy import GateInput, Verdict, decide
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
NY = "America/New_York"
LA = "America/Los_Angeles"
NOON_NY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
DAILY = Cap(name="per_day", counts="ladder_channel", period="local_day", max=1)
WEEKLY = Cap(name="per_week", counts="ladder_all", period="rolling", days=7, max=3)
TEXTS_ONLY = Cap(
    name="texts", counts="ladder_channel", period="rolling", days=7, max=1, channels=(Channel.SMS,)
)


def borrower() -> Account:
    return Account(
        lender_id="demo",
        account_id="A1",
        phone="+12125550123",
        amount_due=Decimal("10.00"),
        currency="USD",
        due_date=date(2026, 3, 1),
        locale="en-US",
        country="US",
        state="NY",
    )


def test_caps_a_texts_only_cap_listed_first_still_leaves_email_under_the_other_caps() -> None:
    # Given a profile whose first cap is for texts only, then a daily cap for every channel
    history = ContactHistory(ladder_channel=(NOON_NY - timedelta(hours=2),))
    # When an email is checked after an email went out this morning
    block = first_block((TEXTS_ONLY, DAILY), Channel.EMAIL, history, NOON_NY, (NY,))
    # Then the daily cap still holds it until the next local day
    assert block is not None
    assert block.cap == DAILY
    assert block.free_at == datetime(2026, 6, 11, 4, 0, tzinfo=UTC)


def test_caps_texts_only_cap_does_not_hold_an_email() -> None:
    history = ContactHistory(ladder_channel=(NOON_NY - timedelta(days=2),))
    assert first_block((TEXTS_ONLY,), Channel.EMAIL, history, NOON_NY, (NY,)) is None
    assert first_block((TEXTS_ONLY,), Channel.SMS, history, NOON_NY, (NY,)) is not None


def test_caps_first_cap_is_reported_but_the_latest_free_time_is_kept() -> None:
    # Given a text this morning and three contacts in the last week
    week = (NOON_NY - timedelta(days=5), NOON_NY - timedelta(days=3), NOON_NY - timedelta(hours=2))
    history = ContactHistory(ladder_channel=week[-1:], ladder_all=week)
    block = first_block((DAILY, WEEKLY), Channel.SMS, history, NOON_NY, (NY,))
    # Then the audit names the daily cap (first in profile order), but no instant before the
    # weekly cap frees is offered: sending tomorrow would break the weekly cap
    assert block is not None
    assert (block.cap, block.zone) == (DAILY, NY)
    assert block.free_at == week[0] + timedelta(days=7)


def test_caps_rolling_window_lets_the_attempt_exactly_a_window_ago_drop_out() -> None:
    sent = (NOON_NY - timedelta(days=7), NOON_NY - timedelta(days=3), NOON_NY - timedelta(days=1))
    assert blocked_until(WEEKLY, sent, NOON_NY, (NY,)) is None
    one_second_later = (sent[0] + timedelta(seconds=1), *sent[1:])
    block = blocked_until(WEEKLY, one_second_later, NOON_NY, (NY,))
    assert block is not None and block.free_at == NOON_NY + timedelta(seconds=1)


def test_caps_over_the_cap_frees_only_when_enough_attempts_have_aged_out() -> None:
    # Given four contacts in the week under a cap of three (a skewed clock recorded one more)
    sent = tuple(NOON_NY - timedelta(days=d) for d in (6, 5, 2, 1))
    block = blocked_until(WEEKLY, sent, NOON_NY, (NY,))
    # Then the next one waits until two have left the window, not one
    assert block is not None and block.free_at == sent[1] + timedelta(days=7)
    assert block.zone is None


def test_caps_rolling_cap_counts_a_later_dated_attempt() -> None:
    sent = (NOON_NY - timedelta(days=1), NOON_NY, NOON_NY + timedelta(minutes=5))
    assert blocked_until(WEEKLY, sent, NOON_NY, (NY,)) is not None


def test_caps_daily_cap_below_its_maximum_allows_the_send() -> None:
    twice = Cap(name="twice", counts="ladder_channel", period="local_day", max=2)
    one = (NOON_NY - timedelta(hours=1),)
    assert blocked_until(twice, one, NOON_NY, (NY,)) is None
    two = (*one, NOON_NY - timedelta(hours=2))
    assert blocked_until(twice, two, NOON_NY, (NY,)) is not None


def test_caps_local_midnight_starts_a_new_day() -> None:
    midnight = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert blocked_until(DAILY, (midnight,), NOON_NY, (NY,)) is not None
    before = midnight - timedelta(seconds=1)  # 23:59:59 the day before
    assert blocked_until(DAILY, (before,), NOON_NY, (NY,)) is None


def test_caps_daily_cap_full_in_two_zones_frees_at_the_later_midnight() -> None:
    sent = (NOON_NY - timedelta(hours=1),)
    block = blocked_until(DAILY, sent, NOON_NY, (NY, LA))
    assert block is not None
    assert (block.zone, block.free_at) == (LA, datetime(2026, 6, 11, 7, 0, tzinfo=UTC))
    reverse = blocked_until(DAILY, sent, NOON_NY, (LA, NY))
    assert reverse is not None and reverse.free_at == block.free_at


def test_gate_reply_late_on_the_fall_back_day_counts_that_mornings_text() -> None:
    # Given a text at 10:00 on 1 November 2026, the 25-hour day New York leaves DST
    morning = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)  # 10:00 EST
    # When the borrower asks for a reply at 23:30 the same local day (04:30 UTC, 2 November)
    late = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    result = decide(
        GateInput(
            account=borrower(),
            channel=Channel.SMS,
            now=late,
            template_version="v1",
            history=ContactHistory(ladder_channel=(morning,)),
            is_reply=True,
        ),
        BOOK,
    )
    # Then the day's one text is spent: the reply waits for local midnight
    assert (result.verdict, result.reason) == (Verdict.DEFER, "cap_channel_per_day")
    assert result.until == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # 00:00 EST


def test_caps_spring_forward_day_is_23_hours_long() -> None:
    # Given a text at 00:30 on 8 March 2026 (New York springs forward at 02:00)
    early = datetime(2026, 3, 8, 5, 30, tzinfo=UTC)  # 00:30 EST
    # Then the local day is full until 00:00 EDT on 9 March, one hour earlier in UTC
    late = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)  # 23:30 EDT
    block = blocked_until(DAILY, (early,), late, (NY,))
    assert block is not None and block.free_at == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert blocked_until(DAILY, (early,), datetime(2026, 3, 9, 4, 0, tzinfo=UTC), (NY,)) is None


def test_caps_history_refuses_an_attempt_time_without_a_zone() -> None:
    with pytest.raises(ValidationError, match="has no time zone"):
        ContactHistory(address=(datetime(2026, 6, 10, 12, 0),))


def test_caps_history_is_kept_in_utc_order() -> None:
    from zoneinfo import ZoneInfo

    later = datetime(2026, 6, 10, 12, 0, tzinfo=ZoneInfo(NY))
    earlier = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    history = ContactHistory(ladder_all=(later, earlier))
    assert history.ladder_all == (earlier, later.astimezone(UTC))
    assert all(value.tzinfo is UTC for value in history.ladder_all)


def test_caps_a_local_day_cap_cannot_claim_several_days() -> None:
    with pytest.raises(ValidationError, match="counts exactly one day"):
        Cap(name="two_days", counts="ladder_channel", period="local_day", days=2, max=1)


def test_caps_latest_free_time_wins_whatever_the_order_of_the_caps() -> None:
    week = (NOON_NY - timedelta(days=5), NOON_NY - timedelta(days=3), NOON_NY - timedelta(hours=2))
    history = ContactHistory(ladder_channel=week[-1:], ladder_all=week)
    block = first_block((WEEKLY, DAILY), Channel.SMS, history, NOON_NY, (NY,))
    assert block is not None
    assert block.cap == WEEKLY
    assert block.free_at == week[0] + timedelta(days=7)


def test_caps_attempt_at_the_next_local_midnight_belongs_to_the_next_day() -> None:
    next_midnight = datetime(2026, 6, 11, 4, 0, tzinfo=UTC)  # 00:00 EDT, 11 June
    assert blocked_until(DAILY, (next_midnight,), NOON_NY, (NY,)) is None


def test_caps_zones_whose_days_end_together_name_the_first_zone() -> None:
    sent = (NOON_NY - timedelta(hours=1),)
    block = blocked_until(DAILY, sent, NOON_NY, (NY, "America/Toronto"))
    assert block is not None and block.zone == NY
