"""The analytics record: one flat event per thing that happened to an account.

Every gate decision, delivery receipt, reply effect, status change, lender-file upload and
payment becomes an `AnalyticsEvent`. On AWS the events go through Firehose into Parquet on S3
(partitioned by lender and date, a Glue table over them, queried by Athena); `rung simulate`
writes the same events as Parquet files under `OUT/events/`. The KPI queries (`kpis/*.sql`)
read them the same way in both places (docs/kpis.md).

No personal data: an account appears only as `account_key`, an HMAC of the lender and account
id under a secret key, so events of one account can be joined without naming it. Phone
numbers, email addresses, names and message bodies never enter an event.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from functions.core.channels import BodyRule, Channel, spec
from functions.core.lenders import UnitPrices
from functions.core.models import AuditRecord, Decision


class EventType(StrEnum):
    UPLOAD = "upload"  # a lender file put the account on a ladder (or updated it)
    DECISION = "decision"  # the gate decided a rung: SENT, DEFERRED, SUPPRESSED, UNCERTAIN
    DELIVERY = "delivery"  # the provider's delivery receipt for a sent message
    REPLY = "reply"  # a borrower's reply and the intent Rung read in it
    STATUS = "status"  # the account's status changed (PAID, DISPUTED, …)
    PAYMENT = "payment"  # a row of the lender's payments file


# The columns, in order, with their types as Glue and Athena name them. The Parquet writer
# (rung.analytics_files) and the Glue table (infra.components.analytics) are built from this.
# `lender` and `date` (UTC day of `at_utc`) are the partitions, not columns of the files.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_type", "string"),
    ("account_key", "string"),
    ("cycle", "string"),
    ("at_utc", "timestamp"),
    ("rung", "int"),  # 1-based, as ladders/*.yaml reads
    ("channel", "string"),
    ("template_id", "string"),
    ("template_version", "string"),
    ("variant", "string"),  # the account's experiment variant, when it is in one
    ("segment", "string"),  # the lender's segment of the account, when it gives one
    ("decision", "string"),
    ("reason", "string"),
    ("intent", "string"),
    ("status", "string"),
    ("amount", "decimal(18,4)"),  # a payment
    ("amount_due", "decimal(18,4)"),  # an upload
    ("currency", "string"),
    ("due_date", "date"),
    ("dpd", "int"),  # days past due when the file arrived
    ("units", "int"),  # what the provider bills: SMS segments, one email, one push
    ("cost", "decimal(18,6)"),  # units × the lender's unit price
)
PARTITIONS: tuple[tuple[str, str], ...] = (("lender", "string"), ("date", "date"))


class AnalyticsEvent(BaseModel):
    """One row of the analytics record (`COLUMNS` plus the two partitions)."""

    model_config = ConfigDict(frozen=True)

    event_type: EventType
    lender: str
    account_key: str
    cycle: str = ""
    at_utc: datetime  # UTC
    rung: int | None = None
    channel: str | None = None
    template_id: str | None = None
    template_version: str | None = None
    variant: str | None = None
    segment: str | None = None
    decision: str | None = None
    reason: str | None = None
    intent: str | None = None
    status: str | None = None
    amount: Decimal | None = None
    amount_due: Decimal | None = None
    currency: str | None = None
    due_date: date | None = None
    dpd: int | None = None
    units: int | None = None
    cost: Decimal | None = None


def account_key(secret: bytes, lender_id: str, account_id: str) -> str:
    """The pseudonymous key of an account: HMAC-SHA256 of `lender#account` under `secret`.
    Without the secret, the key does not lead back to the account id."""
    message = f"{lender_id}#{account_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def decision_cost(record: AuditRecord, prices: UnitPrices) -> tuple[int, Decimal]:
    """What a decision billed: (units, cost). Only a SENT message costs anything."""
    if record.decision is not Decision.SENT:
        return 0, Decimal(0)
    shape = spec(record.channel)
    units = record.segments if shape.body_rule is BodyRule.SEGMENTS else 1
    unit_price: Decimal = getattr(prices, shape.price_field)
    return units, unit_price * units


def decision_event(
    record: AuditRecord,
    key: str,
    prices: UnitPrices,
    *,
    variant: str | None = None,
    segment: str | None = None,
) -> AnalyticsEvent:
    units, cost = decision_cost(record, prices)
    return AnalyticsEvent(
        event_type=EventType.DECISION,
        lender=record.lender_id,
        account_key=key,
        cycle=record.cycle,
        at_utc=record.at_utc,
        rung=record.rung + 1,  # AuditRecord.rung is the 0-based ladder index
        channel=record.channel.value,
        template_id=record.template_id or None,
        template_version=record.template_version or None,
        variant=variant,
        segment=segment,
        decision=record.decision.value,
        reason=record.reason or None,
        units=units,
        cost=cost,
    )


def upload_event(
    lender_id: str,
    key: str,
    at: datetime,
    *,
    amount_due: Decimal,
    currency: str,
    due_date: date,
    cycle: str = "",
    variant: str | None = None,
    segment: str | None = None,
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_type=EventType.UPLOAD,
        lender=lender_id,
        account_key=key,
        cycle=cycle,
        at_utc=at,
        variant=variant,
        segment=segment,
        amount_due=amount_due,
        currency=currency,
        due_date=due_date,
        dpd=(at.date() - due_date).days,
    )


def payment_event(
    lender_id: str, key: str, at: datetime, amount: Decimal, currency: str | None = None
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_type=EventType.PAYMENT,
        lender=lender_id,
        account_key=key,
        at_utc=at,
        amount=amount,
        currency=currency,
    )


def reply_event(
    lender_id: str, key: str, at: datetime, channel: Channel, intent: str
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_type=EventType.REPLY,
        lender=lender_id,
        account_key=key,
        at_utc=at,
        channel=channel.value,
        intent=intent,
    )


def status_event(
    lender_id: str, key: str, at: datetime, status: str, cycle: str = ""
) -> AnalyticsEvent:
    return AnalyticsEvent(
        event_type=EventType.STATUS,
        lender=lender_id,
        account_key=key,
        cycle=cycle,
        at_utc=at,
        status=status,
    )


def delivery_event(
    lender_id: str,
    key: str,
    at: datetime,
    *,
    channel: Channel,
    rung: int,
    status: str,
    cycle: str = "",
) -> AnalyticsEvent:
    """`rung` 1-based; `status` as the ledger keeps it (DELIVERED, FAILED, …)."""
    return AnalyticsEvent(
        event_type=EventType.DELIVERY,
        lender=lender_id,
        account_key=key,
        cycle=cycle,
        at_utc=at,
        rung=rung,
        channel=channel.value,
        status=status,
    )
