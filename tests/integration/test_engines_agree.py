"""The fast engine and the full engine (moto + the real ASL) make the same decisions.

The fast engine is what makes a 10 000-account preview take seconds; it is only trustworthy
because this test runs both on the same 200-account file, with borrower replies and lender
payments, and compares every decision row of messages.csv.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from functions.core.models import AccountStatus, AuditRecord, Channel, Decision
from rung.engine import ScriptedReply, SimulationInput, SimulationResult
from rung.engine_fast import run_fast
from rung.engine_full import run_full

START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 35
ACCOUNTS = 200
PLACES = [  # (area code, state, locale)
    ("206", "WA", "en-US"),
    ("617", "MA", "en-US"),
    ("212", "CA", "en-US"),  # Eastern number, Pacific address: the intersection window
    ("305", "FL", "es-US"),
    ("312", "IL", "en-US"),
    ("602", "AZ", "en-US"),
]
HEADER = "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state\n"


def write_accounts(
    path: Path, rng: random.Random, count: int = ACCOUNTS
) -> list[tuple[str, str, str]]:
    """`count` accounts; returns (account_id, phone, email) for scripting replies and payments."""
    rows, contacts = [HEADER], []
    for i in range(count):
        account = f"E-{i:04d}"
        due = date(2026, 11, 20) + timedelta(days=rng.randrange(0, 20))
        email = f"borrower{i}@example.com" if i % 3 else ""
        if i % 10 == 7:
            phone = f"+86139{rng.randrange(10_000_000, 99_999_999)}"
            rows.append(
                f"{account},王{i},{phone},{email},{rng.randrange(100, 9000)}.00,CNY,"
                f"{due},zh-CN,CN,\n"
            )
        else:
            area, state, locale = PLACES[i % len(PLACES)]
            phone = f"+1{area}55501{i % 100:02d}"
            if i % 25 == 24 and contacts[-1][1].startswith("+1"):
                phone = contacts[-1][1]  # a shared phone: caps across accounts matter
            rows.append(
                f"{account},Pat{i},{phone},{email},{rng.randrange(20, 2000)}.50,USD,{due},"
                f"{locale},US,{state}\n"
            )
        contacts.append((account, phone, email))
    path.write_text("".join(rows), encoding="utf-8")
    return contacts


def script(
    contacts: list[tuple[str, str, str]],
    rng: random.Random,
) -> tuple[list[ScriptedReply], str]:
    texts = [
        "STOP",
        "please stop texting me",
        "I paid yesterday",
        "HELP",
        "who is this?",
        "STOP I already paid",
        "wrong number",
        # Replies with legal weight, promises and preferences act through the same core.
        "talk to my attorney",
        "I'll pay on Friday",
        "not after 6pm",
        "這不是我借的",
    ]
    replies = []
    for index in rng.sample(range(ACCOUNTS), 30):
        _, phone, email = contacts[index]
        at = START + timedelta(days=rng.randrange(0, 20), minutes=rng.randrange(0, 1440))
        if email and index % 4 == 0:
            replies.append(ScriptedReply(at, email, Channel.EMAIL, "Please unsubscribe me."))
        else:
            text = "不要再发了" if phone.startswith("+86") else rng.choice(texts)
            replies.append(ScriptedReply(at, phone, Channel.SMS, text))
    # A borrower who opts out and later opts back in.
    _, phone, _ = contacts[1]
    replies += [
        ScriptedReply(START + timedelta(days=2, hours=17), phone, Channel.SMS, "STOP"),
        ScriptedReply(START + timedelta(days=9, hours=17), phone, Channel.SMS, "START"),
    ]
    # Borrowers whose words change what the law allows: both engines act through the same core.
    for index, text in (
        (2, "talk to my attorney"),
        (3, "I'll pay on Friday"),
        (4, "not after 6pm"),
    ):
        _, phone, _ = contacts[index]
        replies.append(ScriptedReply(START + timedelta(days=1, hours=18), phone, Channel.SMS, text))
    payments = ["account_id,paid_at,amount"]
    for index in rng.sample(range(ACCOUNTS), 12):
        paid = START + timedelta(days=rng.randrange(1, 25), hours=rng.randrange(0, 24))
        amount = "99999.00" if index % 2 else "10.00"  # full and partial payments
        payments.append(f"{contacts[index][0]},{paid:%Y-%m-%dT%H:%M:%SZ},{amount}")
    return sorted(replies, key=lambda reply: reply.at), "\n".join(payments) + "\n"


def decisions(result: SimulationResult) -> list[tuple[object, ...]]:
    """messages.csv's columns; provider message ids differ by nature (moto vs memory)."""

    def row(record: AuditRecord) -> tuple[object, ...]:
        return (
            record.account_id,
            record.rung,
            record.channel,
            record.template_id,
            record.template_version,
            record.decision,
            record.reason,
            record.at_utc,
            record.at_local,
            record.profile,
            record.address_masked,
            record.segments,
            record.body,
        )

    return sorted(row(record) for record in result.records)


@pytest.mark.slow
def test_engines_fast_and_full_record_identical_decisions(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    accounts_file = tmp_path / "accounts.csv"
    contacts = write_accounts(accounts_file, rng)
    replies, payments = script(contacts, rng)
    payments_file = tmp_path / "payments.csv"
    payments_file.write_text(payments, encoding="utf-8")
    sim = SimulationInput(
        accounts_file=accounts_file,
        lender_id="demo",
        start=START,
        days=DAYS,
        replies=tuple(replies),
        payments_file=payments_file,
    )

    fast = run_fast(sim)
    full = run_full(sim)

    assert len(fast.records) > 4 * ACCOUNTS  # the run really walked the ladders
    kinds = {record.decision for record in fast.records}
    assert {Decision.SENT, Decision.SUPPRESSED} <= kinds
    assert decisions(fast) == decisions(full)
    assert [(a.account_id, a.status, a.amount_due) for a in fast.accounts] == [
        (a.account_id, a.status, a.amount_due) for a in full.accounts
    ]
    assert sorted(s.key for s in fast.suppressions) == sorted(s.key for s in full.suppressions)
    assert (fast.rows, fast.rows_rejected) == (full.rows, full.rows_rejected) == (ACCOUNTS, 0)
    # ... and the attorney reply stopped E-0002's ladder in both (nothing sent after it)
    said = START + timedelta(days=1, hours=18)
    for result in (fast, full):
        lawyer = next(a for a in result.accounts if a.account_id == "E-0002")
        assert lawyer.status is AccountStatus.ATTORNEY
        assert not [
            r
            for r in result.records
            if r.account_id == "E-0002" and r.decision is Decision.SENT and r.at_utc > said
        ]
