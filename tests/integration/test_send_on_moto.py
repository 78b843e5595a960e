"""At most once on the real thing: DynamoDB ledger, End User Messaging SMS, and the ladder ASL's
Retry and Catch, in the local world, with faults injected where production meets them.

Each scenario ends with exactly one text accepted by End User Messaging, or none and an
UNCERTAIN decision — never two.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.adapters.dynamo import DynamoLedger
from functions.core.approval import approve_lint_clean
from functions.core.ladder import LadderState, execution_name, load_ladder, to_sfn_timestamp
from functions.core.lenders import load_lender
from functions.core.models import AuditRecord, Decision
from functions.settings import PROJECT_ROOT
from rung.localworld import LocalWorld
from rung.sms_voice import SmsVoiceBackend, SmsVoiceError

DUE = date(2026, 3, 1)
SEATTLE = ZoneInfo("America/Los_Angeles")
LADDER = load_ladder(PROJECT_ROOT, "default")
FIRST_RUNG = LADDER.due_at(0, DUE, SEATTLE)  # day 1, 10:00 in Seattle
START = FIRST_RUNG - timedelta(hours=1)
PHONE = "+12065550134"
CSV = (
    "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state,"
    "timezone\n"
    f"A1,Ana,{PHONE},ana@example.com,245.50,USD,{DUE},en-US,US,WA,America/Los_Angeles\n"
).encode()


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    with LocalWorld(START, stall_timeout=30) as local:
        approve_lint_clean(
            local.services.templates,
            PROJECT_ROOT / "templates" / "messages",
            load_lender(PROJECT_ROOT, "demo"),
            START,
        )
        yield local


def _records(world: LocalWorld) -> list[AuditRecord]:
    return sorted(
        world.gate_records(),
        key=lambda record: (record.at_utc, record.rung),
    )


def _first_rung(records: list[AuditRecord]) -> list[tuple[Decision, str]]:
    return [(r.decision, r.reason) for r in records if r.rung == 0]


def test_send_throttled_by_end_user_messaging_is_retried_by_the_ladder_and_sent_once(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given End User Messaging throttles the first text (the account's rate is exceeded)
    send_text_message = SmsVoiceBackend.send_text_message
    calls: list[str] = []

    def throttle_once(self: SmsVoiceBackend, request: Any) -> Any:
        calls.append("SendTextMessage")
        if len(calls) == 1:
            raise SmsVoiceError("ThrottlingException", "Rate exceeded")
        return send_text_message(self, request)

    monkeypatch.setattr(SmsVoiceBackend, "send_text_message", throttle_once)

    # When the file arrives and the first rung falls due
    world.put_object("uploads/demo/a.csv", CSV)
    world.clock.run_until(FIRST_RUNG + timedelta(hours=2))

    # Then the ASL's Retry (TransientSendError, back-off on the virtual clock) sent it once
    assert len(calls) == 2
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert _first_rung(_records(world)) == [(Decision.SENT, "")]
    sent = next(r for r in _records(world) if r.rung == 0)
    assert sent.at_utc > FIRST_RUNG  # after the back-off, not at the first attempt
    assert [error.error_type for error in world.handler_errors] == ["TransientSendError"]


def test_send_invoked_twice_for_the_same_rung_sends_once(world: LocalWorld) -> None:
    # Given an account whose first rung is due
    world.put_object("uploads/demo/a.csv", CSV)
    world.stop_running("the test drives the send function itself")
    world.clock.run_until(FIRST_RUNG)
    state = LadderState(
        lender_id="demo",
        account_id="A1",
        cycle=DUE.isoformat(),
        rung=0,
        next_at=to_sfn_timestamp(FIRST_RUNG),
    )

    # When the send function is invoked twice with the same state (a duplicate delivery)
    lambda_client = world.client("lambda")
    answers = [
        json.loads(
            lambda_client.invoke(
                FunctionName=world.resources.function_arns["send"], Payload=state.model_dump_json()
            )["Payload"].read()
        )
        for _ in range(2)
    ]

    # Then one SMS went out, and both invocations move the ladder to the same next rung
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert answers[0] == answers[1]
    assert answers[0]["rung"] == 1
    assert _first_rung(_records(world)) == [(Decision.SENT, "")]


def test_send_crash_between_provider_call_and_record_is_uncertain_never_resent(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the send function dies after End User Messaging took the message, before recording
    # the outcome
    complete = DynamoLedger.complete

    def crash_once(self: DynamoLedger, *args: Any, **kwargs: Any) -> None:
        if not getattr(crash_once, "crashed", False):
            crash_once.crashed = True  # type: ignore[attr-defined]
            raise RuntimeError("Lambda ran out of time after the provider call")
        complete(self, *args, **kwargs)

    monkeypatch.setattr(DynamoLedger, "complete", crash_once)

    # When the rung falls due
    world.put_object("uploads/demo/a.csv", CSV)
    world.clock.run_until(FIRST_RUNG + timedelta(hours=2))

    # Then exactly one message exists, and the trail says UNCERTAIN, not "not sent"
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert _first_rung(_records(world)) == [(Decision.UNCERTAIN, "earlier_attempt_outcome_unknown")]
    # ... and the ladder went to its Catch and failed loudly (the ExecutionsFailed alarm)
    (execution,) = world.executions()
    assert execution["status"] == "FAILED"
    assert execution["name"] == execution_name("demo", "A1", DUE.isoformat())
