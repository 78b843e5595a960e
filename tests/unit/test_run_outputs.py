"""A part's messages.csv lines are each record's row as the neutralising CSV writer writes it,
one line per record even when a body holds line breaks, quotes or a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from functions.core.models import AuditRecord, Channel, Decision
from rung.report import message_row
from rung.run_outputs import message_lines

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
BODIES = ("Hi Jane,\r\nyou owe $5.\nPay: https://pay.example/x", 'She said "paid"', "=1+2", "")


def _record(index: int, body: str) -> AuditRecord:
    return AuditRecord(
        lender_id="demo",
        account_id=f"-A-{index}",  # an id a spreadsheet would read as a formula
        cycle="c1",
        rung=index,
        channel=Channel.EMAIL,
        decision=Decision.SENT,
        template_id="t1",
        template_version="v1",
        at_utc=START + timedelta(minutes=index),
        body=body,
    )


def test_each_records_line_is_its_neutralised_row() -> None:
    records = [_record(i, body) for i, body in enumerate(BODIES)]

    lines = list(message_lines(records))

    assert len(lines) == len(records)
    for line, record in zip(lines, records, strict=True):
        (cells,) = list(csv.reader(io.StringIO(line, newline="")))
        expected = ["'" + c if c.startswith(("=", "-")) else c for c in message_row(record)]
        assert cells == expected
        assert line.endswith("\r\n")
    assert "Hi Jane,\r\nyou owe $5.\nPay:" in lines[0]
