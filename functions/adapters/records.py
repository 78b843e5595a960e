"""How domain models map to stored records: keys, timestamps and the adapters' typed errors.

Shared by the in-memory and the DynamoDB adapters (and free of boto3) so that both build the
same keys and apply the same rules: the contract tests then only have to prove the storage.
"""

from __future__ import annotations

from datetime import UTC, datetime

from functions.core.errors import RungError
from functions.core.models import AuditRecord, Channel, Decision, InboundDecision

# Ledger states that count as a message having (possibly) gone out: UNCERTAIN counts too,
# because an attempt whose outcome is unknown may have reached the borrower
# (docs/compliance.md, Frequency caps).
ATTEMPT_STATES = frozenset({Decision.SENT, Decision.UNCERTAIN})


class RecordNotFound(RungError):
    """An update named a record that does not exist (a programming error, never retried)."""


class ClaimCompleted(RungError):
    """A ledger claim already has an outcome; releasing it would allow a second send."""


class AuditConflict(RungError):
    """A different audit record already holds this key: the audit log is append-only."""


class ReviewClosed(RungError):
    """The review item was resolved already: a resolution is recorded once, by one person."""


class ObjectNotFound(RungError):
    """No object (S3 key or local file) under this key."""


def utc_iso(at: datetime) -> str:
    """Fixed-width ISO 8601 in UTC with offset, so that stored strings sort as instants do.

    Range keys (`attempted_at`, the audit sort key) are compared as strings by DynamoDB;
    a fixed timespec keeps "…00+00:00" and "…00.500000+00:00" from sorting by accident.
    """
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()} cannot be stored: give a timezone")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def ladder_key(lender_id: str, account_id: str, cycle: str) -> str:
    return f"{lender_id}#{account_id}#{cycle}"


def ledger_sort_key(rung: int, channel: Channel) -> str:
    return f"{rung:03d}#{channel.value}"


def audit_partition_key(record: AuditRecord) -> str:
    return ladder_key(record.lender_id, record.account_id, record.cycle)


def audit_sort_key(record: AuditRecord) -> str:
    return (
        f"{utc_iso(record.at_utc)}#{record.rung:03d}#{record.channel.value}#{record.decision.value}"
    )


def decision_sort_key(decision: InboundDecision) -> str:
    """Time first (history reads in order), then what, which message and what was read: one
    key per fact. A redelivered message read differently (an opt-out arrived in between) is a
    second fact, not a conflict."""
    return (
        f"{utc_iso(decision.at)}#{decision.event}#{decision.message_id}#{decision.account}"
        f"#{decision.intent}#{decision.rules_version}#{decision.detail}"
    )
