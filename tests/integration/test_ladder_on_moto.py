"""End to end on the local world: real ladder ASL on moto's Step Functions executor, the real
S3 notification and SNS subscription, Rung's handlers in-process, a virtual clock.

What AWS would deliver is read from moto's own SNS and SES backends, never from Rung's records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import format_currency

from functions.core.approval import approve_lint_clean
from functions.core.ladder import load_ladder
from functions.core.lenders import load_lender
from functions.core.models import AccountStatus, AuditRecord, Channel, Decision
from functions.settings import PROJECT_ROOT
from rung.engine import ScriptedReply, SimulationInput
from rung.engine_full import run_full
from rung.localworld import LocalWorld

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # the file arrives the day after the due date
DUE = date(2026, 3, 1)
LADDER = load_ladder(PROJECT_ROOT, "default")
LENDER = load_lender(PROJECT_ROOT, "demo")

# Three borrowers in three zones, so that their rungs fall at different instants.
ACCOUNTS = {
    "A1": ("Ana", "+12065550134", "ana@example.com", "245.50", "America/Los_Angeles"),
    "A2": ("Ben", "+16175550188", "ben@example.com", "1320.00", "America/New_York"),
    "A3": ("Cleo", "+13125550147", "cleo@example.com", "89.99", "America/Chicago"),
}
HEADER = (
    "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,"
    "timezone,payment_link"
)


def _csv() -> bytes:
    rows = [HEADER] + [
        f"{account},{name},{phone},{email},{amount},USD,{DUE.isoformat()},en-US,US,{zone},"
        f"https://pay.demo-finance.example/a/{account}"
        for account, (name, phone, email, amount, zone) in ACCOUNTS.items()
    ]
    return ("\n".join(rows) + "\n").encode()


def _due(account: str, rung: int) -> datetime:
    return LADDER.due_at(rung, DUE, ZoneInfo(ACCOUNTS[account][4]))


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    with LocalWorld(START) as local:
        approve_lint_clean(
            local.services.templates, PROJECT_ROOT / "templates" / "messages", LENDER, START
        )
        yield local


def _records(world: LocalWorld) -> list[AuditRecord]:
    return sorted(
        world.gate_records(),
        key=lambda record: (record.at_utc, record.account_id, record.rung),
    )


def test_upload_walks_three_ladders_through_every_rung_in_time_order(world: LocalWorld) -> None:
    # Given a three-account file uploaded to the bucket
    world.put_object("uploads/demo/march.csv", _csv())

    # Then the S3 notification ran the schedule handler, which started one ladder per account
    assert [execution["status"] for execution in world.executions()] == ["RUNNING"] * 3

    # When 35 virtual days pass
    world.clock.run_until(START + timedelta(days=35))

    # Then every ladder walked all six rungs and ended
    assert world.handler_errors == []
    assert [execution["status"] for execution in world.executions()] == ["SUCCEEDED"] * 3
    sent = [record for record in _records(world) if record.decision is Decision.SENT]
    assert sorted((record.account_id, record.rung) for record in sent) == [
        (account, rung) for account in ACCOUNTS for rung in range(len(LADDER.rungs))
    ]
    # ... each rung at or after it fell due, and before the next rung superseded it
    for record in sent:
        assert _due(record.account_id, record.rung) <= record.at_utc
        if record.rung + 1 < len(LADDER.rungs):
            assert record.at_utc < _due(record.account_id, record.rung + 1)
    # ... SNS got exactly the SMS the audit trail records, in virtual-time order, so the three
    #     ladders' rungs interleave (every day-1 text before any day-7 text)
    sms_sent = [record for record in sent if record.channel is Channel.SMS]
    sms = world.sent_sms()
    assert [(message.to, message.body) for message in sms] == [
        (ACCOUNTS[record.account_id][1], record.body) for record in sms_sent
    ]
    assert [record.rung for record in sms_sent] == [0, 0, 0, 2, 2, 2, 4, 4, 4]
    # ... SES likewise, from the lender's verified identity — after the lender's receipt
    email_sent = [record for record in sent if record.channel is Channel.EMAIL]
    receipt, *emails = world.sent_emails()
    assert receipt.to == tuple(LENDER.receipt_emails)
    assert receipt.subject == "Rung receipt: march: 3 accepted, 0 rejected"
    assert [message.to for message in emails] == [
        (ACCOUNTS[record.account_id][2],) for record in email_sent
    ]
    assert {message.source for message in emails} == {LENDER.email_from}
    # ... with each borrower's own name, amount and payment link in the words
    words = [(message.to, message.body) for message in sms] + [
        (message.to[0], message.body) for message in emails
    ]
    for address, body in words:
        account = next(a for a, fields in ACCOUNTS.items() if address in fields[1:3])
        name, _, _, amount, _ = ACCOUNTS[account]
        assert name in body
        assert format_currency(Decimal(amount), "USD", locale="en_US") in body
        assert f"https://pay.demo-finance.example/a/{account}" in body
    assert all("Reply STOP" in message.body for message in sms)
    assert all(LENDER.company_name in message.subject for message in emails)


def test_same_file_uploaded_again_starts_nothing_new(world: LocalWorld) -> None:
    # Given a file whose three ladders are running
    world.put_object("uploads/demo/march.csv", _csv())
    first = [execution["executionArn"] for execution in world.executions()]

    # When the same file is uploaded again, under its own name and under another
    world.put_object("uploads/demo/march.csv", _csv())
    world.put_object("uploads/demo/march-copy.csv", _csv())

    # Then no ladder was added: the same three executions run
    assert [execution["executionArn"] for execution in world.executions()] == first
    assert world.handler_errors == []

    # ... and walking them still sends each SMS rung once
    world.clock.run_until(START + timedelta(days=35))
    assert len(world.sent_sms()) == len(ACCOUNTS) * 3


def test_stop_reply_stops_further_sms_to_that_number(world: LocalWorld) -> None:
    # Given three ladders past their first SMS rung
    world.put_object("uploads/demo/march.csv", _csv())
    world.clock.run_until(_due("A1", 1))
    phone = ACCOUNTS["A1"][1]
    assert [message.to for message in world.sent_sms()].count(phone) == 1

    # When A1 replies STOP through two-way SMS
    world.publish_inbound_sms(
        json.dumps(
            {
                "originationNumber": phone,
                "destinationNumber": LENDER.sms_origination,
                "messageKeyword": "STOP",
                "messageBody": "STOP",
                "inboundMessageId": "b1f0c7e4-0000-4000-8000-000000000001",
                "previousPublishedMessageId": "",
            }
        )
    )
    confirmations = [message.body for message in world.sent_sms()[1:] if message.to == phone]
    world.clock.run_until(START + timedelta(days=35))

    # Then exactly one confirmation went to that number — not a reminder — and nothing after it
    assert world.handler_errors == []
    assert len(confirmations) == 1
    assert confirmations[0] not in {record.body for record in _records(world)}
    assert [message.to for message in world.sent_sms()].count(phone) == 2
    # ... its later SMS rungs are recorded as suppressed by the opt-out
    later_sms = [
        record
        for record in _records(world)
        if record.account_id == "A1" and record.channel is Channel.SMS and record.rung > 0
    ]
    assert [(record.rung, record.decision, record.reason) for record in later_sms] == [
        (2, Decision.SUPPRESSED, "opted_out"),
        (4, Decision.SUPPRESSED, "opted_out"),
    ]
    # ... while the other borrowers still get theirs
    for other in ("A2", "A3"):
        assert [message.to for message in world.sent_sms()].count(ACCOUNTS[other][1]) == 3


def test_run_full_is_deterministic_and_honours_replies_and_payments(tmp_path: Path) -> None:
    # Given the three-account file, a STOP from A2 after day 1 and a payment by A3 on day 5
    accounts = tmp_path / "march.csv"
    accounts.write_bytes(_csv())
    payments = tmp_path / "payments.csv"
    paid_at = START + timedelta(days=4)
    payments.write_text(
        f"account_id,paid_at,amount\nA3,{paid_at:%Y-%m-%dT%H:%M:%SZ},89.99\n", encoding="utf-8"
    )
    stop_at = START + timedelta(days=1)  # after every day-1 text, before the day-7 ones
    sim = SimulationInput(
        accounts_file=accounts,
        lender_id="demo",
        start=START,
        days=35,
        replies=(
            ScriptedReply(at=stop_at, sender=ACCOUNTS["A2"][1], channel=Channel.SMS, text="STOP"),
        ),
        payments_file=payments,
    )

    # When the full engine runs it twice
    seen: list[datetime] = []
    counts: list[int] = []

    def progress(at: datetime, decisions: Callable[[], int] | None = None) -> None:
        seen.append(at)
        if decisions is not None:
            counts.append(decisions())

    first = run_full(sim, progress=progress)
    second = run_full(sim)

    # Then both runs decided exactly the same things, at the same instants
    assert first.records == second.records
    # ... and virtual time only ever moved forward, within the simulated period
    assert seen == sorted(seen)
    # ... and the progress bar's count of gate decisions only grew, never past the run's total
    assert counts == sorted(counts)
    assert 0 < counts[-1] <= len(first.records)
    assert seen[0] >= START and seen[-1] <= START + timedelta(days=35)
    assert {record.at_utc for record in first.records} <= set(seen)
    assert first.engine == "full" and (first.rows, first.rows_rejected) == (3, 0)
    # ... A2's SMS rungs after the STOP were suppressed; A3's ladder stopped with the payment
    a2_sms = [
        (r.rung, r.decision)
        for r in first.records
        if r.account_id == "A2" and r.channel is Channel.SMS and r.decision is not Decision.DEFERRED
    ]
    assert a2_sms == [(0, Decision.SENT), (2, Decision.SUPPRESSED), (4, Decision.SUPPRESSED)]
    a3 = [r for r in first.records if r.account_id == "A3"]
    assert [(r.rung, r.decision) for r in a3 if r.decision is Decision.SENT] == [
        (0, Decision.SENT),
        (1, Decision.SENT),
    ]
    assert max(r.at_utc for r in a3) < paid_at
    assert {a.account_id: a.status for a in first.accounts} == {
        "A1": AccountStatus.COMPLETED,  # the ladder ran to its end
        "A2": AccountStatus.COMPLETED,
        "A3": AccountStatus.PAID,
    }
    assert [(s.channel, s.address) for s in first.suppressions] == [
        (Channel.SMS, ACCOUNTS["A2"][1])
    ]
    assert [reply_intent for _, reply_intent in first.replies] == ["opt_out"]
