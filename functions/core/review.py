"""The ops review queue: replies a person must look at, and what a reviewer may decide.

A reply goes to review when Rung did not understand it (`other`), read it with low confidence,
or read a legal intent (attorney, bankruptcy, dispute, cease, deceased, complaint). A legal
intent has already taken effect when the item opens (a stop must not wait for a person); the
reviewer confirms it, corrects the reading (`--as INTENT`), or lifts a legal status (`--as
lift`, with a reason). Nothing lifts a legal status automatically. Every resolution is an
inbound decision in the append-only log, with the reviewer's name. Pure over the ports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from functions.core.errors import RungError
from functions.core.models import (
    CLOSED_STATUSES,
    LEGAL_STATUSES,
    Account,
    AccountStatus,
    Channel,
    InboundDecision,
    ReviewItem,
    ReviewState,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.ports import AccountStore, DecisionLog, ReviewQueue, SuppressionStore
from functions.core.replies import Intent

# The account status each legal intent sets at once (effects in docs/replies.md).
LEGAL_STATUS = {
    Intent.ATTORNEY: AccountStatus.ATTORNEY,
    Intent.BANKRUPTCY: AccountStatus.BANKRUPTCY,
    Intent.DISPUTE: AccountStatus.DISPUTED,
    Intent.CEASE: AccountStatus.CEASE,
    Intent.DECEASED: AccountStatus.DECEASED,
}
# One status field holds one legal status: a later reply replaces it only with a weightier one
# (a dispute after "talk to my attorney" must not make Rung forget the attorney). The lesser
# intent is still logged and reviewed.
LEGAL_RANK = {
    AccountStatus.DISPUTED: 1,
    AccountStatus.CEASE: 2,
    AccountStatus.ATTORNEY: 3,
    AccountStatus.BANKRUPTCY: 4,
    AccountStatus.DECEASED: 5,
}


def outranks(status: AccountStatus, current: AccountStatus) -> bool:
    """Whether a reply may set legal `status` over `current` (closed accounts stay closed)."""
    if current in CLOSED_STATUSES:
        return False
    return LEGAL_RANK[status] > LEGAL_RANK.get(current, 0)


# Intents whose ladder stops at once (a dispute pauses: its rungs are held by the gate).
STOPPING = frozenset({Intent.ATTORNEY, Intent.BANKRUPTCY, Intent.CEASE, Intent.DECEASED})
# Only ACTIVE (or an earlier promise) gives way to a payment claim or a promise: a legal or
# closed status is never replaced by what a reply claims.
CLAIMABLE = frozenset({AccountStatus.ACTIVE, AccountStatus.PROMISE_TO_PAY})

LIFT = "lift"
# What a reviewer may record. Opt-ins, promises and preferences come only from the borrower.
RESOLUTIONS = (
    LIFT,
    Intent.OTHER.value,
    Intent.HELP.value,
    Intent.COMPLAINT.value,
    Intent.OPT_OUT.value,
    Intent.PAYMENT_CLAIM.value,
    *(intent.value for intent in LEGAL_STATUS),
)


class ReviewRefused(RungError):
    """A resolution that cannot be recorded (unknown item, missing reason, unknown intent)."""


class ReviewPorts(Protocol):
    @property
    def accounts(self) -> AccountStore: ...
    @property
    def suppressions(self) -> SuppressionStore: ...
    @property
    def reviews(self) -> ReviewQueue: ...
    @property
    def decisions(self) -> DecisionLog: ...


def review_id(channel: Channel, message_id: str) -> str:
    """One review per inbound message: a redelivery finds the item already open."""
    return f"{channel.value}-{hashlib.sha256(message_id.encode()).hexdigest()[:16]}"


def set_status(
    ports: ReviewPorts,
    account: Account,
    status: AccountStatus,
    at: datetime,
    decision: InboundDecision,
) -> bool:
    """Set `status` on `account` and log it; False if it already held it."""
    if account.status is status:
        return False
    ports.accounts.set_status(account.lender_id, account.account_id, status, at)
    ports.decisions.append(
        decision.model_copy(
            update={
                "event": "status",
                "account": account.key,
                "detail": f"{account.status.value}->{status.value}",
            }
        )
    )
    return True


@dataclass(frozen=True)
class Resolution:
    item: ReviewItem
    changed: tuple[str, ...]  # account keys whose status changed, or the suppression written


def resolve(
    ports: ReviewPorts, rid: str, resolved_as: str, by: str, reason: str, at: datetime
) -> Resolution:
    """Record a reviewer's decision on one open item and apply its effect."""
    if resolved_as not in RESOLUTIONS:
        raise ReviewRefused(f"--as must be one of {', '.join(RESOLUTIONS)}, not {resolved_as!r}")
    if not by.strip():
        raise ReviewRefused("a resolution names the person who decides it (--by NAME)")
    if resolved_as == LIFT and not reason.strip():
        raise ReviewRefused("lifting a legal status needs a reason (--reason TEXT)")
    item = ports.reviews.get(rid)
    if item is None:
        raise ReviewRefused(f"no review item {rid}")
    if item.state is not ReviewState.OPEN:
        raise ReviewRefused(f"review {rid} was resolved already by {item.resolved_by}")
    accounts = [
        account
        for key in item.accounts
        if (account := ports.accounts.get(*key.split("#", 1))) is not None
    ]
    decision = InboundDecision(
        at=at,
        channel=item.channel,
        address=item.address,
        event="review_resolved",
        message_id=item.review_id,
        intent=resolved_as,
        rule=item.rule,
        rules_version=item.rules_version,
        by=by,
        reason=reason,
    )
    changed = _apply(ports, item, resolved_as, accounts, at, decision)
    resolved = item.model_copy(
        update={
            "state": ReviewState.RESOLVED,
            "resolved_as": resolved_as,
            "resolved_by": by,
            "resolved_at": at,
            "reason": reason,
        }
    )
    ports.reviews.resolve(resolved)
    ports.decisions.append(decision.model_copy(update={"detail": ",".join(changed)}))
    return Resolution(resolved, tuple(changed))


def _apply(
    ports: ReviewPorts,
    item: ReviewItem,
    resolved_as: str,
    accounts: Sequence[Account],
    at: datetime,
    decision: InboundDecision,
) -> list[str]:
    if resolved_as == LIFT:
        return [
            a.key
            for a in accounts
            if a.status in LEGAL_STATUSES
            and set_status(ports, a, AccountStatus.ACTIVE, at, decision)
        ]
    intent = Intent(resolved_as)
    if intent in LEGAL_STATUS:
        return [a.key for a in accounts if set_status(ports, a, LEGAL_STATUS[intent], at, decision)]
    if intent is Intent.PAYMENT_CLAIM:
        return [
            a.key
            for a in accounts
            if a.status in CLAIMABLE
            and set_status(ports, a, AccountStatus.PAYMENT_CLAIMED, at, decision)
        ]
    if intent is Intent.OPT_OUT and ports.suppressions.get(item.channel, item.address) is None:
        ports.suppressions.put(
            Suppression(
                channel=item.channel,
                address=item.address,
                scope=SuppressionScope.ADDRESS,
                source=SuppressionSource.REPLY,
                at=at,
                detail=f"review {item.review_id} by {decision.by}",
            )
        )
        ports.decisions.append(decision.model_copy(update={"event": "suppressed"}))
        return [f"{item.channel.value} suppression"]
    return []
