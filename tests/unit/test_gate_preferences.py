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


def from_file(**fields: object) -> ContactPreference:
    return ContactPreference.model_validate(
        {"at": SAID_AT, "source": "lender_file", "rule": "lender column", **fields}
    )


def test_lender_file_hours_narrow_the_window_and_the_detail_names_the_source() -> None:
    # Given the lender file's contact_hours 18:00-20:00 and a rung at noon New York time
    acct = account(contact_preferences=(from_file(not_before=time(18), not_after=time(20)),))
    result = decide(gate(acct), BOOK)
    # Then it waits for 18:00, and says the lender file asked for it
    assert (result.verdict, result.reason) == (Verdict.DEFER, "preferred_hours")
    assert result.until == datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
    assert "hours 18:00-20:00 — lender file" in result.detail


def test_lender_file_channel_not_to_use_and_preferred_channel() -> None:
    no_sms = account(contact_preferences=(from_file(channel=Channel.SMS, excluded=True),))
    result = decide(gate(no_sms), BOOK)
    assert (result.verdict, result.reason) == (Verdict.SUPPRESS, "channel_excluded")
    assert result.detail.startswith("no sms — lender file")
    email_only = account(contact_preferences=(from_file(channel=Channel.EMAIL, preferred=True),))
    assert decide(gate(email_only), BOOK).verdict is Verdict.SUPPRESS
    assert decide(gate(email_only, channel=Channel.EMAIL), BOOK).verdict is Verdict.SEND


def test_borrower_hours_win_where_they_leave_no_hour_with_the_lender_file() -> None:
    # Given the lender file's 18:00-20:00 and the borrower's later "not after 6pm"
    acct = account(
        contact_preferences=(
            from_file(not_before=time(18), not_after=time(20)),
            prefer(not_after=time(18)),
        )
    )
    # Then the borrower's word wins: noon is fine, 19:00 is not
    assert decide(gate(acct), BOOK).verdict is Verdict.SEND
    evening = decide(gate(acct, now=datetime(2026, 6, 10, 23, 0, tzinfo=UTC)), BOOK)
    assert (evening.verdict, evening.reason) == (Verdict.DEFER, "preferred_hours")


def test_compatible_hours_from_both_sources_both_bind() -> None:
    # Given the lender file's 09:00-20:00 and the borrower's "not after 5pm"
    acct = account(
        contact_preferences=(
            from_file(not_before=time(9), not_after=time(20)),
            prefer(not_after=time(17)),
        )
    )
    six_pm = datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
    assert decide(gate(acct, now=six_pm), BOOK).verdict is Verdict.DEFER
    eight_thirty = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)
    assert decide(gate(acct, now=eight_thirty), BOOK).verdict is Verdict.DEFER


def test_borrower_channel_wins_where_the_lender_file_would_leave_no_channel() -> None:
    # Given the lender file says "no sms", and the borrower later replied "text me only"
    acct = account(
        contact_preferences=(
            from_file(channel=Channel.SMS, excluded=True),
            prefer(channel=Channel.SMS, preferred=True),
        )
    )
    # Then texts go out (the borrower's word) and no other channel does
    assert decide(gate(acct), BOOK).verdict is Verdict.SEND
    for other in (Channel.EMAIL, Channel.PUSH):
        assert decide(gate(acct, channel=other), BOOK).verdict is Verdict.SUPPRESS


def test_lender_exclusion_holds_while_the_borrower_leaves_another_channel_open() -> None:
    # Given the lender file says "no sms" and the borrower said "no email": push remains
    acct = account(
        contact_preferences=(
            from_file(channel=Channel.SMS, excluded=True),
            prefer(channel=Channel.EMAIL, excluded=True),
        )
    )
    assert decide(gate(acct), BOOK).verdict is Verdict.SUPPRESS
    assert decide(gate(acct, channel=Channel.EMAIL), BOOK).verdict is Verdict.SUPPRESS


def test_lender_file_alone_may_rule_out_every_channel() -> None:
    acct = account(
        contact_preferences=(
            from_file(channel=Channel.SMS, excluded=True),
            from_file(channel=Channel.EMAIL, excluded=True),
        )
    )
    for channel in Channel:
        assert decide(gate(acct, channel=channel), BOOK).verdict is Verdict.SUPPRESS


@settings(max_examples=300, deadline=None)
@given(
    instant=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    lender_hours=st.tuples(st.integers(0, 22), st.integers(1, 23)).filter(lambda h: h[0] < h[1]),
    borrower_after=st.integers(1, 23),
)
def test_borrower_hours_always_bind_and_lender_hours_bind_unless_they_conflict(
    instant: datetime, lender_hours: tuple[int, int], borrower_after: int
) -> None:
    # Given lender-file hours and a borrower's "not after H", at any instant across DST
    start, end = lender_hours
    acct = account(
        contact_preferences=(
            from_file(not_before=time(start), not_after=time(end)),
            prefer(not_after=time(borrower_after)),
        )
    )
    result = decide(gate(acct, now=instant), BOOK)
    at = instant if result.verdict is Verdict.SEND else result.until
    if at is None:
        return  # nothing of the day is left within the law's window
    hour = at.astimezone(NY).hour + at.astimezone(NY).minute / 60
    # Then the law's and the borrower's hours always hold (read on New York's wall clock)
    assert 8 <= hour < min(21, borrower_after)
    # And the lender file's hours too, whenever they leave an hour with the borrower's
    if start < borrower_after:
        assert start <= hour < end
