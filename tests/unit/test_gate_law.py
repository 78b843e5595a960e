"""The gate where its rules meet: every place the data puts the borrower, and what the audit
trail tells a regulator about each decision (functions/core/policy.py).

Each test names the borrower-facing or legal consequence a regression would have.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.policy import ContactHistory, GateInput, Verdict, decide
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
LA_MOBILE = "+13105550123"  # area code 310: America/Los_Angeles
NY_PHONE = "+12125550123"  # area code 212: America/New_York
NOON_NY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # Wed 12:00 EDT, 09:00 PDT


def account(**changes: object) -> Account:
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": "A1",
        "phone": NY_PHONE,
        "email": "borrower@example.com",
        "amount_due": Decimal("120.50"),
        "currency": "USD",
        "due_date": date(2026, 6, 1),
        "locale": "en-US",
        "country": "US",
        "state": "NY",
    }
    fields.update(changes)
    return Account.model_validate(fields)


def gate(**changes: object) -> GateInput:
    fields: dict[str, object] = {
        "account": account(),
        "channel": Channel.SMS,
        "now": NOON_NY,
        "template_version": "v1",
    }
    fields.update(changes)
    return GateInput.model_validate(fields)


# -- every place the data suggests ---------------------------------------------------------


def test_gate_la_mobile_with_a_new_york_address_is_not_texted_at_0530_pacific() -> None:
    # Given a borrower with a New York address whose mobile number is from Los Angeles
    borrower = account(phone=LA_MOBILE, state="NY")
    # When a rung is due at 08:30 in New York, which is 05:30 in Los Angeles
    result = decide(gate(account=borrower, now=datetime(2026, 6, 10, 12, 30, tzinfo=UTC)), BOOK)
    # Then the phone's zone holds it until 08:00 Pacific, and the audit names that zone
    assert result.zones == ("America/New_York", "America/Los_Angeles")
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.DEFER,
        "quiet_hours",
        "quiet_hours",
    )
    assert result.until == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    assert result.zone == "America/Los_Angeles"
    assert result.local_time == "2026-06-10T05:30:00-07:00"
    assert result.until_local == "2026-06-10T08:00:00-07:00"
    assert result.detail == "America/Los_Angeles local Wed 05:30; allowed 08:00-21:00"


def test_gate_borrower_living_abroad_is_not_texted_at_night_at_her_address() -> None:
    # Given a US mobile number and a London address (the country column says GB)
    borrower = account(country="GB", state=None)
    # When it is 16:30 in New York, 21:30 in London
    result = decide(gate(account=borrower, now=datetime(2026, 6, 10, 20, 30, tzinfo=UTC)), BOOK)
    # Then London's evening holds the text, although New York's window is open
    assert result.zones == ("Europe/London", "America/New_York")
    assert (result.verdict, result.zone) == (Verdict.DEFER, "Europe/London")
    assert result.profile == "GB"


def test_gate_email_only_borrower_keeps_the_zone_of_her_address() -> None:
    # Given no phone at all, only an email and a Los Angeles address
    borrower = account(phone=None, state="CA")
    # When an email is due at 10:00 in New York, 07:00 in Los Angeles
    result = decide(
        gate(account=borrower, channel=Channel.EMAIL, now=datetime(2026, 6, 10, 14, 0, tzinfo=UTC)),
        BOOK,
    )
    # Then it waits for 08:00 Pacific instead of failing open or failing closed
    assert result.zones == ("America/Los_Angeles",)
    assert (result.verdict, result.until) == (
        Verdict.DEFER,
        datetime(2026, 6, 10, 15, 0, tzinfo=UTC),
    )


def test_gate_daily_cap_full_in_the_phones_zone_names_that_zone() -> None:
    # Given a Los Angeles address and a New York phone, and a text at 01:00 New York time
    # on 10 June (still 9 June in Los Angeles)
    borrower = account(state="CA")
    sent = ContactHistory(ladder_channel=(datetime(2026, 6, 10, 5, 0, tzinfo=UTC),))
    # When the next text is due at 20:30 New York, 17:30 Los Angeles, the same 10 June
    now = datetime(2026, 6, 11, 0, 30, tzinfo=UTC)
    result = decide(gate(account=borrower, history=sent, now=now), BOOK)
    # Then New York's local day is full: the audit names New York and the cap
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.DEFER,
        "frequency_cap",
        "cap_channel_per_day",
    )
    assert result.zones[0] == "America/Los_Angeles"
    assert result.zone == "America/New_York"
    assert result.detail == "channel_per_day: at most 1 per local day"


def test_gate_rolling_cap_audit_names_the_window_in_days() -> None:
    sent = tuple(NOON_NY - timedelta(days=d) for d in (6, 4, 2))
    result = decide(gate(history=ContactHistory(ladder_all=sent)), BOOK)
    assert result.detail == "ladder_per_7_days: at most 3 per rolling 7 days"
    assert result.zone == "America/New_York"


# -- what the audit trail says -------------------------------------------------------------


def test_gate_send_carries_no_reason_and_no_deferral() -> None:
    result = decide(gate(), BOOK)
    assert (result.verdict, result.reason, result.detail) == (Verdict.SEND, "", "")
    assert (result.until, result.until_local) == (None, "")


def test_gate_claimed_payment_without_claim_time_is_recorded_as_a_status_decision() -> None:
    result = decide(gate(account=account(status=AccountStatus.PAYMENT_CLAIMED)), BOOK)
    assert (result.rule, result.reason) == ("account_status", "status_payment_claimed")
    assert result.detail == "payment claimed, but the claim time is unknown"


def test_gate_payment_claim_hold_is_explained_in_days() -> None:
    claimed = NOON_NY - timedelta(days=1)
    result = decide(
        gate(
            account=account(status=AccountStatus.PAYMENT_CLAIMED, status_changed_at=claimed),
            payment_claim_hold_days=3,
        ),
        BOOK,
    )
    assert result.detail == "hold of 3 days after the claim"
    assert result.until == claimed + timedelta(days=3)


def test_gate_unreadable_zone_names_the_field_for_the_lender() -> None:
    result = decide(gate(account=account(timezone="Mars/Base")), BOOK)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.SUPPRESS,
        "timezone",
        "invalid_location",
    )
    assert result.detail == "timezone: unknown IANA zone 'Mars/Base'"
    assert result.zones == () and result.local_time == ""


def test_gate_no_zone_at_all_says_where_it_looked() -> None:
    result = decide(gate(account=account(phone="+80012345678", country=None, state=None)), BOOK)
    assert result.reason == "no_timezone"
    assert result.detail == "no zone from phone, address or lender timezone"
    assert (result.zone, result.local_time) == ("", "")


def test_gate_no_allowed_day_within_the_horizon_is_suppressed_not_deferred_forever() -> None:
    # Given a lender whose holidays cover every day of the next 401
    every_day = [date(2026, 6, 10) + timedelta(days=n) for n in range(402)]
    book = BOOK.with_overrides({"US": {"blackout_dates": every_day}})
    # Then no instant is lawful: the rung is suppressed, and the audit says why
    result = decide(gate(), book)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.SUPPRESS,
        "blackout",
        "no_allowed_time",
    )
    assert result.zone == "America/New_York"
    assert result.detail == (
        "no instant within 400 days is allowed in every candidate zone (blackout_day)"
    )


def test_gate_no_allowed_time_names_the_zone_that_blocked_first() -> None:
    # Given a Los Angeles address, a New York phone and holidays from 11 June for 401 days
    borrower = account(state="CA")
    holidays = [date(2026, 6, 11) + timedelta(days=n) for n in range(402)]
    book = BOOK.with_overrides({"US": {"blackout_dates": holidays}})
    # When a rung comes up at 20:00 on 10 June in Los Angeles, 23:00 in New York
    result = decide(gate(account=borrower, now=datetime(2026, 6, 11, 3, 0, tzinfo=UTC)), book)
    # Then it is suppressed, and the audit names New York's quiet hours, not Los Angeles
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.SUPPRESS,
        "quiet_hours",
        "no_allowed_time",
    )
    assert result.zones[0] == "America/Los_Angeles"
    assert result.zone == "America/New_York"
    assert result.local_time == "2026-06-10T23:00:00-04:00"


@pytest.fixture
def new_york_worker() -> Iterator[None]:
    """A worker whose own clock runs in New York (naive conversions would use it)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    mp.undo()
    time.tzset()


def test_gate_opt_out_time_in_the_audit_is_utc_on_any_worker(new_york_worker: None) -> None:
    # Given a STOP received at 12:00 New York time, read on a worker set to New York
    stop = Suppression(
        channel=Channel.SMS,
        address=NY_PHONE,
        scope=SuppressionScope.ADDRESS,
        source=SuppressionSource.REPLY,
        at=datetime(2026, 6, 9, 12, 0, tzinfo=UTC) + timedelta(hours=4),
    )
    result = decide(gate(suppressions=(stop,)), BOOK)
    # Then the audit states the instant in UTC, as it says it does
    assert result.detail == "address suppression from reply at 2026-06-09T16:00:00Z"
