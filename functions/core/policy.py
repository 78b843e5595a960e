"""The gate: every rung passes here before any provider call (COMPLIANCE.md).

Pure: the caller loads suppressions, contact history and the approved template version,
and passes the instant. The answer says which rule and which profile version decided.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from functions.core.models import (
    BLOCKING_STATUSES,
    Account,
    AccountStatus,
    Channel,
    Suppression,
    SuppressionScope,
)


class Verdict(StrEnum):
    SEND = "SEND"
    DEFER = "DEFER"
    SUPPRESS = "SUPPRESS"


class ContactHistory(BaseModel):
    """Earlier attempts (SENT or UNCERTAIN), as UTC instants, that frequency caps count."""

    model_config = ConfigDict(frozen=True)

    ladder_channel: tuple[datetime, ...] = ()  # this account ladder, this channel
    ladder_all: tuple[datetime, ...] = ()  # this account ladder, every channel
    address: tuple[datetime, ...] = ()  # this phone/email, across all accounts


class GateInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: Account
    channel: Channel
    now: datetime
    suppressions: tuple[Suppression, ...] = ()  # on any of the account's addresses
    template_version: str | None = None  # newest APPROVED version; None ⇒ none approved
    history: ContactHistory = Field(default_factory=ContactHistory)
    payment_claim_hold_days: int = 5
    is_reply: bool = False  # a reply the borrower asked for (may go out in quiet hours)


class GateResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reason: str = ""
    rule: str = ""
    profile: str = ""
    profile_version: str = ""
    until: datetime | None = None  # DEFER: the earliest instant every rule allows
    local_time: str = ""  # `now` in the deciding zone, ISO with offset
    zones: tuple[str, ...] = ()


def suppressed_by(
    suppressions: tuple[Suppression, ...], channel: Channel, address: str
) -> Suppression | None:
    """The suppression that forbids contacting `address` on `channel`, if any (1006.14(h) scope)."""
    for suppression in suppressions:
        if suppression.scope is SuppressionScope.ALL:
            return suppression
        if suppression.channel is channel and (
            suppression.scope is SuppressionScope.CHANNEL or suppression.key_matches(address)
        ):
            return suppression
    return None


def decide(gate: GateInput) -> GateResult:
    account = gate.account
    if account.status in BLOCKING_STATUSES:
        return GateResult(verdict=Verdict.SUPPRESS, reason=f"status_{account.status.lower()}",
                          rule="account_status")
    if account.status is AccountStatus.PAYMENT_CLAIMED:
        return GateResult(verdict=Verdict.SUPPRESS, reason="payment_claimed", rule="account_status")
    address = account.address(gate.channel)
    if not address:
        return GateResult(verdict=Verdict.SUPPRESS, reason="no_address", rule="contact")
    if suppressed_by(gate.suppressions, gate.channel, address):
        return GateResult(verdict=Verdict.SUPPRESS, reason="opted_out", rule="suppression")
    if gate.template_version is None:
        return GateResult(verdict=Verdict.SUPPRESS, reason="template_not_approved",
                          rule="template_approval")
    return GateResult(verdict=Verdict.SEND, rule="allowed")
