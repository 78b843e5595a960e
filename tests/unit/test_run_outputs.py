"""A part's messages.csv lines are each record's row as the neutralising CSV writer writes it,
one line per record even when a body holds line breaks, quotes or a formula; the parts' files
merge in order, each part's ties in its own order."""

from __future__ import annotations

import csv
import heapq
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

import rung.run_outputs as run_outputs
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


def test_parts_merge_in_order_keeping_each_parts_ties(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_outputs, "BATCH", 3)  # many rounds, batches ending unevenly
    parts = {
        "a": [(1, "a1"), (1, "a1'"), (4, "a4"), (9, "a9"), (9, "a9'"), (9, "a9''"), (12, "a12")],
        "b": [(2, "b2"), (3, "b3"), (5, "b5"), (6, "b6"), (7, "b7"), (8, "b8"), (10, "b10")],
        "c": [(11, "c11")],
        "d": [],
    }
    folders = []
    for name, items in parts.items():
        folder = tmp_path / name
        folder.mkdir()
        run_outputs._dump(folder / "messages", items)
        folders.append(SimpleNamespace(folder=folder))

    merged = list(run_outputs._merged(folders, "messages"))  # type: ignore[arg-type]

    expected = heapq.merge(*parts.values(), key=lambda item: item[0])  # stable: ties kept
    assert merged == [value for _, value in expected]
