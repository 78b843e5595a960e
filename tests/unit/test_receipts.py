"""A receipt for every lender file: counts, the most frequent reasons, ladders started and a
link to the reject report, to the lender's receipt addresses; failures recorded, never fatal."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.bootstrap import memory_services
from functions.core import intake
from functions.core.clock import FixedClock
from functions.core.errors import TransientSendError
from functions.core.intake import ingest
from functions.core.receipts import MAX_REASON_KINDS, add_reasons, reason_kind
from functions.settings import PROJECT_ROOT, Settings

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
HEADER = "account_id,phone,email,amount_due,currency,due_date\n"
GOOD = "A{n},+12065550134,,100.00,USD,2026-11-25\n"
BAD_PHONE = "B{n},12345,,100.00,USD,2026-11-25\n"
BAD_AMOUNT = "C{n},+12065550134,,abc,USD,2026-11-25\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The project's configuration with the demo lender sending receipts to two addresses."""
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    (tmp_path / "ladders").symlink_to(PROJECT_ROOT / "ladders")
    demo = tmp_path / "config" / "lenders" / "demo.yaml"
    text = demo.read_text(encoding="utf-8").replace(
        "  - files@demo-finance.example\n",
        "  - files@demo-finance.example\n  - ops@demo-finance.example\n",
    )
    demo.write_text(text, encoding="utf-8")
    return tmp_path


def _file(good: int, bad_phone: int, bad_amount: int) -> bytes:
    rows = [GOOD.format(n=n) for n in range(good)]
    rows += [BAD_PHONE.format(n=n) for n in range(bad_phone)]
    rows += [BAD_AMOUNT.format(n=n) for n in range(bad_amount)]
    return (HEADER + "".join(rows)).encode()


def test_processed_file_sends_one_receipt_per_address_with_counts_reasons_and_link(
    root: Path,
) -> None:
    services = memory_services(Settings(config_root=root), FixedClock(NOW))
    services.objects.put("uploads/demo/march.csv", _file(3, 2, 1), "text/csv")
    record = ingest(
        services, "uploads/demo/march.csv", "e1", NOW, root, configuration_set="cs"
    ).record
    sent = services.email.sent  # type: ignore[attr-defined]
    assert [message.to for _, message in sent] == [
        "files@demo-finance.example",
        "ops@demo-finance.example",
    ]
    message = sent[0][1]
    assert message.subject == "Rung receipt: march: 3 accepted, 3 rejected"
    assert message.configuration_set == "cs"
    assert "Reminder ladders started: 3" in message.body
    lines = message.body.splitlines()
    top = lines[
        lines.index("Most frequent reasons:") + 1 : lines.index("Most frequent reasons:") + 3
    ]
    assert top[0].startswith("  2 × phone: ") and top[1].startswith("  1 × amount_due: ")
    assert "memory:rejects/demo/march.rejects.csv" in message.body
    # And the upload record says who got it
    assert record.receipt_to == ("files@demo-finance.example", "ops@demo-finance.example")
    assert services.uploads.records[record.pk] == record  # type: ignore[attr-defined]


def test_file_rejected_whole_gets_a_receipt_too(root: Path) -> None:
    services = memory_services(Settings(config_root=root), FixedClock(NOW))
    services.objects.put("uploads/demo/empty.csv", b"", "text/csv")
    record = ingest(services, "uploads/demo/empty.csv", "e1", NOW, root).record
    (_, message), _ = services.email.sent  # type: ignore[attr-defined]
    assert message.subject == "Rung receipt: empty was rejected whole"
    assert f"Rejected whole: {record.file_error}" in message.body


def test_unknown_lender_has_no_one_to_receive_a_receipt(root: Path) -> None:
    services = memory_services(Settings(config_root=root), FixedClock(NOW))
    services.objects.put("uploads/acme/x.csv", _file(1, 0, 0), "text/csv")
    record = ingest(services, "uploads/acme/x.csv", "e1", NOW, root).record
    assert record.file_error.startswith("unknown lender")
    assert services.email.sent == []  # type: ignore[attr-defined]


def test_a_long_file_is_receipted_once_with_reasons_of_every_invocation(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "BATCH_SIZE", 2)
    services = memory_services(Settings(config_root=root), FixedClock(NOW))
    services.objects.put("uploads/demo/long.csv", _file(2, 3, 2), "text/csv")
    outcome = ingest(services, "uploads/demo/long.csv", "e1", NOW, root, should_pause=lambda: True)
    invocations = 1
    while outcome.continuation is not None:
        assert services.email.sent == []  # type: ignore[attr-defined]
        outcome = ingest(
            services,
            "uploads/demo/long.csv",
            "e1",
            NOW,
            root,
            resume=outcome.continuation,
            should_pause=lambda: True,
        )
        invocations += 1
    assert invocations >= 3
    assert len(services.email.sent) == 2  # type: ignore[attr-defined]
    assert sum(outcome.record.reasons.values()) == 5
    assert outcome.record.ladders_started == 2


def test_a_failed_receipt_is_recorded_and_the_file_still_stands(root: Path) -> None:
    services = memory_services(Settings(config_root=root), FixedClock(NOW))
    services.email.fail_next(TransientSendError("ses throttled"))  # type: ignore[attr-defined]
    services.objects.put("uploads/demo/march.csv", _file(2, 0, 0), "text/csv")
    record = ingest(services, "uploads/demo/march.csv", "e1", NOW, root).record
    assert (record.accepted, record.ladders_started) == (2, 2)
    assert record.receipt_to == ("ops@demo-finance.example",)
    assert record.receipt_error == "to …@demo-finance.example: ses throttled"


def test_reason_kinds_fold_row_numbers_and_stay_bounded() -> None:
    assert reason_kind("account_id", "duplicate account_id (first seen in row 12)") == (
        "account_id: duplicate account_id (first seen in row N)"
    )
    many = add_reasons({}, Counter({f"k{i}": 1 for i in range(80)}))
    assert len(many) == MAX_REASON_KINDS + 1 and many["other"] == 80 - MAX_REASON_KINDS
