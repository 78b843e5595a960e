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
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from functions.core.channels import BodyRule, Channel, spec
from functions.core.lenders import UnitPrices
from functions.core.models import (
    INBOUND_PREFIX,
    Account,
    AccountStatus,
    AuditRecord,
    Decision,
    InboundDecision,
    LedgerEntry,
)

# Inbound decisions that are a borrower's message (event → intent; None: the intent read in
# it). The effects a reply had (suppressed, status, …) are logged too, and not counted again.
REPLY_INTENTS: dict[str, str | None] = {
    "read": None,  # a reply, read by the rules
    "complaint": "complaint",  # an SES complaint (the borrower marked the email as spam)
    "unsubscribe": "opt_out",  # a one-click unsubscribe link
}
# Payments files arrive under this prefix of the uploads bucket (docs/design.md).
PAYMENTS_KEY_PREFIX = "payments/"


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
    return AnalyticsEvent(**decision_fields(record, key, prices, variant=variant, segment=segment))


def decision_fields(
    record: AuditRecord,
    key: str,
    prices: UnitPrices,
    *,
    variant: str | None = None,
    segment: str | None = None,
) -> dict[str, Any]:
    """A decision event's fields (those it sets; the rest keep `AnalyticsEvent`'s defaults),
    each of its field's type: what `decision_event` validates, and what a simulation writes
    as is (rung.analytics_files)."""
    units, cost = decision_cost(record, prices)
    return {
        "event_type": EventType.DECISION,
        "lender": record.lender_id,
        "account_key": key,
        "cycle": record.cycle,
        "at_utc": record.at_utc,
        "rung": record.rung + 1,  # AuditRecord.rung is the 0-based ladder index
        "channel": record.channel.value,
        "template_id": record.template_id or None,
        "template_version": record.template_version or None,
        "variant": variant,
        "segment": segment,
        "decision": record.decision.value,
        "reason": record.reason or None,
        "units": units,
        "cost": cost,
    }


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
        **upload_fields(
            lender_id,
            key,
            at,
            amount_due=amount_due,
            currency=currency,
            due_date=due_date,
            cycle=cycle,
            variant=variant,
            segment=segment,
        )
    )


def upload_fields(
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
) -> dict[str, Any]:
    """An upload event's fields, as `decision_fields` gives a decision's."""
    return {
        "event_type": EventType.UPLOAD,
        "lender": lender_id,
        "account_key": key,
        "cycle": cycle,
        "at_utc": at,
        "variant": variant,
        "segment": segment,
        "amount_due": amount_due,
        "currency": currency,
        "due_date": due_date,
        "dpd": (at.date() - due_date).days,
    }


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


# -- what a change to a table means (the stack's stream mapping) ---------------------------

Item = dict[str, Any]


class StreamTable(StrEnum):
    """The tables whose changes are the analytics record."""

    ACCOUNTS = "accounts"  # uploads, status changes, payments
    AUDIT = "audit"  # gate decisions and inbound decisions (replies)
    LEDGER = "ledger"  # delivery receipts


def change_events(
    table: StreamTable,
    old: Item | None,
    new: Item | None,
    at: datetime,
    secret: bytes,
    prices: Callable[[str], UnitPrices],
    holders: Callable[[Channel, str], list[tuple[str, str]]],
) -> list[AnalyticsEvent]:
    """The events one table change stands for (none for a removal or an unrelated change).

    `old`/`new`: the item before and after, deserialized; `at`: when the change was made
    (the stream record's time); `prices(lender_id)`: the lender's unit prices;
    `holders(channel, address)`: the (lender, account) pairs an address belongs to. A reply is
    the inbound decision that read it (one per message; the effects it had are not counted
    again), an SES complaint, or a one-click unsubscribe. A payment is
    read from the accounts table: the status became PAID (the whole balance was paid), or the
    upload that last touched the account is a payments file and the balance went down.
    """
    if new is None:
        return []
    if table is StreamTable.AUDIT:
        return _audit_events(new, secret, prices, holders)
    if table is StreamTable.LEDGER:
        return _ledger_events(old, new, secret)
    return _account_events(old, new, at, secret)


def _audit_events(
    new: Item,
    secret: bytes,
    prices: Callable[[str], UnitPrices],
    holders: Callable[[Channel, str], list[tuple[str, str]]],
) -> list[AnalyticsEvent]:
    if str(new.get("pk", "")).startswith(INBOUND_PREFIX):
        decision = InboundDecision.model_validate(new)
        if decision.event not in REPLY_INTENTS:
            return []
        intent = REPLY_INTENTS[decision.event] or decision.intent
        if not intent:
            return []
        return [
            reply_event(
                lender_id,
                account_key(secret, lender_id, account_id),
                decision.at,
                decision.channel,
                intent,
            )
            for lender_id, account_id in holders(decision.channel, decision.address)
        ]
    record = AuditRecord.model_validate(new)
    key = account_key(secret, record.lender_id, record.account_id)
    return [decision_event(record, key, prices(record.lender_id))]


def _ledger_events(old: Item | None, new: Item, secret: bytes) -> list[AnalyticsEvent]:
    entry = LedgerEntry.model_validate(new)
    before = LedgerEntry.model_validate(old) if old else None
    if not entry.delivery or entry.delivery_at is None:
        return []
    if before is not None and before.delivery == entry.delivery:
        return []
    lender_id, account_id, cycle = [*entry.ladder_key.split("#", 2), "", ""][:3]
    return [
        delivery_event(
            lender_id,
            account_key(secret, lender_id, account_id),
            entry.delivery_at,
            channel=entry.channel,
            rung=entry.rung + 1,
            status=entry.delivery,
            cycle=cycle,
        )
    ]


def _account_events(
    old: Item | None, new: Item, at: datetime, secret: bytes
) -> list[AnalyticsEvent]:
    account = Account.model_validate(new)
    key = account_key(secret, account.lender_id, account.account_id)
    if old is None:
        return [
            upload_event(
                account.lender_id,
                key,
                at,
                amount_due=account.amount_due,
                currency=account.currency,
                due_date=account.due_date,
                cycle=account.cycle,
            )
        ]
    before = Account.model_validate(old)
    events = []
    if account.status is not before.status:
        changed = account.status_changed_at or at
        events.append(
            status_event(account.lender_id, key, changed, account.status.value, account.cycle)
        )
    paid_file = (account.upload_key or "").startswith(PAYMENTS_KEY_PREFIX)
    newly_paid = account.status is AccountStatus.PAID and before.status is not AccountStatus.PAID
    if newly_paid:
        amount = before.amount_due  # paid in full: the whole balance
    elif paid_file and account.amount_due < before.amount_due:
        amount = before.amount_due - account.amount_due
    else:
        amount = Decimal(0)
    if amount > 0:
        events.append(payment_event(account.lender_id, key, at, amount, account.currency))
    return events
