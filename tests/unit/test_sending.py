"""One ladder step (functions.core.sending): at most once, deferred not dropped, nothing lost.

Runs on the in-memory adapters; the same guarantees on DynamoDB + SNS + the real ASL are in
tests/integration/test_send_on_moto.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from functions.adapters.memory import MemorySuppressionStore
from functions.bootstrap import Services, memory_services
from functions.core.approval import approve_lint_clean
from functions.core.clock import FixedClock
from functions.core.errors import PermanentSendError, TransientSendError, UncertainSendError
from functions.core.ladder import LadderState, load_ladder, to_sfn_timestamp
from functions.core.lenders import load_lender
from functions.core.models import (
    Account,
    Channel,
    Decision,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.sending import RungSender
from functions.core.unsubscribe import verify_token
from functions.send import handler as send
from functions.settings import PROJECT_ROOT, Settings
from rung.events import LocalContext

SEATTLE = ZoneInfo("America/Los_Angeles")
# No rung of the default ladder falls on a US holiday (day 1 of 25 November is Thanksgiving).
DUE = date(2026, 11, 2)
PHONE = "+12065550134"
EMAIL = "jane.doe@example.com"
LADDER = load_ladder(PROJECT_ROOT, "default")
LENDER = load_lender(PROJECT_ROOT, "demo")
UNSUBSCRIBE = "https://unsubscribe.example.com/"


@dataclass
class World:
    services: Services
    clock: FixedClock
    account: Account

    def sender(self) -> RungSender:
        return RungSender.from_services(self.services)

    def state(self, rung: int = 0) -> LadderState:
        return LadderState(
            lender_id="demo",
            account_id=self.account.account_id,
            cycle=self.account.cycle,
            rung=rung,
            next_at=to_sfn_timestamp(self.clock.now()),
        )

    @property
    def sms(self) -> list[Any]:
        return self.services.sms.sent  # type: ignore[attr-defined, no-any-return]

    @property
    def emails(self) -> list[Any]:
        return self.services.email.sent  # type: ignore[attr-defined, no-any-return]

    @property
    def records(self) -> list[Any]:
        return self.services.audit.records  # type: ignore[attr-defined, no-any-return]


def due(rung: int) -> datetime:
    return LADDER.due_at(rung, DUE, SEATTLE)


@pytest.fixture
def world() -> World:
    clock = FixedClock(due(0))
    services = memory_services(
        Settings(config_root=PROJECT_ROOT, unsubscribe_url=UNSUBSCRIBE), clock
    )
    approve_lint_clean(services.templates, PROJECT_ROOT / "templates" / "messages", LENDER, due(0))
    account = Account(
        lender_id="demo",
        account_id="D-1",
        phone=PHONE,
        email=EMAIL,
        amount_due=Decimal("245.50"),
        currency="USD",
        due_date=DUE,
        first_name="Jane",
        locale="en-US",
        country="US",
        state="WA",
        timezone="America/Los_Angeles",
        payment_link="https://pay.demo-finance.example/a/D-1",
        cycle=DUE.isoformat(),
    )
    services.accounts.put_many([account])
    return World(services, clock, account)


def test_step_sends_the_due_rung_once_and_waits_for_the_next(world: World) -> None:
    step = world.sender().step(world.state())

    assert [record.decision for record in step.records] == [Decision.SENT]
    assert len(world.sms) == 1
    assert world.sms[0][1].to == PHONE
    assert "STOP" in world.sms[0][1].body
    assert step.state.rung == 1
    assert step.state.next_at == to_sfn_timestamp(due(1))
    assert not step.state.done


def test_step_duplicate_invocation_never_sends_twice(world: World) -> None:
    first = world.sender().step(world.state())
    second = world.sender().step(world.state())

    assert len(world.sms) == 1
    assert second.state == first.state
    assert [r.decision for r in world.records] == [Decision.SENT]


def test_step_crash_between_provider_call_and_record_ends_uncertain_not_resent(
    world: World,
) -> None:
    ledger = world.services.ledger
    real_complete = ledger.complete

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Lambda timed out after the provider call")

    ledger.complete = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        world.sender().step(world.state())
    ledger.complete = real_complete  # type: ignore[method-assign]

    retry = world.sender().step(world.state())  # the Step Functions retry of the same rung

    assert len(world.sms) == 1
    assert [r.decision for r in retry.records] == [Decision.UNCERTAIN]
    assert retry.records[0].reason == "earlier_attempt_outcome_unknown"
    assert retry.state.rung == 1  # the ladder goes on; the rung is never re-sent


def test_step_throttled_provider_releases_the_claim_so_the_retry_sends_once(
    world: World,
) -> None:
    world.services.sms.fail_next(TransientSendError("Throttling"))  # type: ignore[attr-defined]

    with pytest.raises(TransientSendError):
        world.sender().step(world.state())
    assert world.services.ledger.get(world.account.ladder_key, 0, Channel.SMS) is None

    retry = world.sender().step(world.state())

    assert len(world.sms) == 1
    assert [r.decision for r in retry.records] == [Decision.SENT]


def test_transient_fault_defers_the_rung_and_the_ladder_sends_it_later(world: World) -> None:
    # Given a provider that throttled the first rung past the ASL's short retries
    world.services.sms.fail_next(TransientSendError("Throttling"))  # type: ignore[attr-defined]
    with pytest.raises(TransientSendError):
        world.sender().step(world.state())

    # When the ladder's transient Catch hands the rung back to the send step
    deferred = world.sender().defer(world.state(), "TransientSendError")

    # Then the rung is DEFERRED with the reason, within the first back-off step, not dropped
    (record,) = deferred.records
    assert (record.rung, record.decision, record.reason) == (
        0,
        Decision.DEFERRED,
        "provider_unavailable",
    )
    assert record.rule == "TransientSendError"
    wait = deferred.state.next_instant - due(0)
    assert timedelta(minutes=2, seconds=30) <= wait <= timedelta(minutes=5)
    assert record.deferred_until == deferred.state.next_instant
    assert (deferred.state.rung, deferred.state.deferred, deferred.state.retries) == (0, True, 1)
    assert not deferred.state.done
    assert world.sms == []

    # ... and when the ladder wakes at next_at the provider takes it: one message, retries reset
    world.clock.set(deferred.state.next_instant)
    sent = world.sender().step(deferred.state)
    assert [r.decision for r in sent.records] == [Decision.SENT]
    assert len(world.sms) == 1
    assert (sent.state.rung, sent.state.retries) == (1, 0)


def test_transient_deferrals_back_off_and_end_at_the_next_rung(world: World) -> None:
    # Given a rung that has already waited out many transient faults
    state = world.state().model_copy(update={"retries": 12, "deferred": True})
    world.clock.set(due(1) - timedelta(minutes=20))

    # When it is deferred again
    deferred = world.sender().defer(state, "Lambda.TooManyRequestsException")

    # Then the wait is capped at the next rung's turn, and the reason names a service fault
    assert deferred.records[0].reason == "service_unavailable"
    assert deferred.state.next_instant == due(1)
    # ... where the rung expires with its reason and the next one goes out
    world.clock.set(due(1))
    step = world.sender().step(deferred.state)
    assert [(r.rung, r.decision, r.reason) for r in step.records] == [
        (0, Decision.SUPPRESSED, "expired_after_deferral"),
        (1, Decision.SENT, ""),
    ]


def test_transient_fault_after_a_catch_up_records_each_skipped_rung_once(world: World) -> None:
    # Given a late upload: rungs 0-2 are superseded, rung 3 (email) is due and SES throttles
    world.clock.set(due(3) + timedelta(hours=1))
    world.services.email.fail_next(TransientSendError("Throttling"), times=3)  # type: ignore[attr-defined]
    state = world.state().model_copy(update={"next_at": to_sfn_timestamp(due(3))})

    # When the ASL retries the step twice, a few seconds apart, then defers the rung
    for seconds in (0, 3, 7):
        world.clock.set(due(3) + timedelta(hours=1, seconds=seconds))
        with pytest.raises(TransientSendError):
            world.sender().step(state)
    deferred = world.sender().defer(state, "TransientSendError")

    # Then each superseded rung is in the audit trail once, and the rung that failed is deferred
    decisions = [(r.rung, r.decision, r.reason) for r in world.records]
    assert decisions == [
        (0, Decision.SUPPRESSED, "missed_before_upload"),
        (1, Decision.SUPPRESSED, "missed_before_upload"),
        (2, Decision.SUPPRESSED, "missed_before_upload"),
        (3, Decision.DEFERRED, "provider_unavailable"),
    ]
    assert deferred.state.rung == 3 and world.emails == []


def test_step_permanent_provider_refusal_suppresses_with_reason(world: World) -> None:
    refusal = PermanentSendError("sns_invalid_parameter")
    world.services.sms.fail_next(refusal)  # type: ignore[attr-defined]

    step = world.sender().step(world.state())

    assert world.sms == []
    assert step.records[0].decision is Decision.SUPPRESSED
    assert step.records[0].reason == "provider_rejected:sns_invalid_parameter"
    assert step.state.rung == 1


def test_step_lost_provider_response_is_uncertain(world: World) -> None:
    world.services.sms.fail_next(UncertainSendError("read timeout"))  # type: ignore[attr-defined]

    step = world.sender().step(world.state())
    world.clock.set(world.clock.now() + timedelta(minutes=1))
    again = world.sender().step(world.state())  # a duplicate invocation, a minute later

    assert step.records[0].decision is Decision.UNCERTAIN
    assert again.records[0].decision is Decision.UNCERTAIN
    assert world.sms == []  # refused by the fake, and never retried
    # ... and the claim is closed as UNCERTAIN: nothing can release it for a second try
    from functions.adapters.records import ClaimCompleted

    with pytest.raises(ClaimCompleted):
        world.services.ledger.release(world.account.ladder_key, 0, Channel.SMS)


def test_step_stop_arriving_during_the_invocation_prevents_the_send(world: World) -> None:
    ledger = world.services.ledger
    real_claim = ledger.claim

    def claim_then_stop(entry: Any) -> bool:
        claimed = real_claim(entry)
        world.services.suppressions.put(  # the optout Lambda, running at the same time
            Suppression(
                channel=Channel.SMS,
                address=PHONE,
                source=SuppressionSource.REPLY,
                at=world.clock.now(),
            )
        )
        return claimed

    ledger.claim = claim_then_stop  # type: ignore[method-assign]
    step = world.sender().step(world.state())

    assert world.sms == []
    assert step.records[0].decision is Decision.SUPPRESSED
    assert step.records[0].reason == "opted_out"


def test_step_opted_out_channel_is_suppressed_and_the_ladder_moves_on(world: World) -> None:
    world.services.suppressions.put(
        Suppression(
            channel=Channel.SMS,
            address=PHONE,
            scope=SuppressionScope.CHANNEL,
            source=SuppressionSource.REPLY,
            at=world.clock.now(),
        )
    )
    step = world.sender().step(world.state())

    assert world.sms == []
    assert (step.records[0].decision, step.records[0].reason) == (Decision.SUPPRESSED, "opted_out")
    assert step.state.rung == 1


def test_step_in_quiet_hours_defers_to_the_window_and_sends_then(world: World) -> None:
    night = datetime(2026, 11, 3, 23, 30, tzinfo=SEATTLE)
    world.clock.set(night)

    deferred = world.sender().step(world.state())

    morning = datetime(2026, 11, 4, 8, 0, tzinfo=SEATTLE)
    assert deferred.records[0].decision is Decision.DEFERRED
    assert deferred.records[0].reason == "quiet_hours"
    assert deferred.state.next_instant == morning
    assert deferred.state.rung == 0 and deferred.state.deferred
    assert world.sms == []

    world.clock.set(morning)
    sent = world.sender().step(deferred.state)
    assert sent.records[0].decision is Decision.SENT
    assert len(world.sms) == 1


def test_step_late_upload_skips_missed_rungs_instead_of_bursting(world: World) -> None:
    world.clock.set(due(3) + timedelta(hours=1))  # day 14 of the ladder

    step = world.sender().step(world.state())

    decisions = [(r.rung, r.decision, r.reason) for r in step.records]
    assert decisions == [
        (0, Decision.SUPPRESSED, "missed_before_upload"),
        (1, Decision.SUPPRESSED, "missed_before_upload"),
        (2, Decision.SUPPRESSED, "missed_before_upload"),
        (3, Decision.SENT, ""),
    ]
    assert len(world.emails) == 1 and world.sms == []


def test_step_rung_deferred_past_the_next_rung_expires_with_reason(world: World) -> None:
    state = world.state().model_copy(update={"deferred": True})
    world.clock.set(due(1) + timedelta(minutes=1))

    step = world.sender().step(state)

    assert (step.records[0].rung, step.records[0].reason) == (0, "expired_after_deferral")
    assert step.records[1].rung == 1


def test_step_without_an_approved_template_suppresses(world: World) -> None:
    services = memory_services(
        world.services.settings, world.clock, accounts=world.services.accounts
    )
    step = RungSender.from_services(services).step(world.state())

    assert step.records[0].decision is Decision.SUPPRESSED
    assert step.records[0].reason == "template_not_approved"
    assert services.sms.sent == []  # type: ignore[attr-defined]


def test_step_email_carries_a_signed_one_click_unsubscribe(world: World) -> None:
    world.clock.set(due(1))
    step = world.sender().step(world.state(rung=1))

    assert step.records[0].decision is Decision.SENT
    message = world.emails[0][1]
    header = message.headers["List-Unsubscribe"]
    assert header.startswith(f"<{UNSUBSCRIBE}") and header.endswith(">")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = parse_qs(urlsplit(header[1:-1]).query)
    (value,) = next(iter(token.values()))
    claims = verify_token(
        value, world.services.unsubscribe_key(), now=world.clock.now(), max_age=timedelta(days=60)
    )
    assert claims.address == EMAIL and claims.account_id == "D-1"


def test_step_paid_account_ends_the_ladder_without_sending(world: World) -> None:
    from functions.core.models import AccountStatus

    world.services.accounts.set_status("demo", "D-1", AccountStatus.PAID, world.clock.now())

    step = world.sender().step(world.state())

    assert step.records[0].reason == "status_paid"
    assert world.sms == []


def test_step_for_an_account_in_a_newer_cycle_ends_quietly(world: World) -> None:
    stale = world.state().model_copy(update={"cycle": "2026-10-01"})

    step = world.sender().step(stale)

    assert step.state.done and step.records == [] and world.sms == []


def test_step_losing_a_claim_race_to_a_finished_attempt_adds_nothing(world: World) -> None:
    # Given another invocation sends this rung after our gate check, just before our claim
    from functions.core.models import LedgerEntry

    ledger = world.services.ledger
    real_claim = ledger.claim

    def other_invocation_first(entry: Any) -> bool:
        real_claim(
            LedgerEntry(
                ladder_key=entry.ladder_key,
                rung=0,
                channel=Channel.SMS,
                attempted_at=entry.attempted_at,
                address=PHONE,
            )
        )
        ledger.complete(entry.ladder_key, 0, Channel.SMS, Decision.SENT, "other-invocation")
        return real_claim(entry)

    ledger.claim = other_invocation_first  # type: ignore[method-assign]

    # When this invocation runs
    step = world.sender().step(world.state())

    # Then it neither sends nor records a second decision, and the ladder moves on
    assert world.sms == []
    assert step.records == []
    assert step.state.rung == 1


def test_step_after_the_last_rung_closes_the_account(world: World) -> None:
    # Given the ladder's last rung is due
    last = len(LADDER.rungs) - 1
    world.clock.set(due(last))

    # When it is decided
    step = world.sender().step(world.state(rung=last))

    # Then the ladder ends and the account is COMPLETED (its retention clock starts)
    from functions.core.models import AccountStatus

    assert step.state.done
    account = world.services.accounts.get("demo", "D-1")
    assert account is not None
    assert (account.status, account.status_changed_at) == (AccountStatus.COMPLETED, due(last))


def test_step_paused_channel_defers_its_rung_and_leaves_the_other_channel(world: World) -> None:
    from functions.core.models import ChannelPause

    # Given email is paused for everyone (the SES bounce-rate alarm fired)
    world.services.channels.pause(
        ChannelPause(
            channel=Channel.EMAIL,
            reason="alarm:Rung-SesBounceRate",
            at=world.clock.now(),
            by="alarm",
        )
    )

    # When the SMS rung is due, it goes out as usual
    sms = world.sender().step(world.state())
    assert [r.decision for r in sms.records] == [Decision.SENT]

    # When the email rung is due, it is deferred — not dropped — and looked at again later
    world.clock.set(due(1))
    email = world.sender().step(world.state(rung=1))
    assert [(r.decision, r.reason) for r in email.records] == [
        (Decision.DEFERRED, "channel_paused")
    ]
    assert email.state.rung == 1 and email.state.deferred
    assert email.state.next_instant == due(1) + timedelta(hours=6)
    assert world.emails == []

    # When a person resumes the channel, the rung goes out at its next look
    world.services.channels.resume(Channel.EMAIL)
    world.clock.set(email.state.next_instant)
    resumed = world.sender().step(email.state)
    assert [r.decision for r in resumed.records] == [Decision.SENT]
    assert len(world.emails) == 1


def test_history_window_follows_the_longest_cap_a_lender_configures() -> None:
    from functions.core.profiles import load_profiles
    from functions.core.sending import history_window

    # Given the shipped profiles (rolling caps of 7 days) and a lender who makes one 14 days
    book = load_profiles(PROJECT_ROOT)
    stricter = book.with_overrides({"US": {"caps": {"ladder_per_7_days": {"days": 14}}}})

    # Then the send step reads back far enough for each cap to see every attempt it counts
    assert history_window(book) == timedelta(days=8)
    assert history_window(stricter) == timedelta(days=15)


class _ThrottledSuppressions(MemorySuppressionStore):
    """DynamoDB throttles reads after the first `allowed` (the boto3 adapter raises ClientError)."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed

    def get(
        self, channel: Channel, address: str, *, lender_id: str | None = None
    ) -> Suppression | None:
        self.allowed -= 1
        if self.allowed < 0:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "GetItem",
            )
        return super().get(channel, address, lender_id=lender_id)


def test_send_handler_turns_a_throttled_dynamodb_into_a_deferral_with_the_claim_freed(
    world: World,
) -> None:
    # Given DynamoDB throttles the re-check of suppressions made after the ledger claim
    # (the gate's own reads of the phone and email pass: each deployment-wide and for the lender)
    services = replace(world.services, suppressions=_ThrottledSuppressions(allowed=4))
    event = world.state().model_dump(mode="json")

    # When the ladder invokes the send function
    with pytest.raises(TransientSendError):
        send.handler(event, LocalContext("send"), services=services)

    # Then nothing went out and the claim is freed for the retry (not left to turn UNCERTAIN)
    assert world.sms == []
    assert services.ledger.get(world.account.ladder_key, 0, Channel.SMS) is None
    # ... and the ASL's transient Catch gets the rung deferred, not the ladder failed
    fault = {"Error": "TransientSendError", "Cause": "AWS dependency unavailable"}
    deferred = send.handler({**event, "transient": fault}, LocalContext("send"), services=services)
    assert (deferred["rung"], deferred["deferred"], deferred["done"]) == (0, True, False)
    assert [(r.decision, r.reason) for r in world.records] == [
        (Decision.DEFERRED, "provider_unavailable")
    ]


def test_paced_sms_waits_for_its_slot_and_no_second_carries_more_than_the_rate() -> None:
    # Given 12 borrowers whose first SMS falls due at the same instant, from a number
    # paced at 1 message per second (the stack's default rate; the demo lender sets none)
    clock = FixedClock(due(0))
    settings = Settings(config_root=PROJECT_ROOT, unsubscribe_url=UNSUBSCRIBE, sms_per_second=1)
    services = memory_services(settings, clock)
    approve_lint_clean(services.templates, PROJECT_ROOT / "templates" / "messages", LENDER, due(0))
    accounts = [
        Account(
            lender_id="demo",
            account_id=f"D-{n}",
            phone=f"+1206555{n:04d}",
            amount_due=Decimal("10.00"),
            currency="USD",
            due_date=DUE,
            locale="en-US",
            country="US",
            state="WA",
            timezone="America/Los_Angeles",
            cycle=DUE.isoformat(),
        )
        for n in range(12)
    ]
    services.accounts.put_many(accounts)
    sender = RungSender.from_services(services)

    # When each ladder wakes at the due time, and again at the slot it was given
    sent_at, paced = [], 0
    for account in accounts:
        clock.set(due(0))
        state = LadderState(
            lender_id="demo",
            account_id=account.account_id,
            cycle=account.cycle,
            rung=0,
            next_at=to_sfn_timestamp(due(0)),
        )
        step = sender.step(state)
        if step.records[0].decision is Decision.DEFERRED:
            # Then a rung whose second is taken is DEFERRED `capacity` to its reserved slot
            assert (step.records[0].reason, step.records[0].rule) == ("capacity", "pacing")
            assert step.records[0].deferred_until == step.state.slot_instant
            assert step.state.next_instant == step.state.slot_instant > due(0)
            clock.set(step.state.next_instant)
            step, paced = sender.step(step.state), paced + 1
        assert step.records[0].decision is Decision.SENT
        sent_at.append(step.records[0].at_utc)
        # ... and its next rung (an email: not paced here) waits for its due time
        assert step.state.rung == 1 and step.state.next_instant == due(1)

    # Then every message went out, one per second at most, within the first minute
    assert len(services.sms.sent) == 12  # type: ignore[attr-defined]
    assert len(set(sent_at)) == 12
    assert max(sent_at) < due(0) + timedelta(minutes=1)
    assert paced >= 6  # most had to wait for their second


def test_address_held_by_another_accounts_send_defers_until_the_lease_lapses(
    world: World,
) -> None:
    # Given another account's send step holds this phone number right now
    assert world.services.leases.take(
        f"lease#sms#{PHONE}", "demo#OTHER#c#0", due(0), due(0) + timedelta(minutes=1)
    )

    # When this account's first rung is due
    step = world.sender().step(world.state())

    # Then it waits for the lease to lapse, without sending
    (record,) = step.records
    assert (record.decision, record.reason, record.rule) == (
        Decision.DEFERRED,
        "address_busy",
        "address_lease",
    )
    assert step.state.next_instant == due(0) + timedelta(minutes=1)
    assert (step.state.rung, step.state.deferred) == (0, True)
    assert world.sms == []

    # ... and when it wakes, the address is free again and it sends
    world.clock.set(step.state.next_instant)
    assert [r.decision for r in world.sender().step(step.state).records] == [Decision.SENT]
