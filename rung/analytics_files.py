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
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from functions.core.analytics import (
    COLUMNS,
    PARTITIONS,
    AnalyticsEvent,
    account_key,
    decision_event,
    payment_event,
    reply_event,
    status_event,
    upload_event,
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
) -> list[AnalyticsEvent]:
    """Every event of a run, in time order."""
    secret = secret if secret is not None else secrets.token_bytes(SECRET_BYTES)
    lender_id = lender.lender_id
    keys: dict[str, str] = {}

    def key(account_id: str) -> str:
        if account_id not in keys:
            keys[account_id] = account_key(secret, lender_id, account_id)
        return keys[account_id]

    events = [
        upload_event(
            lender_id,
            key(row.account_id),
            start,
            amount_due=row.amount_due,
            currency=row.currency,
            due_date=row.due_date,
        )
        for row in entered
    ]
    events.extend(
        decision_event(record, key(record.account_id), lender.prices) for record in result.records
    )
    events.extend(
        payment_event(lender_id, key(p.account_id), p.paid_at, p.amount)
        for p in payments
        if p.paid_at <= end
    )
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
    return sorted(events, key=lambda e: (e.at_utc, e.event_type.value, e.account_key))


def events_table(events: Iterable[AnalyticsEvent]) -> pa.Table:
    """The events as one Arrow table of `SCHEMA` (timestamps naive UTC)."""
    columns: dict[str, list[Any]] = {field.name: [] for field in SCHEMA}
    for event in events:
        row = event.model_dump()
        row["at_utc"] = event.at_utc.astimezone(UTC).replace(tzinfo=None)
        row["event_type"] = event.event_type.value
        row["date"] = event.at_utc.astimezone(UTC).date()
        for name, values in columns.items():
            values.append(row[name])
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def write_events(out_dir: Path, events: Iterable[AnalyticsEvent]) -> Path:
    """Write the events under `out_dir/events/lender=…/date=…/`; returns that folder."""
    root = out_dir / EVENTS_DIR
    pq.write_to_dataset(
        events_table(events),
        root_path=root,
        partition_cols=[name for name, _ in PARTITIONS],
        basename_template="part-{i}.parquet",
        existing_data_behavior="delete_matching",
    )
    return root
