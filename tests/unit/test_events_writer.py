"""The events writer streams time-ordered events into one Parquet file per lender and day,
in row groups, holding one group at a time; what it writes reads back as the events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds
import pytest

import rung.analytics_files as files
from functions.core.analytics import (
    decision_event,
    decision_fields,
    payment_event,
    upload_event,
    upload_fields,
)
from functions.core.lenders import UnitPrices
from functions.core.models import AuditRecord, Channel, Decision
from rung.analytics_files import event_row, fields_row, write_event_rows, write_events

START = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def _events(count: int) -> list:  # type: ignore[type-arg]
    return [
        payment_event("demo", f"key-{i % 7}", START + timedelta(minutes=10 * i), Decimal("1.50"))
        for i in range(count)
    ]


def test_events_read_back_per_day_in_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "ROWS_PER_GROUP", 4)
    events = _events(30)  # 23:00 on the 1st to 03:50 on the 2nd

    root = write_events(tmp_path, reversed(events))  # any order in: written in time order

    days = sorted(path.parent.name for path in root.rglob("part-0.parquet"))
    assert days == ["date=2026-12-01", "date=2026-12-02"]
    table = ds.dataset(root, partitioning="hive").to_table()
    assert table.num_rows == 30
    by_time = sorted(table.to_pylist(), key=lambda row: row["at_utc"])
    assert [row["at_utc"] for row in by_time] == [
        e.at_utc.astimezone(UTC).replace(tzinfo=None) for e in events
    ]
    assert {row["date"] for row in by_time} == {"2026-12-01", "2026-12-02"}  # from the paths
    assert by_time[0]["amount"] == Decimal("1.5000")
    first_day = next(root.rglob("date=2026-12-01/part-0.parquet"))
    assert ds.dataset(first_day).to_table().num_rows == 6
    assert len(next(iter(ds.dataset(first_day).get_fragments())).row_groups) == 2  # 4 + 2


def test_rows_out_of_time_order_are_refused(tmp_path: Path) -> None:
    events = _events(20)
    rows = [event_row(e) for e in events]

    with pytest.raises(ValueError, match="out of time order"):
        write_event_rows(tmp_path, [*rows, rows[0]])


def _record(decision: Decision, channel: Channel, at: datetime) -> AuditRecord:
    return AuditRecord(
        lender_id="demo",
        account_id="A-1",
        cycle="c1",
        rung=2,
        channel=channel,
        decision=decision,
        reason="" if decision is Decision.SENT else "quiet_hours",
        template_id="t1",
        template_version="v1",
        at_utc=at,
        segments=3 if channel is Channel.SMS else 0,
    )


@pytest.mark.parametrize(
    ("decision", "channel", "at"),
    [
        (Decision.SENT, Channel.SMS, START),
        (Decision.SENT, Channel.EMAIL, START.astimezone(timezone(timedelta(hours=-5)))),
        (Decision.DEFERRED, Channel.SMS, START + timedelta(hours=2)),  # the next UTC day
    ],
)
def test_a_decisions_row_is_its_validated_events_row(
    decision: Decision, channel: Channel, at: datetime
) -> None:
    prices = UnitPrices(sms_segment=Decimal("0.0079"), email=Decimal("0.0001"))
    record = _record(decision, channel, at)

    row = fields_row(decision_fields(record, "key-1", prices))

    assert row == event_row(decision_event(record, "key-1", prices))
    assert [type(value) for value in row] == [
        type(value) for value in event_row(decision_event(record, "key-1", prices))
    ]


def test_an_uploads_row_is_its_validated_events_row() -> None:
    owes, due = Decimal("120.50"), date(2026, 11, 20)

    row = fields_row(
        upload_fields("demo", "key-1", START, amount_due=owes, currency="USD", due_date=due)
    )

    assert row == event_row(
        upload_event("demo", "key-1", START, amount_due=owes, currency="USD", due_date=due)
    )
    assert row[-1] == date(2026, 12, 1) and row[-2] == "demo"  # the partitions, last
