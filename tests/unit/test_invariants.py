"""The invariants of docs/design.md computed from audit records, independently of the gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.core.models import (
    Account,
    AuditRecord,
    Channel,
    Decision,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from rung.invariants import (
    DOUBLE_SENDS,
    SENDS_AFTER_OPT_OUT,
    SENDS_IN_QUIET_HOURS,
    SENDS_ON_BLACKOUT_DAYS,
    UnknownAccountError,
    check_all,
    double_sends,
    sends_after_opt_out,
    sends_in_quiet_hours,
    sends_on_blackout_days,
)
from tests.unit.test_report import account, record

T0 = datetime(2026, 12, 5, 18, tzinfo=UTC)
ANN = account("A1", phone="+14155550123", email="ann@example.com")
BOB = account("B2", phone="+14155550999", email="bob@example.com")


def send(
    account_id: str = "A1",
    rung: int = 0,
    channel: Channel = Channel.SMS,
    at: datetime = T0,
    decision: Decision = Decision.SENT,
    cycle: str = "2026-12-01",
) -> AuditRecord:
    return record(account_id, rung, channel, decision, at, cycle=cycle)


def opt_out(
    channel: Channel = Channel.SMS,
    address: str = "+14155550123",
    scope: SuppressionScope = SuppressionScope.ALL,
    at: datetime = T0,
    source: SuppressionSource = SuppressionSource.REPLY,
) -> Suppression:
    return Suppression(channel=channel, address=address, scope=scope, source=source, at=at)


# -- double sends ----------------------------------------------------------------------------


def test_double_sends_same_rung_and_channel_counted() -> None:
    # Given the same rung sent twice on the same channel
    first, second = send(at=T0), send(at=T0 + timedelta(hours=1))

    # When checked
    violations = double_sends([second, first])

    # Then the later one is the violation
    assert [v.record for v in violations] == [second]
    assert violations[0].invariant == DOUBLE_SENDS


def test_double_sends_distinct_rung_channel_cycle_account_not_counted() -> None:
    # Given sends that differ in rung, channel, cycle or account, and non-send decisions
    records = [
        send(),
        send(rung=1),
        send(channel=Channel.EMAIL),
        send(cycle="2027-01-01"),
        send(account_id="B2"),
        send(decision=Decision.DEFERRED),
        send(decision=Decision.SUPPRESSED),
    ]

    # When checked, then nothing is a double send
    assert double_sends(records) == []


def test_double_sends_after_uncertain_attempt_counted() -> None:
    # Given an attempt whose outcome is unknown, then a second attempt (user story 5)
    uncertain = send(decision=Decision.UNCERTAIN)
    resent = send(at=T0 + timedelta(minutes=5))

    # When checked, then the re-send is a double send
    assert [v.record for v in double_sends([uncertain, resent])] == [resent]


def test_double_sends_triple_send_counts_two() -> None:
    records = [send(at=T0 + timedelta(minutes=n)) for n in range(3)]
    assert len(double_sends(records)) == 2


# -- sends after opt-out ---------------------------------------------------------------------


def test_sends_after_opt_out_all_scope_covers_other_channel() -> None:
    # Given an SMS STOP covering every channel, and an email sent an hour later
    late_email = send(channel=Channel.EMAIL, rung=1, at=T0 + timedelta(hours=1))

    # When checked
    violations = sends_after_opt_out([late_email], [ANN], [opt_out()])

    # Then the email is counted
    assert [v.record for v in violations] == [late_email]
    assert violations[0].invariant == SENDS_AFTER_OPT_OUT
    assert "all-scope" in violations[0].detail


def test_sends_after_opt_out_send_before_opt_out_not_counted() -> None:
    # Given a send one second before the opt-out
    early = send(at=T0 - timedelta(seconds=1))

    # When checked, then it is allowed
    assert sends_after_opt_out([early], [ANN], [opt_out()]) == []


def test_sends_after_opt_out_send_at_opt_out_instant_counted() -> None:
    # Given a send at the very instant the opt-out took effect ("before the next send")
    same_instant = send(at=T0)

    # When checked, then it is counted
    assert len(sends_after_opt_out([same_instant], [ANN], [opt_out()])) == 1


def test_sends_after_opt_out_address_scope_covers_only_its_channel() -> None:
    # Given an address-scope SMS opt-out, then one SMS and one email
    stop = opt_out(scope=SuppressionScope.ADDRESS)
    later = T0 + timedelta(days=1)
    sms, email = send(at=later), send(channel=Channel.EMAIL, rung=1, at=later)

    # When checked, then only the SMS is counted
    assert [v.record for v in sends_after_opt_out([sms, email], [ANN], [stop])] == [sms]


def test_sends_after_opt_out_channel_scope_on_email_covers_email_only() -> None:
    # Given an email unsubscribe for the whole email channel
    unsubscribe = opt_out(
        channel=Channel.EMAIL,
        address="Ann@Example.com",
        scope=SuppressionScope.CHANNEL,
        source=SuppressionSource.UNSUBSCRIBE,
    )
    later = T0 + timedelta(days=1)
    sms, email = send(at=later), send(channel=Channel.EMAIL, rung=1, at=later)

    # When checked (the email key is case-insensitive), then only the email is counted
    assert [v.record for v in sends_after_opt_out([sms, email], [ANN], [unsubscribe])] == [email]


def test_sends_after_opt_out_other_borrowers_opt_out_not_counted() -> None:
    # Given Bob opted out of everything and Ann is sent to afterwards
    bobs_stop = opt_out(address="+14155550999")
    later = send(at=T0 + timedelta(days=1))

    # When checked, then Ann's send is not affected
    assert sends_after_opt_out([later], [ANN, BOB], [bobs_stop]) == []


def test_sends_after_opt_out_lender_scoped_stop_covers_only_that_lenders_sends() -> None:
    # Given one phone owed to lenders demo and acme, and a STOP that binds acme only
    demo = account("A1", phone="+14155550123")
    acme = account("A1", phone="+14155550123", lender_id="acme")
    stop = opt_out(scope=SuppressionScope.ADDRESS).model_copy(update={"lender_id": "acme"})
    later = T0 + timedelta(hours=1)
    demo_sms = send(at=later)
    acme_sms = record("A1", 0, Channel.SMS, Decision.SENT, later, lender_id="acme")

    # When checked, then only acme's text is counted
    violations = sends_after_opt_out([demo_sms, acme_sms], [demo, acme], [stop])
    assert [v.record for v in violations] == [acme_sms]


def test_sends_after_opt_out_unknown_account_raises() -> None:
    with pytest.raises(UnknownAccountError, match="'Z9'"):
        sends_after_opt_out([send(account_id="Z9")], [ANN], [opt_out()])


# -- quiet hours -----------------------------------------------------------------------------


def test_sends_in_quiet_hours_callable_honoured_for_sends_only() -> None:
    # Given a rule that calls every instant after 20:00 UTC quiet, and Ann's account
    night = T0 + timedelta(hours=3)
    records = [
        send(at=T0),
        send(rung=1, at=night),
        send(rung=2, at=night, decision=Decision.DEFERRED),
        send(rung=3, at=night, decision=Decision.SUPPRESSED),
    ]
    asked: list[Account] = []

    def after_twenty_utc(record: AuditRecord, account: Account) -> bool:
        asked.append(account)
        return record.at_utc.hour >= 20

    # When checked
    violations = sends_in_quiet_hours(records, [ANN], after_twenty_utc)

    # Then only the night send counts, and the check saw the account it belongs to
    assert [v.record for v in violations] == [records[1]]
    assert violations[0].invariant == SENDS_IN_QUIET_HOURS
    assert asked == [ANN, ANN]


def test_check_all_clean_run_has_no_violations() -> None:
    # Given two sends on different rungs, before any opt-out, in allowed hours
    records = [
        send(at=T0 - timedelta(days=2)),
        send(rung=1, channel=Channel.EMAIL, at=T0 - timedelta(days=1)),
    ]

    # When every invariant is checked
    violations = check_all(
        records, [ANN], [opt_out()], lambda record, account: False, lambda record, account: None
    )

    # Then every list is empty
    assert violations == {
        SENDS_IN_QUIET_HOURS: [],
        SENDS_ON_BLACKOUT_DAYS: [],
        SENDS_AFTER_OPT_OUT: [],
        DOUBLE_SENDS: [],
    }


def test_sends_on_blackout_days_counts_sends_only_and_says_which_day() -> None:
    # Given a send and a deferral, and a check that calls every asked record a holiday
    records = [send(at=T0), send(rung=1, at=T0, decision=Decision.DEFERRED)]
    asked: list[Account] = []

    def christmas(record: AuditRecord, account: Account) -> str | None:
        asked.append(account)
        return "2026-12-25 Christmas Day in America/New_York"

    # When checked
    violations = sends_on_blackout_days(records, [ANN], christmas)

    # Then only the send is asked about and counted, and the violation names the day
    assert [v.invariant for v in violations] == [SENDS_ON_BLACKOUT_DAYS]
    assert violations[0].detail == "sent on 2026-12-25 Christmas Day in America/New_York"
    assert asked == [ANN]
