"""What Rung does with what providers and the stack report: delivery receipts, bounces and
complaints, reputation alarms, and one-click unsubscribes (RFC 8058).

They arrive normalised at the edge (functions.optout.aws_events, functions.optout.unsubscribe)
into the shapes below; no AWS wire format reaches here. Receipts are notes on the ledger, never
a condition for the next rung (docs/design.md, Provider events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from functions.core.channels import spec
from functions.core.inbound_effects import Effects, Outcome
from functions.core.lender_scope import load_collector
from functions.core.masking import mask_address
from functions.core.models import (
    Channel,
    ChannelPause,
    InboundDecision,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.unsubscribe import UnsubscribeClaims


@dataclass(frozen=True)
class Receipt:
    """A provider's delivery report on one message it took."""

    channel: Channel
    provider_message_id: str
    status: str  # e.g. DELIVERED, or the SMS event's message status
    at: datetime
    addresses: tuple[str, ...]
    event: str  # how the outcome names it: delivery, sms_delivery_event
    metric: str  # EmailDelivered, SmsDeliveryEvent
    note: str = ""


@dataclass(frozen=True)
class Refusal:
    """A provider's report that addresses refused a message: a bounce or a complaint."""

    channel: Channel
    addresses: tuple[str, ...]
    source: SuppressionSource  # BOUNCE or COMPLAINT
    permanent: bool  # a permanent bounce or any complaint: the addresses are suppressed
    kind: str  # the bounce type (Permanent, Transient, Undetermined); "" for a complaint
    detail: str  # bounce subtype, complaint feedback type
    at: datetime
    provider_message_id: str
    status: str  # as noted on the ledger: BOUNCE_PERMANENT, COMPLAINT, …


@dataclass(frozen=True)
class AlarmState:
    """A CloudWatch alarm changed state."""

    name: str
    state: str  # ALARM, OK, INSUFFICIENT_DATA


@dataclass(frozen=True)
class OtherEvent:
    """An event only counted (opens, clicks, sends, the SNS subscription notice)."""

    event: str
    note: str
    metric: str


ProviderEvent = Receipt | Refusal | AlarmState | OtherEvent


class ProviderEvents(Effects):
    """Provider events; `functions.core.feedback.Feedback` combines it with borrower replies."""

    def on_receipt(self, receipt: Receipt) -> Outcome:
        return Outcome(
            event=receipt.event,
            addresses=tuple(mask_address(a) for a in receipt.addresses),
            note=receipt.note,
            metrics=(
                receipt.metric,
                *self._receipt(receipt.provider_message_id, receipt.status, receipt.at),
            ),
        )

    def on_refusal(self, refusal: Refusal) -> Outcome:
        """A permanent bounce or a complaint suppresses the addresses and stops the ladders left
        without an open channel; a transient bounce is counted (the address may work tomorrow)."""
        event = refusal.source.value
        metric = (
            "Complaint"
            if refusal.source is SuppressionSource.COMPLAINT
            else "BouncePermanent"
            if refusal.permanent
            else "BounceTransient"
        )
        masked = tuple(mask_address(a) for a in refusal.addresses)
        if not refusal.permanent:
            receipt = self._receipt(refusal.provider_message_id, refusal.status, refusal.at)
            return Outcome(
                event=event, addresses=masked, note=refusal.kind, metrics=(metric, *receipt)
            )
        written, stopped, guardrails = self._suppress_addresses(
            refusal.channel,
            refusal.addresses,
            refusal.source,
            refusal.at,
            refusal.detail,
            refusal.provider_message_id,
        )
        receipt = self._receipt(refusal.provider_message_id, refusal.status, refusal.at)
        return Outcome(
            event=event,
            addresses=masked,
            note=refusal.kind,
            suppressed=tuple(written),
            ladders_stopped=tuple(stopped),
            experiments_stopped=guardrails,
            metrics=(metric, *receipt)
            + ("LadderStopped",) * len(stopped)
            + ("ExperimentGuardrailBreached",) * len(guardrails),
        )

    def on_other(self, other: OtherEvent) -> Outcome:
        return Outcome(event=other.event, note=other.note, metrics=(other.metric,))

    def _suppress_addresses(
        self,
        channel: Channel,
        addresses: Sequence[str],
        source: SuppressionSource,
        at: datetime,
        detail: str,
        message_id: str = "",
        *,
        lender_id: str | None = None,
    ) -> tuple[list[str], list[str], tuple[str, ...]]:
        """Suppress each address; a new complaint counts against the experiment variant of
        the accounts it belongs to (functions.core.experiments, guardrails). Returns the masked
        suppressions written, the ladders stopped and the variants a guardrail stopped."""
        written: list[str] = []
        stopped: list[str] = []
        guardrails: tuple[str, ...] = ()
        for address in dict.fromkeys(spec(channel).fold(a) for a in addresses):
            log = InboundDecision(
                at=at, channel=channel, address=address, event=source.value, message_id=message_id
            )
            new = Suppression(
                channel=channel,
                address=address,
                scope=SuppressionScope.ADDRESS,
                source=source,
                at=at,
                detail=detail,
                lender_id=lender_id,
            )
            fresh = self._suppress(new, log)
            if fresh:
                written.append(mask_address(address))
            accounts = self.ports.accounts.find_by_address(channel, address)
            stopped += self._stop_uncontactable(accounts, cause=source.value)
            if fresh and source is SuppressionSource.COMPLAINT:
                guardrails += self._tally(accounts, "complaints")
        return written, stopped, guardrails

    def on_alarm(self, alarm: AlarmState, *, at: datetime) -> Outcome:
        """docs/compliance.md, Email reputation: the email channel pauses itself before SES reviews
        or pauses the account. Only a person resumes it (`rung channels resume email`): the rate
        falls while nothing is sent, so an OK state proves nothing."""
        channel = self.pause_alarms.get(alarm.name)
        if alarm.state != "ALARM" or channel is None:
            return Outcome(event="alarm", note=f"{alarm.name} {alarm.state}")
        self.ports.channels.pause(
            ChannelPause(channel=channel, reason=f"alarm:{alarm.name}", at=at, by="alarm")
        )
        return Outcome(
            event="alarm",
            note=f"{channel.value} paused by {alarm.name}",
            metrics=(f"{channel.value.title()}ChannelPaused",),
        )

    def _receipt(self, provider_message_id: str, status: str, at: datetime) -> tuple[str, ...]:
        """Note a delivery receipt on the ledger entry of the send it answers."""
        if self.ports.ledger.record_delivery(provider_message_id, status, at):
            return ("ReceiptMatched",)
        return ("ReceiptUnmatched",)  # not ours, or a confirmation reply (no ledger entry)

    def on_unsubscribe(self, claims: UnsubscribeClaims, *, at: datetime) -> Outcome:
        """RFC 8058 one-click: idempotent — a second click changes nothing and still succeeds.
        The signed link names its lender: under `scope: lender` it unsubscribes from that
        lender's emails only (functions.core.lender_scope). One-click unsubscribes are not
        counted against experiments: the public unsubscribe function may not write to the
        accounts table (README, Experiments)."""
        lender = load_collector(self.config_root).opt_out_lender(
            claims.lender_id, SuppressionScope.ADDRESS, SuppressionSource.UNSUBSCRIBE
        )
        written, stopped, _ = self._suppress_addresses(
            Channel(claims.channel),
            [claims.address],
            SuppressionSource.UNSUBSCRIBE,
            at,
            f"lender={claims.lender_id} account={claims.account_id}",
            lender_id=lender,
        )
        return Outcome(
            event="unsubscribe",
            addresses=(mask_address(claims.address),),
            suppressed=tuple(written),
            ladders_stopped=tuple(stopped),
            metrics=("Unsubscribe",) + ("LadderStopped",) * len(stopped),
        )
