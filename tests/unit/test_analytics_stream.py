"""The analytics Lambda's mapping: DynamoDB stream records, shaped as AWS sends them (images in
DynamoDB JSON, written as the adapters write items), to analytics events for Firehose."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.adapters.analytics_stream import (
    AnalyticsDeliveryError,
    FirehoseEvents,
    firehose_record,
)
from functions.adapters.dynamo import model_item, to_wire
from functions.analytics.handler import AnalyticsServices, handler
from functions.core.analytics import AnalyticsEvent, EventType, account_key
from functions.core.models import (
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    Decision,
    InboundDecision,
    LedgerEntry,
)
from functions.settings import AnalyticsSettings
from rung.events import LocalContext

SECRET = b"analytics-test-key"
AT = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)
ACCOUNT = Account(
    lender_id="demo",
    account_id="D-1",
    phone="+12065550100",
    email="jane@example.com",
    amount_due=Decimal("120.50"),
    currency="USD",
    due_date=date(2026, 11, 20),
    locale="en-US",
    cycle="2026-11-20",
)
SETTINGS = AnalyticsSettings(
    accounts_table="rung-Accounts",
    audit_table="rung-Audit",
    ledger_table="rung-Ledger",
    analytics_stream="rung-analytics",
    analytics_key_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:k",
)


def stream_record(
    table: str, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> dict[str, Any]:
    """One record of a DynamoDB Streams batch as Lambda receives it (NEW_AND_OLD_IMAGES)."""
    images = {}
    if old is not None:
        images["OldImage"] = to_wire(old)
    if new is not None:
        images["NewImage"] = to_wire(new)
    keys = {k: v for k, v in (new or old or {}).items() if k in ("pk", "sk")}
    return {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": AT.timestamp(),
            "Keys": to_wire(keys),
            **images,
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": (
            f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-12-01T00:00:00.000"
        ),
    }


class Sink:
    def __init__(self) -> None:
        self.events: list[AnalyticsEvent] = []

    def put(self, events: list[AnalyticsEvent]) -> None:
        self.events.extend(events)


class AddressBook:
    """The accounts table's address indexes: the one account, by its phone."""

    def find_by_address(self, channel: Channel, address: str) -> list[Account]:
        return [ACCOUNT] if (channel, address) == (Channel.SMS, ACCOUNT.phone) else []


def run(*records: dict[str, Any]) -> list[AnalyticsEvent]:
    sink = Sink()
    services = AnalyticsServices(
        settings=SETTINGS, sink=sink, secret=SECRET, accounts=AddressBook()
    )
    handler({"Records": list(records)}, LocalContext("analytics"), services=services)  # type: ignore[arg-type]
    return sink.events


def account_item(account: Account) -> dict[str, Any]:
    return model_item(account, pk=account.key)


def test_stream_sent_decision_becomes_a_decision_event_with_its_cost() -> None:
    record = AuditRecord(
        lender_id="demo",
        account_id="D-1",
        cycle="2026-11-20",
        rung=0,
        channel=Channel.SMS,
        decision=Decision.SENT,
        template_id="reminder_day1",
        template_version="abc123",
        at_utc=AT,
        address_masked="+1206*****00",
        segments=2,
        body="Hi Jane, your payment of $120.50 is overdue.",
    )
    item = model_item(record, pk="demo#D-1#2026-11-20", sk="000#sms", expires_at=1)
    (event,) = run(stream_record("rung-Audit", "INSERT", None, item))
    assert event.event_type is EventType.DECISION
    assert (event.rung, event.channel, event.decision) == (1, "sms", "SENT")
    assert event.account_key == account_key(SECRET, "demo", "D-1")
    assert event.cost == Decimal("0.00581") * 2  # the demo lender's price per segment
    line = firehose_record(event).decode()
    assert "Jane" not in line and "D-1" not in line and "+1206" not in line


def test_stream_reply_read_becomes_a_reply_event_of_the_account_without_the_address() -> None:
    # Given the inbound decisions one STOP logs: the reply read, then its effect
    read = InboundDecision(
        at=AT, channel=Channel.SMS, address="+12065550100", event="read", intent="opt_out"
    )
    effect = read.model_copy(update={"event": "suppressed", "account": "demo#D-1"})
    records = [
        stream_record("rung-Audit", "INSERT", None, model_item(d, pk=d.key, sk=f"{AT}#{i}"))
        for i, d in enumerate((read, effect))
    ]
    # Then one reply event, for the account holding that phone, and no address in it
    (event,) = run(*records)
    assert (event.event_type, event.intent, event.channel) == (EventType.REPLY, "opt_out", "sms")
    assert event.account_key == account_key(SECRET, "demo", "D-1")
    assert "2065550100" not in firehose_record(event).decode()


def test_stream_reply_from_an_address_nobody_holds_is_no_event() -> None:
    stranger = InboundDecision(
        at=AT, channel=Channel.SMS, address="+12065550199", event="read", intent="opt_out"
    )
    record = stream_record("rung-Audit", "INSERT", None, model_item(stranger, pk=stranger.key))
    assert run(record) == []


def test_stream_delivery_receipt_becomes_a_delivery_event_once() -> None:
    attempted = LedgerEntry(
        ladder_key="demo#D-1#2026-11-20",
        rung=2,
        channel=Channel.SMS,
        state=Decision.SENT,
        attempted_at=AT,
        address="+12065550100",
    )
    delivered = attempted.model_copy(update={"delivery": "DELIVERED", "delivery_at": AT})
    keys = {"pk": attempted.ladder_key, "sk": attempted.sort_key}
    receipt = stream_record(
        "rung-Ledger", "MODIFY", model_item(attempted, **keys), model_item(delivered, **keys)
    )
    again = stream_record(
        "rung-Ledger", "MODIFY", model_item(delivered, **keys), model_item(delivered, **keys)
    )
    (event,) = run(receipt, again)
    assert (event.event_type, event.rung, event.status) == (EventType.DELIVERY, 3, "DELIVERED")
    assert event.cycle == "2026-11-20"


def test_stream_new_account_is_an_upload_with_its_balance_and_days_past_due() -> None:
    (event,) = run(stream_record("rung-Accounts", "INSERT", None, account_item(ACCOUNT)))
    assert event.event_type is EventType.UPLOAD
    assert (event.amount_due, event.due_date, event.dpd) == (
        Decimal("120.50"),
        date(2026, 11, 20),
        13,
    )


def test_stream_account_paid_in_full_is_a_status_change_and_a_payment_of_the_balance() -> None:
    paid = ACCOUNT.model_copy(update={"status": AccountStatus.PAID, "status_changed_at": AT})
    events = run(
        stream_record("rung-Accounts", "MODIFY", account_item(ACCOUNT), account_item(paid))
    )
    assert [(e.event_type, e.status, e.amount) for e in events] == [
        (EventType.STATUS, "PAID", None),
        (EventType.PAYMENT, None, Decimal("120.50")),
    ]


def test_stream_part_payment_from_a_payments_file_is_the_balance_it_took_off() -> None:
    part = ACCOUNT.model_copy(
        update={
            "amount_due": Decimal("20.50"),
            "upload_key": "payments/demo/2026-12-03.csv#etag@2",
        }
    )
    (event,) = run(
        stream_record("rung-Accounts", "MODIFY", account_item(ACCOUNT), account_item(part))
    )
    assert (event.event_type, event.amount) == (EventType.PAYMENT, Decimal("100.00"))


def test_stream_reupload_lowering_the_balance_is_no_payment() -> None:
    lowered = ACCOUNT.model_copy(
        update={"amount_due": Decimal("20.50"), "upload_key": "uploads/demo/b.csv#etag@2"}
    )
    assert (
        run(stream_record("rung-Accounts", "MODIFY", account_item(ACCOUNT), account_item(lowered)))
        == []
    )


def test_stream_removals_and_other_tables_are_not_events() -> None:
    expired = stream_record("rung-Accounts", "REMOVE", account_item(ACCOUNT), None)
    other = stream_record("rung-Templates", "INSERT", None, {"pk": "t", "sk": "v"})
    assert run(expired, other) == []


def _event() -> AnalyticsEvent:
    return AnalyticsEvent(event_type=EventType.PAYMENT, lender="demo", account_key="k", at_utc=AT)


def test_firehose_record_carries_the_partitions_and_hive_timestamps() -> None:
    row = json.loads(firehose_record(_event()))
    assert (row["lender"], row["date"], row["at_utc"]) == (
        "demo",
        "2026-12-03",
        "2026-12-03 14:05:00.000000",
    )


def test_firehose_refusing_records_fails_the_batch_for_a_retry() -> None:
    client = boto3.client("firehose", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "put_record_batch",
            {"FailedPutCount": 1, "RequestResponses": [{"ErrorCode": "ServiceUnavailable"}]},
        )
        with pytest.raises(AnalyticsDeliveryError, match="refused 1 of 1"):
            FirehoseEvents("rung-analytics", client).put([_event()])
