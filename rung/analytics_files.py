"""The analytics record of a simulation, as Parquet files laid out as on S3.

`rung simulate` writes `OUT/events/lender=ID/date=YYYY-MM-DD/part-0.parquet`: the same
events (functions.core.analytics) the stack's Firehose stream writes into the analytics
bucket, with the same columns and partitions, so the KPI queries (kpis/*.sql) read both alike.

What a simulation knows is mapped as the stack's stream mapping does: each accepted row of
the lender file is an upload, each gate decision a decision, each accepted payments-file row
a payment (up to the end of the run), each borrower reply a reply of the accounts its sender
holds, and each account's final status, when not ACTIVE, a status change. A simulation has
no providers, so no delivery receipts.

The pseudonymous account key of a run is made under a random secret drawn for that run: the
files of one run join, and no file names an account.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.core.analytics import (
    COLUMNS,
    PARTITIONS,
    AnalyticsEvent,
    account_key,
    decision_fields,
    payment_event,
    reply_event,
    status_event,
    upload_fields,
)
from functions.core.lender_file import LenderRow
from functions.core.lenders import LenderConfig
from functions.core.models import AccountStatus, Channel
from functions.core.payments_file import PaymentRow
from rung.engine import SimulationResult

EVENTS_DIR = "events"
SECRET_BYTES = 32


def arrow_type(glue_type: str) -> pa.DataType:
    """The Parquet (Arrow) type of a column typed as Glue names it."""
    if glue_type.startswith("decimal("):
        precision, scale = glue_type.removeprefix("decimal(").rstrip(")").split(",")
        return pa.decimal128(int(precision), int(scale))
    types: dict[str, pa.DataType] = {
        "string": pa.string(),
        "int": pa.int32(),
        "timestamp": pa.timestamp("us"),  # naive UTC, as Athena reads Parquet timestamps
        "date": pa.date32(),
    }
    return types[glue_type]


SCHEMA = pa.schema([(name, arrow_type(kind)) for name, kind in (*COLUMNS, *PARTITIONS)])


def simulation_events(
    result: SimulationResult,
    lender: LenderConfig,
    *,
    entered: Sequence[LenderRow],
    payments: Sequence[PaymentRow],
    start: datetime,
    end: datetime,
    secret: bytes | None = None,
) -> list[EventRow]:
    """Every event of a run as `SCHEMA` rows, in event order (`row_order`)."""
    secret = secret if secret is not None else secrets.token_bytes(SECRET_BYTES)
    lender_id = lender.lender_id
    keys: dict[str, str] = {}

    def key(account_id: str) -> str:
        if account_id not in keys:
            keys[account_id] = account_key(secret, lender_id, account_id)
        return keys[account_id]

    # Uploads and decisions, one or more per account, are rows made straight from their
    # fields: the values of our own validated rows and records, each of its field's type.
    same = Shared()
    rows = [
        fields_row(
            upload_fields(
                lender_id,
                key(row.account_id),
                start,
                amount_due=row.amount_due,
                currency=row.currency,
                due_date=row.due_date,
            ),
            same,
        )
        for row in entered
    ]
    prices = lender.prices
    rows.extend(
        fields_row(decision_fields(record, key(record.account_id), prices), same)
        for record in result.records
    )
    events = [
        payment_event(lender_id, key(p.account_id), p.paid_at, p.amount)
        for p in payments
        if p.paid_at <= end
    ]
    holders: dict[tuple[Channel, str], list[str]] = {}
    for account in result.accounts:
        for channel in Channel:
            address = account.address(channel)
            if address:
                holders.setdefault((channel, address.lower()), []).append(account.account_id)
    for reply, intent in result.replies:
        for account_id in holders.get((reply.channel, reply.sender.lower()), []):
            at = max(reply.at, start)
            events.append(reply_event(lender_id, key(account_id), at, reply.channel, intent))
    events.extend(
        status_event(
            lender_id, key(a.account_id), a.status_changed_at, a.status.value, cycle=a.cycle
        )
        for a in result.accounts
        if a.status is not AccountStatus.ACTIVE and a.status_changed_at is not None
    )
    rows.extend(fields_row(vars(event), same) for event in events)
    rows.sort(key=row_order)
    return rows


EventRow = tuple[Any, ...]  # one event's values in `SCHEMA` order, partitions last
# Events written per Parquet row group (our choice: a few MB of Python values buffered).
ROWS_PER_GROUP = 50_000
FILE_SCHEMA = pa.schema([SCHEMA.field(name) for name, _ in COLUMNS])
# An event's values in `SCHEMA` order but the last (the date partition, made from `at_utc`).
_VALUES = itemgetter(*SCHEMA.names[:-1])
_DEFAULTS = {
    name: spec.default
    for name, spec in AnalyticsEvent.model_fields.items()
    if not spec.is_required()
}
_AMOUNTS = tuple(name for name, kind in COLUMNS if kind.startswith("decimal("))
_AT, _TYPE, _KEY = (
    SCHEMA.get_field_index(name) for name in ("at_utc", "event_type", "account_key")
)


def fields_row(fields: dict[str, Any], same: Shared | None = None) -> EventRow:
    """An event's row from its fields (`AnalyticsEvent`'s defaults for those not given):
    timestamps naive UTC, the date partition its UTC day. With `same`, the row holds the
    run's one object for each instant, day and amount (`Shared`)."""
    values = {**_DEFAULTS, **fields}
    at = values["at_utc"].astimezone(UTC)
    naive, day = at.replace(tzinfo=None), at.date()
    if same is not None:
        naive = same.times.setdefault(naive, naive)
        day = same.days.setdefault(day, day)
        for name in _AMOUNTS:
            amount = values[name]
            if amount is not None:
                values[name] = same.amounts.setdefault(amount, amount)
    values["at_utc"] = naive
    values["event_type"] = values["event_type"].value
    return (*_VALUES(values), day)


@dataclass
class Shared:
    """A run's events share few instants, days and amounts: each row holds the one object
    for its value, so a batch of rows pickles each once and loads it once (equal amounts are
    the same number in the files' fixed-scale decimal columns)."""

    times: dict[datetime, datetime] = field(default_factory=dict)
    days: dict[date, date] = field(default_factory=dict)
    amounts: dict[Decimal, Decimal] = field(default_factory=dict)


def event_row(event: AnalyticsEvent) -> EventRow:
    """The event as `SCHEMA` values (`fields_row`)."""
    return fields_row(vars(event))


def row_order(row: EventRow) -> tuple[datetime, str, str]:
    """The order events are written in: time, then type, then account."""
    return (row[_AT], row[_TYPE], row[_KEY])


def write_events(out_dir: Path, events: Iterable[AnalyticsEvent]) -> Path:
    """Write events under `out_dir/events/lender=…/date=…/`; returns that folder."""
    return write_event_rows(out_dir, sorted(map(event_row, events), key=row_order))


def write_event_rows(out_dir: Path, rows: Iterable[EventRow]) -> Path:
    """Stream event rows (time-ordered, so each day's partition is written once, in row
    groups of `ROWS_PER_GROUP`) into one `part-0.parquet` per lender and day, as the stack's
    Firehose stream lays them out; returns the events folder."""
    root = out_dir / EVENTS_DIR
    if root.exists():
        shutil.rmtree(root)  # a folder's events are those of its last run
    partition = len(COLUMNS)
    writer: pq.ParquetWriter | None = None
    current: tuple[Any, ...] | None = None
    buffer: list[EventRow] = []

    def flush() -> None:
        if writer is not None and buffer:
            columns = [
                pa.array(values, type=column.type)
                # The rows' partition values, last, are not columns of the file: zip stops.
                for values, column in zip(zip(*buffer, strict=True), FILE_SCHEMA, strict=False)
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=FILE_SCHEMA))
            buffer.clear()

    try:
        for row in rows:
            key = row[partition:]
            if key != current:
                flush()
                if writer is not None:
                    writer.close()
                lender, day = key
                folder = root / f"lender={lender}" / f"date={day.isoformat()}"
                if folder.exists():
                    raise ValueError(f"events of {folder.name} out of time order")
                folder.mkdir(parents=True)
                writer = pq.ParquetWriter(folder / "part-0.parquet", FILE_SCHEMA)
                current = key
            buffer.append(row)
            if len(buffer) >= ROWS_PER_GROUP:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    return root
