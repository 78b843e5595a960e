"""At most once on the real thing: DynamoDB ledger, End User Messaging SMS, and the ladder ASL's
Retry and Catch, in the local world, with faults injected where production meets them.

Each scenario ends with exactly one text accepted by End User Messaging, or none and an
UNCERTAIN decision — never two.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from moto.awslambda.models import LambdaBackend
from moto.core.exceptions import ServiceException

from functions.adapters.dynamo import DynamoAddressLeases, DynamoLedger
from functions.core.ladder import LadderState, execution_name, load_ladder, to_sfn_timestamp
from functions.core.models import AuditRecord, Decision
from functions.settings import PROJECT_ROOT
from rung.cli import main
from rung.localworld import LocalWorld
from rung.sms_voice import SmsVoiceBackend, SmsVoiceError
from tests.integration.conftest import approved_world

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
    with approved_world(START) as local:
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
    # ... after the first Retry's back-off: FULL jitter draws it from [0, 2 s)
    assert FIRST_RUNG <= sent.at_utc < FIRST_RUNG + timedelta(seconds=2)
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


def test_defect_after_the_provider_call_fails_the_ladder_and_a_redrive_never_resends(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the send function dies after End User Messaging took the message, before recording
    # the outcome
    complete = DynamoLedger.complete

    def crash_once(self: DynamoLedger, *args: Any, **kwargs: Any) -> None:
        if not getattr(crash_once, "crashed", False):
            crash_once.crashed = True  # type: ignore[attr-defined]
            raise RuntimeError("a defect after the provider call")
        complete(self, *args, **kwargs)

    monkeypatch.setattr(DynamoLedger, "complete", crash_once)

    # When the rung falls due
    world.put_object("uploads/demo/a.csv", CSV)
    world.clock.run_until(FIRST_RUNG + timedelta(hours=2))

    # Then the execution failed at the send step (the ExecutionsFailed alarm), and
    # `rung ladders failed` lists it with the error that ended it
    (execution,) = world.executions()
    assert execution["status"] == "FAILED"
    machine = world.resources.state_machine_arn
    assert main(["ladders", "failed", "--json", "--state-machine", machine]) == 0
    (failed,) = json.loads(capsys.readouterr().out)["failed"]
    assert failed["name"] == execution_name("demo", "A1", DUE.isoformat())
    assert failed["error"] == "RuntimeError"

    # When the failed step runs again with its input — what RedriveExecution does (moto has
    # no RedriveExecution; the command's call to it is tested against a stubbed client)
    history = world.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"]
    )["events"]
    failed_input = [
        e["stateEnteredEventDetails"]["input"]
        for e in history
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "SendRung"
    ][-1]
    again = world.client("lambda").invoke(
        FunctionName=world.resources.function_arns["send"], Payload=failed_input
    )
    following = json.loads(again["Payload"].read())

    # Then the ledger decided: one message exists, the rung is UNCERTAIN (never re-sent), and
    # the ladder moves on to its next rung
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert _first_rung(_records(world)) == [(Decision.UNCERTAIN, "earlier_attempt_outcome_unknown")]
    assert following["rung"] == 1 and not following["done"]


# -- transient faults never end a ladder ----------------------------------------------------


def _statuses(world: LocalWorld) -> list[str]:
    return [execution["status"] for execution in world.executions()]


def test_sms_outage_longer_than_the_retries_defers_the_rung_then_sends_it_once(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given End User Messaging fails (500) for the first 90 minutes of the first rung
    send_text_message = SmsVoiceBackend.send_text_message
    outage_end = FIRST_RUNG + timedelta(minutes=90)
    refused: list[str] = []

    def down(self: SmsVoiceBackend, request: Any) -> Any:
        if world.clock.now() < outage_end:
            refused.append("send")
            raise SmsVoiceError("InternalServerException", "simulated outage", status=500)
        return send_text_message(self, request)

    monkeypatch.setattr(SmsVoiceBackend, "send_text_message", down)

    # When the file arrives and the clock runs past the outage
    world.put_object("uploads/demo/a.csv", CSV)
    world.clock.run_until(FIRST_RUNG + timedelta(hours=4))

    # Then the rung was DEFERRED provider_unavailable (never dropped), sent once after the
    # outage, and the ladder lives on
    decisions = _first_rung(_records(world))
    assert decisions[-1] == (Decision.SENT, "")
    assert set(decisions[:-1]) == {(Decision.DEFERRED, "provider_unavailable")}
    assert len(decisions) >= 4  # back-off 5, 10, 20, 40 min: several deferrals in 90 min
    sent = next(r for r in _records(world) if r.decision is Decision.SENT)
    assert outage_end <= sent.at_utc < outage_end + timedelta(hours=1)
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert _statuses(world) == ["RUNNING"]
    # ... every attempt in between was the provider's refusal, retried by the ASL first
    assert len(refused) == 4 * (len(decisions) - 1)
    assert {error.error_type for error in world.handler_errors} == {"TransientSendError"}


class LambdaRefused(ServiceException):
    """Lambda's Invoke refused: throttled (429), failing (5xx), or — as Step Functions names
    its own client's timeout calling Lambda — ClientExecutionTimeoutException (not an error
    shape of Lambda's API, so moto warns; Step Functions matches the name all the same)."""


@pytest.mark.parametrize(
    "code", ["TooManyRequestsException", "ServiceException", "ClientExecutionTimeoutException"]
)
def test_lambda_refusing_the_send_step_defers_the_rung_and_the_ladder_lives(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    # Given Lambda refuses to invoke the send function 4 times when the first rung falls due
    # (the SendRung attempt and its 3 retries; Step Functions names it Lambda.<code>)
    invoke = LambdaBackend.invoke
    refusals: list[datetime] = []

    def refuse(self: LambdaBackend, *args: Any, **kwargs: Any) -> Any:
        if world.clock.now() >= FIRST_RUNG and len(refusals) < 4:
            refusals.append(world.clock.now())
            raise LambdaRefused(code, "simulated refusal")
        return invoke(self, *args, **kwargs)

    monkeypatch.setattr(LambdaBackend, "invoke", refuse)

    # When the file arrives and the clock runs on
    world.put_object("uploads/demo/a.csv", CSV)
    world.clock.run_until(FIRST_RUNG + timedelta(hours=2))

    # Then the DeferRung step deferred the rung, naming the Lambda error, and it went out once
    records = [r for r in _records(world) if r.rung == 0]
    assert [(r.decision, r.reason) for r in records] == [
        (Decision.DEFERRED, "service_unavailable"),
        (Decision.SENT, ""),
    ]
    assert records[0].rule == f"Lambda.{code}"
    assert records[0].deferred_until == records[1].at_utc
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert len(refusals) == 4 and _statuses(world) == ["RUNNING"]


def test_send_step_timing_out_after_the_provider_call_is_uncertain_and_the_ladder_goes_on(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the send function times out after the provider took the message, before recording it:
    # the Lambda runtime reports that as the error `Sandbox.Timedout`
    timed_out = type("Sandbox.Timedout", (Exception,), {})
    complete = DynamoLedger.complete

    def time_out_once(self: DynamoLedger, *args: Any, **kwargs: Any) -> None:
        if not getattr(time_out_once, "done", False):
            time_out_once.done = True  # type: ignore[attr-defined]
            raise timed_out("Task timed out after 120.00 seconds")
        complete(self, *args, **kwargs)

    monkeypatch.setattr(DynamoLedger, "complete", time_out_once)

    # When the ladder runs through its second rung
    world.put_object("uploads/demo/a.csv", CSV)
    world.clock.run_until(LADDER.due_at(1, DUE, SEATTLE) + timedelta(hours=1))

    # Then the retry found the open claim: UNCERTAIN, never re-sent — and the ladder went on
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert _first_rung(_records(world)) == [(Decision.UNCERTAIN, "earlier_attempt_outcome_unknown")]
    assert [(r.rung, r.decision) for r in _records(world) if r.rung == 1] == [(1, Decision.SENT)]
    assert _statuses(world) == ["RUNNING"]


# -- concurrency -----------------------------------------------------------------------------


def test_two_concurrent_invocations_of_one_rung_make_exactly_one_provider_call(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an account whose first rung is due, and two invocations of that rung at once
    # (a duplicate delivery): both read the ledger before either claims it, and the claim
    # winner is still talking to the provider when the loser looks at the claim it lost to
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
    both_read = threading.Barrier(2, timeout=30)
    one_returned = threading.Event()
    claim, send_text_message = DynamoLedger.claim, SmsVoiceBackend.send_text_message
    publishes: list[str] = []

    def claim_together(self: DynamoLedger, entry: Any) -> bool:
        both_read.wait()
        return claim(self, entry)

    def slow_send(self: SmsVoiceBackend, request: Any) -> Any:
        publishes.append("publish")
        one_returned.wait(timeout=30)  # the other invocation finishes first
        return send_text_message(self, request)

    monkeypatch.setattr(DynamoLedger, "claim", claim_together)
    monkeypatch.setattr(SmsVoiceBackend, "send_text_message", slow_send)
    lambda_client = world.client("lambda")

    def invoke() -> dict[str, Any]:
        response = lambda_client.invoke(
            FunctionName=world.resources.function_arns["send"], Payload=state.model_dump_json()
        )
        one_returned.set()
        return json.loads(response["Payload"].read())  # type: ignore[no-any-return]

    # When both run on their own threads
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: invoke(), range(2)))

    # Then the provider was called once, one SMS exists, and the trail holds one SENT — no UNCERTAIN
    # from the invocation that lost the claim (the winner owns the outcome)
    assert publishes == ["publish"]
    assert [message.to for message in world.sent_sms()] == [PHONE]
    assert _first_rung(_records(world)) == [(Decision.SENT, "")]
    assert [answer["rung"] for answer in answers] == [1, 1]
    assert world.handler_errors == []


SHARED = (
    "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state,"
    "timezone\n"
    f"A1,Ana,{PHONE},,245.50,USD,{DUE},en-US,US,WA,America/Los_Angeles\n"
    f"A2,Al,{PHONE},,99.00,USD,{DUE},en-US,US,WA,America/Los_Angeles\n"
).encode()


def test_concurrent_sends_to_one_address_from_two_accounts_keep_its_daily_cap(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two accounts sharing one phone (at most 1 text per local day to an address), whose
    # first rungs fall due at the same instant and run at once: both gates read the address's
    # history before either send is recorded (as through an eventually consistent index)
    world.put_object("uploads/demo/shared.csv", SHARED)
    world.stop_running("the test drives the send function itself")
    world.clock.run_until(FIRST_RUNG)
    both_decided = threading.Barrier(2, timeout=30)
    take = DynamoAddressLeases.take

    def take_together(self: DynamoAddressLeases, *args: Any) -> bool:
        both_decided.wait()  # both gates said SEND on the same (empty) history
        return take(self, *args)

    monkeypatch.setattr(DynamoAddressLeases, "take", take_together)
    lambda_client = world.client("lambda")

    def invoke(account: str) -> dict[str, Any]:
        state = LadderState(
            lender_id="demo",
            account_id=account,
            cycle=DUE.isoformat(),
            rung=0,
            next_at=to_sfn_timestamp(FIRST_RUNG),
        )
        response = lambda_client.invoke(
            FunctionName=world.resources.function_arns["send"], Payload=state.model_dump_json()
        )
        return json.loads(response["Payload"].read())  # type: ignore[no-any-return]

    # When both send steps run on their own threads
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = dict(zip(("A1", "A2"), pool.map(invoke, ("A1", "A2")), strict=True))

    # Then the phone got one text; the other rung waits (it will meet the daily cap then)
    assert [message.to for message in world.sent_sms()] == [PHONE]
    outcomes = sorted((r.decision, r.reason) for r in _records(world) if r.rung == 0)
    assert outcomes == [(Decision.DEFERRED, "address_busy"), (Decision.SENT, "")]
    assert sorted(answer["rung"] for answer in answers.values()) == [0, 1]
    assert world.handler_errors == []
