"""The gate on what borrowers told us by reply: a promise to pay holds the ladder, a contact
preference narrows the hours or excludes a channel (Reg F 1006.6(b)(1): inconvenient times)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.models import Account, AccountStatus, Channel, ContactPreference
from functions.core.policy import GateInput, Verdict, decide
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
NY = ZoneInfo("America/New_York")
NOON_NY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # Wed 12:00 EDT
SAID_AT = NOON_NY - timedelta(days=1)


def account(**changes: object) -> Account:
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": "A1",
        "phone": "+12125550123",  # America/New_York
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


def gate(acct: Account, now: datetime = NOON_NY, channel: Channel = Channel.SMS) -> GateInput:
    return GateInput(account=acct, channel=channel, now=now, template_version="v1")


def prefer(**fields: object) -> ContactPreference:
    return ContactPreference.model_validate({"at": SAID_AT, **fields})


def test_promise_to_pay_defers_until_hold_ends_then_resumes() -> None:
    # Given a promise held until Friday 10:00 New York time
    until = datetime(2026, 6, 12, 14, 0, tzinfo=UTC)
    promised = account(
        status=AccountStatus.PROMISE_TO_PAY, status_changed_at=SAID_AT, hold_until=until
    )
    # When the gate looks before then, Then the rung waits for the end of the hold
    held = decide(gate(promised), BOOK)
    assert (held.verdict, held.reason, held.until) == (Verdict.DEFER, "promise_to_pay_hold", until)
    # And after the hold the ladder resumes
    assert decide(gate(promised, now=until + timedelta(hours=1)), BOOK).verdict is Verdict.SEND


def test_promise_to_pay_without_hold_end_fails_closed() -> None:
    promised = account(status=AccountStatus.PROMISE_TO_PAY, status_changed_at=SAID_AT)
    result = decide(gate(promised), BOOK)
    assert (result.verdict, result.reason) == (Verdict.SUPPRESS, "status_promise_to_pay")


def test_preference_excluding_channel_suppresses_only_that_channel() -> None:
    # Given "email only please"
    acct = account(contact_preferences=(prefer(channel=Channel.SMS, excluded=True),))
    sms = decide(gate(acct), BOOK)
    assert (sms.verdict, sms.rule, sms.reason) == (
        Verdict.SUPPRESS,
        "contact_preference",
        "channel_excluded",
    )
    assert decide(gate(acct, channel=Channel.EMAIL), BOOK).verdict is Verdict.SEND


def test_preference_not_after_defers_to_next_morning_and_names_the_preference() -> None:
    # Given "not after 6pm" and a rung due at 19:00 New York time (inside the law's window)
    acct = account(contact_preferences=(prefer(not_after=time(18, 0)),))
    evening = datetime(2026, 6, 10, 23, 0, tzinfo=UTC)  # 19:00 EDT
    result = decide(gate(acct, now=evening), BOOK)
    # Then it waits for the next morning, and the audit names the borrower's preference
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.DEFER,
        "contact_preference",
        "preferred_hours",
    )
    assert result.until == datetime(2026, 6, 11, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_preference_not_before_ten_defers_morning_send() -> None:
    acct = account(contact_preferences=(prefer(not_before=time(10, 0)),))
    nine = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)  # 09:00 EDT
    result = decide(gate(acct, now=nine), BOOK)
    assert result.verdict is Verdict.DEFER
    assert result.until == datetime(2026, 6, 10, 14, 0, tzinfo=UTC)


def test_preference_for_other_channel_does_not_narrow_this_one() -> None:
    acct = account(contact_preferences=(prefer(channel=Channel.EMAIL, not_after=time(9, 0)),))
    assert decide(gate(acct), BOOK).verdict is Verdict.SEND


def test_preference_leaving_no_hours_suppresses() -> None:
    acct = account(contact_preferences=(prefer(not_before=time(20, 0), not_after=time(9, 0)),))
    result = decide(gate(acct), BOOK)
    assert (result.verdict, result.rule) == (Verdict.SUPPRESS, "contact_preference")


def test_preference_place_alone_does_not_change_the_gate() -> None:
    acct = account(contact_preferences=(prefer(place="work"),))
    assert decide(gate(acct), BOOK).verdict is Verdict.SEND


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    not_before=st.integers(0, 23),
    not_after=st.integers(1, 23),
)
def test_preferred_hours_are_never_broken_across_dst(
    instant: datetime, not_before: int, not_after: int
) -> None:
    # Given any borrower hours, at any instant across two years of DST changes in New York
    acct = account(
        contact_preferences=(prefer(not_before=time(not_before), not_after=time(not_after)),)
    )
    result = decide(gate(acct, now=instant), BOOK)
    # Then a SEND, or the instant a DEFER points at, is inside both the law's and the
    # borrower's hours, read on New York's wall clock (an oracle independent of the gate)
    at = instant if result.verdict is Verdict.SEND else result.until
    if at is None:
        assert result.verdict is Verdict.SUPPRESS
        assert max(8, not_before) >= min(21, not_after)
        return
    wall = at.astimezone(NY)
    hour = wall.hour + wall.minute / 60
    assert max(8, not_before) <= hour < min(21, not_after)
