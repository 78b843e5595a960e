"""The analytics path's AWS side: DynamoDB stream records in, Firehose records out.

A stream record (as Lambda receives it from DynamoDB Streams) is read into the table it came
from, the item before and after (DynamoDB JSON deserialized) and the time of the change; the
events are put to the Firehose stream as JSON lines, which Firehose converts to Parquet with
the Glue table's schema and partitions by `lender` and `date` (infra/components/analytics.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from functions.adapters.dynamo import from_wire
from functions.core.analytics import AnalyticsEvent, Item, StreamTable
from functions.core.errors import ConfigError, RungError

# PutRecordBatch takes at most 500 records per call.
FIREHOSE_BATCH = 500
# Hive's default timestamp text, which Firehose's Hive JSON SerDe reads without configuration.
HIVE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
SECRET_MAX_AGE_S = 300


class AnalyticsDeliveryError(RungError):
    """Firehose refused records: the batch fails and the event source mapping retries it."""


@dataclass(frozen=True)
class TableChange:
    table: StreamTable
    old: Item | None
    new: Item | None
    at: datetime


def table_name_of(stream_arn: str) -> str:
    """`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL` → NAME."""
    return stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]


def table_changes(
    event: Mapping[str, Any], tables: Mapping[str, StreamTable]
) -> Iterator[TableChange]:
    """Each record of a DynamoDB Streams batch, from a table we map (others are skipped)."""
    for record in event.get("Records", []):
        table = tables.get(table_name_of(record["eventSourceARN"]))
        if table is None:
            continue
        change = record["dynamodb"]
        old, new = change.get("OldImage"), change.get("NewImage")
        yield TableChange(
            table=table,
            old=from_wire(old) if old else None,
            new=from_wire(new) if new else None,
            at=datetime.fromtimestamp(float(change["ApproximateCreationDateTime"]), UTC),
        )


def firehose_record(event: AnalyticsEvent) -> bytes:
    """One JSON line: the columns, plus `lender` and `date` for Firehose's partitioning."""
    row: dict[str, Any] = event.model_dump(mode="python")
    row["event_type"] = event.event_type.value
    row["at_utc"] = event.at_utc.astimezone(UTC).strftime(HIVE_TIMESTAMP)
    row["date"] = event.at_utc.astimezone(UTC).date().isoformat()
    if event.due_date is not None:
        row["due_date"] = event.due_date.isoformat()
    for name, value in row.items():
        if isinstance(value, Decimal):
            row[name] = float(value)
    return (json.dumps(row, separators=(",", ":")) + "\n").encode("utf-8")


class FirehoseEvents:
    """Puts events to one Firehose stream; a record Firehose refuses fails the batch, so the
    event source mapping retries it (a retried record may be put twice: the KPIs count
    distinct accounts, and decisions are unique by account, cycle, rung and channel)."""

    def __init__(self, stream_name: str, client: Any | None = None) -> None:
        self._stream = stream_name
        self._client = client

    def put(self, events: Sequence[AnalyticsEvent]) -> None:
        client = self._client or boto3.client("firehose")
        self._client = client
        for first in range(0, len(events), FIREHOSE_BATCH):
            batch = [{"Data": firehose_record(e)} for e in events[first : first + FIREHOSE_BATCH]]
            answer = client.put_record_batch(DeliveryStreamName=self._stream, Records=batch)
            if answer.get("FailedPutCount"):
                raise AnalyticsDeliveryError(
                    f"Firehose refused {answer['FailedPutCount']} of {len(batch)} records"
                )


def analytics_key(secret_arn: str) -> bytes:
    """The HMAC key of pseudonymous account keys (Powertools parameters, cached)."""
    if not secret_arn:
        raise ConfigError("RUNG_ANALYTICS_KEY_SECRET_ARN is not set")
    secret = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_S)
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")
