"""The payments file (docs/design.md, Payments file) and what intake does with it, over the
in-memory adapters."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.adapters.memory import (
    MemoryAccountStore,
    MemoryEmail,
    MemoryLadderControl,
    MemoryObjectStore,
    MemoryUploadStore,
)
from functions.core.errors import FileRejected
from functions.core.intake import IntakeOutcome, ingest
from functions.core.ladder import execution_name
from functions.core.lenders import ShippedLenders, load_lender
from functions.core.models import AccountStatus
from functions.core.payments_file import PaymentsFile
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ACCOUNTS = (
    "account_id,phone,amount_due,currency,due_date\n"
    "D-1,+12065550134,245.50,USD,2026-11-25\n"
    "D-2,+8613800138000,3500.00,CNY,2026-11-30\n"
    "D-3,+12065550135,100,JPY,2026-11-30\n"
)


class Ports:
    def __init__(self) -> None:
        self.accounts = MemoryAccountStore()
        self.ladders = MemoryLadderControl()
        self.uploads = MemoryUploadStore()
        self.objects = MemoryObjectStore()
        self.email = MemoryEmail()  # receipts to the lender
        self.lenders = ShippedLenders(PROJECT_ROOT)

    def upload(self, key: str, body: str, etag: str = "e1") -> IntakeOutcome:
        self.objects.put(key, body.encode(), "text/csv")
        return ingest(self, key, etag, NOW, PROJECT_ROOT)


@pytest.fixture
def ports() -> Ports:
    given = Ports()
    outcome = given.upload("uploads/demo/day1.csv", ACCOUNTS)
    assert outcome.record.accepted == 3
    return given


def read(text: str) -> list[tuple[int, str, list[str]]]:
    reader = PaymentsFile(io.BytesIO(text.encode()), DEMO)
    return [(r.row, r.account_id, [str(e) for e in r.errors]) for r in reader.results()]


def test_payment_row_reads_dates_and_offsets_as_utc() -> None:
    reader = PaymentsFile(
        io.BytesIO(b"account_id,paid_at,amount\nA,2026-12-03,1\nB,2026-12-03T08:00:00+08:00,2.5\n"),
        DEMO,
    )
    values = [r.value for r in reader.results()]
    assert [v.paid_at for v in values if v] == [
        datetime(2026, 12, 3, tzinfo=UTC),
        datetime(2026, 12, 3, 0, 0, tzinfo=UTC),
    ]


def test_payment_row_bad_fields_are_rejected_with_reasons() -> None:
    assert read(
        "account_id,paid_at,amount\nA,2026-12-03T10:00:00,5\nB,yesterday,5\nC,2026-12-03,-1\n"
    ) == [
        (
            2,
            "A",
            [
                "paid_at: '2026-12-03T10:00:00' has no UTC offset:"
                " add Z or +08:00, or give a date only"
            ],
        ),
        (3, "B", ["paid_at: 'yesterday' is not an ISO date or date-time"]),
        (4, "C", ["amount: must be greater than 0"]),
    ]


def test_payments_file_missing_column_is_rejected_whole() -> None:
    with pytest.raises(FileRejected, match=r"missing required column\(s\): paid_at"):
        read("account_id,amount\nA,5\n")


def test_full_payment_marks_paid_and_stops_the_ladder(ports: Ports) -> None:
    # Given D-1's ladder running since the upload
    name = execution_name("demo", "D-1", "2026-11-25")
    assert name in ports.ladders.running
    # When the lender's payments file pays D-1 in full
    outcome = ports.upload(
        "payments/demo/dec6.csv", "account_id,paid_at,amount\nD-1,2026-12-05,245.50\n"
    )
    # Then the account is PAID at processing time and its execution is stopped now
    account = ports.accounts.get("demo", "D-1")
    assert account is not None and account.status is AccountStatus.PAID
    assert account.status_changed_at == NOW
    assert name in ports.ladders.stopped and name not in ports.ladders.running
    assert (outcome.record.rows, outcome.record.accepted, outcome.record.rejected) == (1, 1, 0)


def test_partial_payment_lowers_the_balance_and_keeps_the_ladder(ports: Ports) -> None:
    ports.upload("payments/demo/dec6.csv", "account_id,paid_at,amount\nD-2,2026-12-05,1000.00\n")
    account = ports.accounts.get("demo", "D-2")
    assert account is not None
    assert (account.amount_due, account.status) == (Decimal("2500.00"), AccountStatus.ACTIVE)
    assert ports.ladders.stopped == []


def test_payment_for_unknown_account_is_a_rejected_row_in_the_report(ports: Ports) -> None:
    outcome = ports.upload(
        "payments/demo/dec6.csv", "account_id,paid_at,amount\nNOPE,2026-12-05,1\nD-2,2026-12-05,1\n"
    )
    assert (outcome.record.rows, outcome.record.accepted, outcome.record.rejected) == (2, 1, 1)
    report = ports.objects.open(outcome.record.report_key).read().decode("utf-8-sig")
    assert report.splitlines() == [
        "row,account_id,field,reason",
        "2,NOPE,account_id,unknown account_id for lender demo",
    ]
    assert outcome.record.report_key == "rejects/demo/dec6.payments.rejects.csv"


def test_payment_amount_must_fit_the_accounts_currency(ports: Ports) -> None:
    outcome = ports.upload(
        "payments/demo/dec6.csv", "account_id,paid_at,amount\nD-3,2026-12-05,10.5\n"
    )
    assert outcome.record.rejected == 1
    account = ports.accounts.get("demo", "D-3")
    assert account is not None and account.amount_due == Decimal("100")


def test_payments_file_replayed_after_a_crash_applies_each_row_once(ports: Ports) -> None:
    # Given a partial payment file processed once
    body = "account_id,paid_at,amount\nD-2,2026-12-05,1000.00\nD-2,2026-12-06,500.00\n"
    ports.upload("payments/demo/dec6.csv", body)
    # When the same upload is processed again before it was recorded finished (a retry)
    record = ports.uploads.records["payments/demo/dec6.csv#e1"]
    ports.uploads.records[record.pk] = record.model_copy(update={"finished": False})
    ingest(ports, "payments/demo/dec6.csv", "e1", NOW, PROJECT_ROOT)
    # Then the balance fell by the two payments once, not twice
    account = ports.accounts.get("demo", "D-2")
    assert account is not None and account.amount_due == Decimal("2000.00")


def test_payments_file_seen_again_when_finished_changes_nothing(ports: Ports) -> None:
    body = "account_id,paid_at,amount\nD-2,2026-12-05,1000.00\n"
    ports.upload("payments/demo/dec6.csv", body)
    outcome = ports.upload("payments/demo/dec6.csv", body)
    account = ports.accounts.get("demo", "D-2")
    assert outcome.duplicate and account is not None and account.amount_due == Decimal("2500.00")
