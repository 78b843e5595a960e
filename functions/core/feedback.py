"""What Rung does when a borrower writes back, a link is clicked, or SES reports on an email.

docs/compliance.md, Opt-out and consent: an opt-out is honoured before the next send (the
suppression is written here, and the gate reads it before every provider call); exactly one
confirmation may follow, on the channel the borrower wrote on, even in quiet hours (the exception in
Quiet hours); nothing after.
Effects are idempotent and happen first (at-least-once: a failed record is replayed from the
DLQ), the reply is sent at most once (`InboundLog.first_time` decides which delivery replies).
Pure over the ports: the caller passes the instants and logs the returned Outcome.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Protocol, assert_never

from pydantic import BaseModel, ConfigDict

from functions.core.errors import PermanentSendError, TransientSendError
from functions.core.inbound import (
    CloudWatchAlarm,
    InboundMessage,
    InboundSms,
    ReceivedEmail,
    SesBounceNotification,
    SesComplaintNotification,
    SesDeliveryNotification,
    SesOtherEvent,
    SesReceivedNotification,
    SmsDeliveryEvent,
    read_received,
)
from functions.core.ladder import execution_name
from functions.core.lenders import LenderConfig, load_lender
from functions.core.masking import mask_address, mask_email, mask_phone
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    ChannelPause,
    Suppression,
    SuppressionScope,
    SuppressionSource,
    suppression_key,
)
from functions.core.policy import suppressed_by
from functions.core.ports import (
    AccountStore,
    ChannelSwitch,
    EmailSender,
    InboundLog,
    LadderControl,
    Ledger,
    OutboundEmail,
    OutboundSms,
    SmsSender,
    SuppressionStore,
)
from functions.core.replies import (
    ConfirmationKind,
    Intent,
    ReplyReading,
    ReplyRules,
    read_reply,
    reply_locale,
    strip_quoted,
)
from functions.core.unsubscribe import UnsubscribeClaims


class FeedbackPorts(Protocol):
    """The ports feedback needs; `functions.bootstrap.Services` provides them all."""

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def suppressions(self) -> SuppressionStore: ...
    @property
    def ladders(self) -> LadderControl: ...
    @property
    def sms(self) -> SmsSender: ...
    @property
    def email(self) -> EmailSender: ...
    @property
    def inbound(self) -> InboundLog: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def channels(self) -> ChannelSwitch: ...


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
    accounts: int = 0
    suppressed: tuple[str, ...] = ()  # masked suppression keys written
    lifted: tuple[str, ...] = ()
    claimed: tuple[str, ...] = ()  # account keys now PAYMENT_CLAIMED
    ladders_stopped: tuple[str, ...] = ()
    reply: ReplyState = ReplyState.NOT_NEEDED
    note: str = ""
    text_redacted: str = ""  # only for replies we did not understand (ops reads them)
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Reply:
    """One borrower reply, whatever the channel."""

    channel: Channel
    sender: str  # E.164 or lower-case email: the only address a confirmation may go to
    text: str
    message_id: str
    ours: tuple[str, ...]  # the number / addresses the borrower wrote to
    authenticated: bool = True
    subject: str = ""
    header_message_id: str = ""


# PAYMENT_CLAIMED only replaces ACTIVE: a PAID/DISPUTED/CEASE… account keeps its blocking state.
_CLAIMABLE = frozenset({AccountStatus.ACTIVE})
# Only what the borrower said by reply can be lifted by a reply (docs/compliance.md: START);
# bounces, complaints, one-click unsubscribes and wrong-number reports stay.
_LIFTABLE = frozenset({SuppressionSource.REPLY})
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


def _origin(channel: Channel, address: str) -> str:
    return f"origin={suppression_key(channel, address)}"


@dataclass(frozen=True)
class Feedback:
    ports: FeedbackPorts
    rules: ReplyRules
    config_root: Path
    configuration_set: str | None = None  # the stack's SES configuration set
    # Alarms (SES bounce and complaint rates) whose ALARM state pauses the email channel.
    email_pause_alarms: frozenset[str] = frozenset()

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, message: InboundMessage, *, at: datetime, now: datetime) -> Outcome:
        """`at`: when the message was published (SNS Timestamp); `now`: processing time."""
        match message:
            case InboundSms():
                return self.on_sms(message, at=at, now=now)
            case SesReceivedNotification():
                return self.on_email(read_received(message), at=at, now=now)
            case SesBounceNotification():
                return self.on_bounce(message)
            case SesComplaintNotification():
                return self.on_complaint(message)
            case SesDeliveryNotification():
                receipt = self._receipt(
                    message.mail.messageId, "DELIVERED", message.delivery.timestamp
                )
                return Outcome(
                    event="delivery",
                    addresses=tuple(mask_email(r) for r in message.delivery.recipients),
                    metrics=("EmailDelivered", *receipt),
                )
            case SmsDeliveryEvent():
                # Receipts can take 72 h (docs/design.md, Provider events): noted on the ledger,
                # never waited on.
                status = message.messageStatus or message.eventType
                return Outcome(
                    event="sms_delivery_event",
                    addresses=(mask_phone(message.destinationPhoneNumber),),
                    note=f"{message.eventType} {message.messageStatus}".strip(),
                    metrics=("SmsDeliveryEvent", *self._receipt(message.messageId, status, at)),
                )
            case CloudWatchAlarm():
                return self.on_alarm(message, at=at)
            case SesOtherEvent():
                return Outcome(
                    event="ses_event", note=message.notificationType, metrics=("SesOtherEvent",)
                )
            case _:
                assert_never(message)

    # --- replies ------------------------------------------------------------------------------

    def on_sms(self, sms: InboundSms, *, at: datetime, now: datetime) -> Outcome:
        reply = _Reply(
            channel=Channel.SMS,
            sender=sms.originationNumber,
            text=sms.messageBody,
            message_id=sms.inboundMessageId,
            ours=(sms.destinationNumber,),
        )
        return self._on_reply(reply, at=at, now=now)

    def on_email(self, mail: ReceivedEmail, *, at: datetime, now: datetime) -> Outcome:
        reply = _Reply(
            channel=Channel.EMAIL,
            sender=mail.sender,
            text=strip_quoted(mail.text, self.rules),
            message_id=mail.message_id,
            ours=mail.recipients,
            authenticated=mail.authenticated,
            subject=_SUBJECT_PREFIX.sub("", mail.subject).strip(),
            header_message_id=mail.header_message_id,
        )
        return self._on_reply(reply, at=at, now=now)

    def _read(self, reply: _Reply, existing: Suppression | None) -> ReplyReading:
        opted_out = existing is not None and existing.source in _LIFTABLE
        reading = read_reply(reply.text, self.rules, opted_out=opted_out)
        if reading.intent is Intent.OTHER and reply.subject:
            # An empty body under the subject "Unsubscribe" is a clear request too.
            reading = read_reply(reply.subject, self.rules, opted_out=opted_out)
        if not reply.authenticated and reading.intent in (Intent.OPT_IN, Intent.PAYMENT_CLAIM):
            # A forged From must not re-subscribe or pause someone else; opt-outs still count
            # (failing safe: one address less is harmless).
            return ReplyReading(intent=Intent.OTHER, matched=f"unauthenticated {reading.matched}")
        return reading

    def _on_reply(self, reply: _Reply, *, at: datetime, now: datetime) -> Outcome:
        ports = self.ports
        existing = ports.suppressions.get(reply.channel, reply.sender)
        reading = self._read(reply, existing)
        accounts = sorted(
            ports.accounts.find_by_address(reply.channel, reply.sender), key=lambda a: a.key
        )
        suppressed: list[str] = []
        lifted: list[str] = []
        claimed: list[str] = []
        provider_refused: tuple[str, ...] = ()
        stopped: list[str] = []
        confirm: ConfirmationKind | None = None

        # Effects first, idempotent: a replay from the DLQ must finish what a failure left.
        if reading.intent is Intent.OPT_OUT:
            suppressed = self._opt_out(reply, reading, accounts, at)
            stopped = self._stop_uncontactable(accounts, cause="opt_out")
            if reading.payment_claimed:
                claimed = self._claim(accounts, at)
            if suppressed:
                confirm = (
                    ConfirmationKind.WRONG_NUMBER
                    if reading.wrong_number
                    else ConfirmationKind.OPT_OUT_ALL
                    if reading.scope is SuppressionScope.ALL
                    else ConfirmationKind.OPT_OUT
                )
        elif reading.intent is Intent.PAYMENT_CLAIM:
            claimed = self._claim(accounts, at)
            confirm = ConfirmationKind.PAYMENT_CLAIM if claimed else None
        elif reading.intent is Intent.OPT_IN:
            lifted = self._opt_in(reply, existing, accounts, at)
            confirm = ConfirmationKind.OPT_IN if lifted else None
            # SNS keeps its own opt-out list of numbers that texted STOP; lift it too, or the
            # next send's opt-out check refuses the number (`sns_opted_out`).
            if lifted and reply.channel is Channel.SMS and not ports.sms.opt_in(reply.sender):
                provider_refused = ("SnsOptInRefused",)
        elif reading.intent is Intent.HELP:
            confirm = ConfirmationKind.HELP

        # Then the reply, at most once per inbound message id.
        first = ports.inbound.first_time(reply.message_id, now)
        state = ReplyState.NOT_NEEDED
        if not first:
            state = ReplyState.DUPLICATE
        elif confirm is not None:
            state = self._confirm(reply, confirm, accounts)

        return Outcome(
            event=f"{reply.channel.value}_reply",
            addresses=(mask_address(reply.sender),),
            intent=reading.intent,
            scope=reading.scope,
            also=reading.also,
            matched=reading.matched,
            accounts=len(accounts),
            suppressed=tuple(suppressed),
            lifted=tuple(lifted),
            claimed=tuple(claimed),
            ladders_stopped=tuple(stopped),
            reply=state,
            text_redacted=redact(reply.text or reply.subject)
            if reading.intent is Intent.OTHER
            else "",
            metrics=_reply_metrics(reply.channel, reading, state, stopped, first)
            + provider_refused,
        )

    def _opt_out(
        self, reply: _Reply, reading: ReplyReading, accounts: Sequence[Account], at: datetime
    ) -> list[str]:
        """Write the suppressions the opt-out asks for (1006.14(h) scope); masked keys written."""
        source = SuppressionSource.WRONG_NUMBER if reading.wrong_number else SuppressionSource.REPLY
        scope = reading.scope or SuppressionScope.ADDRESS
        other = reading.channel
        if scope is SuppressionScope.CHANNEL and other is not None and other is not reply.channel:
            # "stop emailing me" by text: the borrower's addresses on that other channel.
            targets = [(other, a.address(other) or "") for a in accounts]
        else:
            targets = [(reply.channel, reply.sender)]
            if scope is SuppressionScope.ALL:
                targets += [
                    (c, a.address(c) or "")
                    for a in accounts
                    for c in Channel
                    if c is not reply.channel
                ]
        written = []
        for channel, address in dict.fromkeys(t for t in targets if t[1]):
            detail = (
                ""
                if (channel, address) == (reply.channel, reply.sender)
                else _origin(reply.channel, reply.sender)
            )
            new = Suppression(
                channel=channel, address=address, scope=scope, source=source, at=at, detail=detail
            )
            if self._suppress(new):
                written.append(mask_address(address))
        return written

    def _suppress(self, new: Suppression) -> bool:
        """Store `new` unless an equal or stronger suppression is there; True if stored."""
        current = self.ports.suppressions.get(new.channel, new.address)
        if current is None:
            self.ports.suppressions.put(new)
            return True
        widens = (
            new.source in _LIFTABLE
            and current.source in _LIFTABLE
            and _SCOPE_RANK[new.scope] > _SCOPE_RANK[current.scope]
        )
        # A bounce/complaint replaces a reply opt-out of the same address so START cannot lift it.
        hardens = (
            new.source in _PERMANENT
            and current.source in _LIFTABLE
            and current.scope is SuppressionScope.ADDRESS
        )
        if widens or hardens:
            self.ports.suppressions.put(new)
            return True
        return False

    def _contactable(self, account: Account) -> bool:
        """Whether any channel of `account` is still open — judged by the gate's own rule."""
        held = tuple(
            s
            for c in Channel
            if (address := account.address(c))
            and (s := self.ports.suppressions.get(c, address)) is not None
        )
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

    def _claim(self, accounts: Sequence[Account], at: datetime) -> list[str]:
        """PAYMENT_CLAIMED: the gate holds the ladder `payment_claim_hold_days`
        (docs/compliance.md)."""
        claimed = []
        for account in accounts:
            if account.status in _CLAIMABLE:
                self.ports.accounts.set_status(
                    account.lender_id, account.account_id, AccountStatus.PAYMENT_CLAIMED, at
                )
                claimed.append(account.key)
        return claimed

    def _opt_in(
        self, reply: _Reply, existing: Suppression | None, accounts: Sequence[Account], at: datetime
    ) -> list[str]:
        """START/UNSTOP lifts this address's reply opt-out and what it spread to other channels.

        A START published before the STOP it would lift (SNS does not keep order) lifts nothing.
        """
        if existing is None or existing.source not in _LIFTABLE or existing.at > at:
            return []
        self.ports.suppressions.delete(reply.channel, reply.sender)
        lifted = [mask_address(reply.sender)]
        origin = _origin(reply.channel, reply.sender)
        for account in accounts:
            for channel in Channel:
                address = account.address(channel)
                if not address or (channel, address) == (reply.channel, reply.sender):
                    continue
                spread = self.ports.suppressions.get(channel, address)
                if spread and spread.source in _LIFTABLE and spread.detail == origin:
                    self.ports.suppressions.delete(channel, address)
                    lifted.append(mask_address(address))
        return lifted

    # --- the one confirmation -----------------------------------------------------------------

    def _lender(self, reply: _Reply, accounts: Sequence[Account]) -> LenderConfig | None:
        """The lender the borrower wrote to: by our number/address, else by their accounts."""
        candidates = sorted({a.lender_id for a in accounts})
        lenders = [load_lender(self.config_root, lender_id) for lender_id in candidates]
        if not lenders:
            lenders = [
                load_lender(self.config_root, path.stem)
                for path in sorted((self.config_root / "config" / "lenders").glob("*.yaml"))
            ]
        for lender in lenders:
            ours = (
                lender.sms_origination
                if reply.channel is Channel.SMS
                else parseaddr(lender.email_from)[1].lower()
            )
            if ours and ours in reply.ours:
                return lender
        return lenders[0] if candidates else None

    def _confirm(
        self, reply: _Reply, kind: ConfirmationKind, accounts: Sequence[Account]
    ) -> ReplyState:
        lender = self._lender(reply, accounts)
        if lender is None:
            return ReplyState.NO_LENDER
        locales = [a.locale for a in accounts if a.lender_id == lender.lender_id]
        locale = reply_locale(reply.text, locales, lender.default_locale)
        texts = self.rules.confirmation(kind, locale)
        values = {"company": lender.company_name, "support": lender.support_contact}
        try:
            # A reply the borrower asked for: no gate (the exception under Quiet hours in
            # docs/compliance.md), and only ever to the address they wrote from, on the channel
            # they used.
            if reply.channel is Channel.SMS:
                self.ports.sms.send_sms(
                    OutboundSms(
                        to=reply.sender,
                        body=texts.sms.substitute(values),
                        origination=reply.ours[0] if reply.ours else lender.sms_origination,
                    )
                )
            else:
                text = texts.email_text.substitute(values)
                threading = (
                    {"In-Reply-To": reply.header_message_id, "References": reply.header_message_id}
                    if reply.header_message_id
                    else {}
                )
                self.ports.email.send_email(
                    OutboundEmail(
                        to=reply.sender,
                        from_address=lender.email_from,
                        subject=texts.email_subject.substitute(values),
                        text=text,
                        html=f"<p>{html.escape(text)}</p>",
                        headers=threading,
                        configuration_set=lender.ses_configuration_set or self.configuration_set,
                    )
                )
        except (TransientSendError, PermanentSendError):
            # The opt-out/claim is already honoured; the confirmation is optional ("may follow")
            # and is not retried, so a replay can never send a second one.
            return ReplyState.FAILED
        return ReplyState.SENT

    # --- delivery feedback and one-click unsubscribe -------------------------------------------

    def _suppress_emails(
        self, addresses: Sequence[str], source: SuppressionSource, at: datetime, detail: str
    ) -> tuple[list[str], list[str]]:
        written, stopped = [], []
        for address in dict.fromkeys(a.lower() for a in addresses):
            new = Suppression(
                channel=Channel.EMAIL,
                address=address,
                scope=SuppressionScope.ADDRESS,
                source=source,
                at=at,
                detail=detail,
            )
            if self._suppress(new):
                written.append(mask_email(address))
            accounts = self.ports.accounts.find_by_address(Channel.EMAIL, address)
            stopped += self._stop_uncontactable(accounts, cause=source.value)
        return written, stopped

    def on_alarm(self, alarm: CloudWatchAlarm, *, at: datetime) -> Outcome:
        """docs/compliance.md, Email reputation: the email channel pauses itself before SES reviews
        or pauses the account. Only a person resumes it (`rung channels resume email`): the rate
        falls while nothing is sent, so an OK state proves nothing."""
        if alarm.NewStateValue != "ALARM" or alarm.AlarmName not in self.email_pause_alarms:
            return Outcome(event="alarm", note=f"{alarm.AlarmName} {alarm.NewStateValue}")
        self.ports.channels.pause(
            ChannelPause(
                channel=Channel.EMAIL, reason=f"alarm:{alarm.AlarmName}", at=at, by="alarm"
            )
        )
        return Outcome(
            event="alarm",
            note=f"email paused by {alarm.AlarmName}",
            metrics=("EmailChannelPaused",),
        )

    def _receipt(self, provider_message_id: str, status: str, at: datetime) -> tuple[str, ...]:
        """Note a delivery receipt on the ledger entry of the send it answers."""
        if self.ports.ledger.record_delivery(provider_message_id, status, at):
            return ("ReceiptMatched",)
        return ("ReceiptUnmatched",)  # not ours, or a confirmation reply (no ledger entry)

    def on_bounce(self, notification: SesBounceNotification) -> Outcome:
        bounce = notification.bounce
        receipt = self._receipt(
            notification.mail.messageId, f"BOUNCE_{bounce.bounceType.upper()}", bounce.timestamp
        )
        addresses = [r.emailAddress for r in bounce.bouncedRecipients]
        masked = tuple(mask_email(a) for a in addresses)
        if bounce.bounceType != "Permanent":
            # Transient / Undetermined: the address may work tomorrow; count it, keep it.
            return Outcome(
                event="bounce",
                addresses=masked,
                note=bounce.bounceType,
                metrics=("BounceTransient", *receipt),
            )
        written, stopped = self._suppress_emails(
            addresses, SuppressionSource.BOUNCE, bounce.timestamp, bounce.bounceSubType
        )
        return Outcome(
            event="bounce",
            addresses=masked,
            note="Permanent",
            suppressed=tuple(written),
            ladders_stopped=tuple(stopped),
            metrics=("BouncePermanent", *receipt) + ("LadderStopped",) * len(stopped),
        )

    def on_complaint(self, notification: SesComplaintNotification) -> Outcome:
        complaint = notification.complaint
        addresses = [r.emailAddress for r in complaint.complainedRecipients]
        written, stopped = self._suppress_emails(
            addresses,
            SuppressionSource.COMPLAINT,
            complaint.timestamp,
            complaint.complaintFeedbackType,
        )
        receipt = self._receipt(notification.mail.messageId, "COMPLAINT", complaint.timestamp)
        return Outcome(
            event="complaint",
            addresses=tuple(mask_email(a) for a in addresses),
            suppressed=tuple(written),
            ladders_stopped=tuple(stopped),
            metrics=("Complaint", *receipt) + ("LadderStopped",) * len(stopped),
        )

    def on_unsubscribe(self, claims: UnsubscribeClaims, *, at: datetime) -> Outcome:
        """RFC 8058 one-click: idempotent — a second click changes nothing and still succeeds."""
        written, stopped = self._suppress_emails(
            [claims.address],
            SuppressionSource.UNSUBSCRIBE,
            at,
            f"lender={claims.lender_id} account={claims.account_id}",
        )
        return Outcome(
            event="unsubscribe",
            addresses=(mask_email(claims.address),),
            suppressed=tuple(written),
            ladders_stopped=tuple(stopped),
            metrics=("Unsubscribe",) + ("LadderStopped",) * len(stopped),
        )


def _reply_metrics(
    channel: Channel, reading: ReplyReading, state: ReplyState, stopped: Sequence[str], first: bool
) -> tuple[str, ...]:
    names = ["InboundSms" if channel is Channel.SMS else "InboundEmail"]
    if not first:
        names.append("DuplicateInbound")
    names.append(
        {
            Intent.OPT_OUT: "ReplyOptOut",
            Intent.OPT_IN: "ReplyOptIn",
            Intent.HELP: "ReplyHelp",
            Intent.PAYMENT_CLAIM: "ReplyPaymentClaim",
            Intent.OTHER: "ReplyOther",
        }[reading.intent]
    )
    if reading.wrong_number:
        names.append("WrongNumber")
    if reading.payment_claimed and reading.intent is Intent.OPT_OUT:
        names.append("ReplyPaymentClaim")
    if state is ReplyState.SENT:
        names.append("ConfirmationSent")
    elif state in (ReplyState.FAILED, ReplyState.NO_LENDER):
        names.append("ConfirmationFailed")
    names += ["LadderStopped"] * len(stopped)
    return tuple(names)
