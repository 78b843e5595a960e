"""What inbound input does to suppressions and ladders, shared by borrower replies
(functions.core.borrower_replies) and provider events (functions.core.provider_events).

docs/compliance.md, Opt-out and consent: an opt-out is honoured before the next send (the
suppression is written here, and the gate reads it before every provider call). Effects are
idempotent and happen first (at-least-once: a failed record is replayed from the DLQ). Pure over
the ports: the caller passes the instants and logs the returned Outcome.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from functions.core.experiments import breach, load_experiments, load_guardrails
from functions.core.ladder import execution_name
from functions.core.lender_scope import binding_suppressions
from functions.core.masking import mask_email, mask_phone
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    InboundDecision,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.policy import suppressed_by
from functions.core.ports import (
    AccountStore,
    ChannelSwitch,
    DecisionLog,
    ExperimentTally,
    InboundLog,
    LadderControl,
    Ledger,
    LenderSource,
    MessageSender,
    ProviderOptOuts,
    ReviewQueue,
    SuppressionStore,
)
from functions.core.replies import Intent, ReplyRules


class FeedbackPorts(Protocol):
    """The ports feedback needs; `functions.bootstrap.Services` provides them all."""

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def suppressions(self) -> SuppressionStore: ...
    @property
    def ladders(self) -> LadderControl: ...
    @property
    def senders(self) -> Mapping[Channel, MessageSender]: ...
    @property
    def provider_opt_outs(self) -> Mapping[Channel, ProviderOptOuts]: ...
    @property
    def inbound(self) -> InboundLog: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def channels(self) -> ChannelSwitch: ...
    @property
    def reviews(self) -> ReviewQueue: ...
    @property
    def decisions(self) -> DecisionLog: ...
    @property
    def experiments(self) -> ExperimentTally: ...
    @property
    def lenders(self) -> LenderSource: ...


class ReplyState(StrEnum):
    SENT = "sent"
    NOT_NEEDED = "not_needed"  # nothing changed (a second STOP), or nothing to answer
    DUPLICATE = "duplicate"  # this inbound message id was handled before
    NO_LENDER = "no_lender"  # no lender config names this number/address: we cannot sign it
    FAILED = "failed"  # the provider refused; the opt-out itself stands


class Outcome(BaseModel):
    """What one inbound record did: logged by the handler, counted as metrics. No PII."""

    model_config = ConfigDict(frozen=True)

    event: str
    addresses: tuple[str, ...] = ()  # masked
    intent: Intent | None = None
    scope: SuppressionScope | None = None
    also: tuple[str, ...] = ()
    matched: str = ""
    rules_version: str = ""
    accounts: int = 0
    suppressed: tuple[str, ...] = ()  # masked suppression keys written
    lifted: tuple[str, ...] = ()
    claimed: tuple[str, ...] = ()  # account keys now PAYMENT_CLAIMED or PROMISE_TO_PAY
    statuses: tuple[str, ...] = ()  # "lender#account:STATUS" set by a legal intent
    review: str = ""  # the review item opened for ops, if any
    ladders_stopped: tuple[str, ...] = ()
    reply: ReplyState = ReplyState.NOT_NEEDED
    note: str = ""
    text_redacted: str = ""  # only for replies we did not understand (ops reads them)
    # "experiment/variant: reason" for each challenger a guardrail stopped just now.
    experiments_stopped: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()


# Only what the borrower said by reply can be lifted by a reply (docs/compliance.md, Opt-out
# and consent: START); bounces, complaints, one-click unsubscribes and wrong-number reports stay.
LIFTABLE = frozenset({SuppressionSource.REPLY})
_PERMANENT = frozenset({SuppressionSource.BOUNCE, SuppressionSource.COMPLAINT})
_SCOPE_RANK = {SuppressionScope.ADDRESS: 0, SuppressionScope.CHANNEL: 1, SuppressionScope.ALL: 2}
_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{4,}\d")
_REDACTED_CHARS = 160


def redact(text: str) -> str:
    """A reply as ops may see it in logs: emails and phone-like digit runs masked
    (docs/compliance.md, Personal data)."""
    masked = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    masked = _PHONE.sub(lambda m: mask_phone("+" + re.sub(r"\D", "", m.group())), masked)
    return masked[:_REDACTED_CHARS]


@dataclass(frozen=True)
class Effects:
    """The configuration both halves share, and the effects both have."""

    ports: FeedbackPorts
    rules: ReplyRules
    config_root: Path
    configuration_set: str | None = None  # the stack's SES configuration set
    # Alarms (SES bounce and complaint rates) whose ALARM state pauses a channel (email).
    pause_alarms: Mapping[str, Channel] = field(default_factory=dict)

    def _stop_all(self, accounts: Sequence[Account], cause: str) -> list[str]:
        """Stop every running ladder of these accounts (a legal stop, whatever is contactable)."""
        stopped = []
        for account in accounts:
            name = execution_name(account.lender_id, account.account_id, account.cycle)
            if self.ports.ladders.stop(name, cause):
                stopped.append(name)
        return stopped

    def _suppress(self, new: Suppression, log: InboundDecision) -> bool:
        """Store `new` unless an equal or stronger suppression is there; True if stored."""
        current = self.ports.suppressions.get(new.channel, new.address, lender_id=new.lender_id)
        stored = current is None
        if current is not None:
            widens = (
                new.source in LIFTABLE
                and current.source in LIFTABLE
                and _SCOPE_RANK[new.scope] > _SCOPE_RANK[current.scope]
            )
            # A bounce/complaint replaces a reply opt-out of the same address so START cannot
            # lift it.
            hardens = (
                new.source in _PERMANENT
                and current.source in LIFTABLE
                and current.scope is SuppressionScope.ADDRESS
            )
            stored = widens or hardens
        if stored:
            self.ports.suppressions.put(new)
            self.ports.decisions.append(
                log.model_copy(
                    update={
                        "event": "suppressed",
                        "detail": f"{new.key} {new.scope.value} {new.source.value}",
                    }
                )
            )
        return stored

    def _tally(self, accounts: Sequence[Account], counter: str) -> tuple[str, ...]:
        """Count an opt-out or a complaint against each account's experiment variant; a
        challenger whose rate now breaches its guardrail stops taking new accounts (they go to
        the champion) and the ExperimentGuardrailBreached metric raises the alarm. Returns
        "experiment/variant: reason" for each variant stopped by this call."""
        stopped = []
        for account in accounts:
            if not account.experiment:
                continue
            tally = self.ports.experiments.add(
                account.lender_id, account.experiment, account.variant, counter
            )
            reason = breach(tally, load_guardrails(self.config_root))
            experiment = load_experiments(self.config_root, account.lender_id).get(
                account.experiment
            )
            if (
                reason
                and experiment is not None
                and account.variant != experiment.champion  # the champion is the fallback
                and self.ports.experiments.stop(
                    account.lender_id, account.experiment, account.variant, reason
                )
            ):
                stopped.append(f"{account.experiment}/{account.variant}: {reason}")
        return tuple(stopped)

    def _contactable(self, account: Account) -> bool:
        """Whether any channel of `account` is still open — judged by the gate's own rule."""
        held = binding_suppressions(self.ports.suppressions, account)
        return any(
            (address := account.address(c)) and suppressed_by(held, c, address) is None
            for c in Channel
        )

    def _stop_uncontactable(self, accounts: Sequence[Account], cause: str) -> list[str]:
        """Stop the ladder of every account with no channel left
        (docs/design.md, Architecture: StopExecution)."""
        stopped = []
        for account in accounts:
            if account.status is AccountStatus.COMPLETED or self._contactable(account):
                continue
            name = execution_name(account.lender_id, account.account_id, account.cycle)
            if self.ports.ladders.stop(name, cause):
                stopped.append(name)
        return stopped
