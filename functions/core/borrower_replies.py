"""What Rung does when a borrower writes back, on any channel they can write on: read the
reply (functions.core.replies), take its effects, and send at most one confirmation.

docs/compliance.md, Opt-out and consent: exactly one confirmation may follow an opt-out, on the
channel the borrower wrote on, even in quiet hours (the exception in Quiet hours); nothing after.
The reply is sent at most once (`InboundLog.first_time` decides which delivery replies). The
replies arrive normalised at the edge (functions.optout.aws_events): no AWS shape reaches here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr

from functions.core.channels import BodyRule, spec
from functions.core.errors import PermanentSendError, TransientSendError
from functions.core.inbound_effects import (
    LIFTABLE,
    Effects,
    Outcome,
    ReplyState,
    redact,
)
from functions.core.lender_scope import attributed_lender, load_collector
from functions.core.lenders import LenderConfig, configured_lenders, load_lender
from functions.core.masking import mask_address
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    InboundDecision,
    ReviewItem,
    Suppression,
    SuppressionScope,
    SuppressionSource,
    suppression_key,
)
from functions.core.ports import OutboundMessage
from functions.core.quiet_hours import zone
from functions.core.replies import (
    LEGAL_INTENTS,
    Confidence,
    ConfirmationKind,
    Intent,
    ReplyReading,
    read_reply,
    reply_locale,
)
from functions.core.review import (
    CLAIMABLE,
    LEGAL_STATUS,
    STOPPING,
    outranks,
    review_id,
    set_status,
)

# What an unauthenticated email may not do: re-subscribe or pause someone else's ladder.
_LIFTING = frozenset({Intent.OPT_IN, Intent.PAYMENT_CLAIM, Intent.PROMISE_TO_PAY})


def _origin(channel: Channel, address: str) -> str:
    return f"origin={suppression_key(channel, address)}"


@dataclass(frozen=True)
class Reply:
    """One borrower reply, whatever the channel."""

    channel: Channel
    sender: str  # E.164 or lower-case email: the only address a confirmation may go to
    text: str
    message_id: str
    ours: tuple[str, ...]  # the number / addresses the borrower wrote to
    authenticated: bool = True
    subject: str = ""
    header_message_id: str = ""


def _without(reading: ReplyReading, dropped: Sequence[Intent]) -> ReplyReading:
    """`reading` less the intents an unauthenticated sender may not have."""
    kept = [i for i in reading.intents if i not in dropped]
    if not kept:
        return ReplyReading(
            intent=Intent.OTHER,
            matched=f"unauthenticated {reading.matched}",
            rules_version=reading.rules_version,
            normalised=reading.normalised,
        )
    also = tuple(a for a in reading.also if a not in {i.value for i in dropped})
    return reading.model_copy(
        update={
            "intent": kept[0],
            "also": tuple(a for a in also if a != kept[0].value),
            "matched": reading.matched if kept[0] is reading.intent else f"also:{kept[0].value}",
        }
    )


def _local_date(accounts: Sequence[Account], at: datetime) -> date:
    """The borrower's local date, to read "Friday" in a promise (UTC without a zone)."""
    named = next((a.timezone for a in accounts if a.timezone), None)
    return at.astimezone(zone(named) if named else UTC).date()


class BorrowerReplies(Effects):
    """Reply handling; `functions.core.feedback.Feedback` combines it with provider events."""

    def _read(
        self,
        reply: Reply,
        existing: Sequence[Suppression | None],
        accounts: Sequence[Account],
        at: datetime,
    ) -> ReplyReading:
        opted_out = any(s is not None and s.source in LIFTABLE for s in existing)
        today = _local_date(accounts, at)
        reading = read_reply(reply.text, self.rules, opted_out=opted_out, today=today, at=at)
        if reading.intent is Intent.OTHER and reply.subject:
            # An empty body under the subject "Unsubscribe" is a clear request too.
            reading = read_reply(reply.subject, self.rules, opted_out=opted_out, today=today, at=at)
        lifting = [i for i in reading.intents if i in _LIFTING]
        if not reply.authenticated and lifting:
            # A forged From must not re-subscribe or pause someone else; opt-outs and legal
            # stops still count (failing safe: one address less is harmless).
            return _without(reading, lifting)
        return reading

    def on_reply(self, reply: Reply, *, at: datetime, now: datetime) -> Outcome:
        ports = self.ports
        # Which lender the borrower wrote to (by the number or address reached): under
        # `scope: lender` its opt-outs bind that lender only (functions.core.lender_scope).
        attributed = attributed_lender(
            reply.channel, reply.ours, configured_lenders(self.config_root)
        )
        own = load_collector(self.config_root).opt_out_lender(
            attributed, SuppressionScope.ADDRESS, SuppressionSource.REPLY
        )
        existing = ports.suppressions.get(reply.channel, reply.sender, lender_id=own)
        wide = ports.suppressions.get(reply.channel, reply.sender) if own else existing
        # Every account at this address, whatever its lender: statuses that describe the person
        # (attorney, bankruptcy, cease, deceased, dispute) reach all of them in any scope.
        accounts = sorted(
            ports.accounts.find_by_address(reply.channel, reply.sender), key=lambda a: a.key
        )
        reading = self._read(reply, (existing, wide), accounts, at)
        log = InboundDecision(
            at=at,
            channel=reply.channel,
            address=reply.sender,
            event="read",
            message_id=reply.message_id,
            intent=reading.intent.value,
            rule=reading.matched,
            rules_version=reading.rules_version,
            normalised=reading.normalised,
            detail=",".join(reading.also),
        )
        ports.decisions.append(log)
        suppressed: list[str] = []
        lifted: list[str] = []
        claimed: list[str] = []
        statuses: list[str] = []
        provider_refused: tuple[str, ...] = ()
        stopped: list[str] = []
        confirm: ConfirmationKind | None = None

        # Effects first, idempotent: a replay from the DLQ must finish what a failure left.
        # Every intent of a compound reply takes effect; stops happen before any review.
        for intent in reading.intents:
            if intent in LEGAL_STATUS:
                status = LEGAL_STATUS[intent]
                for account in accounts:
                    if outranks(status, account.status) and set_status(
                        ports, account, status, at, log
                    ):
                        statuses.append(f"{account.key}:{status.value}")
                if intent in STOPPING:
                    stopped += self._stop_all(accounts, cause=intent.value)
        guardrails: tuple[str, ...] = ()
        if reading.says(Intent.OPT_OUT):
            suppressed = self._opt_out(reply, reading, accounts, at, log, attributed)
            stopped += self._stop_uncontactable(accounts, cause="opt_out")
            if suppressed and not reading.wrong_number:
                guardrails += self._tally(accounts, "opt_outs")
            if suppressed:
                confirm = (
                    ConfirmationKind.WRONG_NUMBER
                    if reading.wrong_number
                    else ConfirmationKind.OPT_OUT_ALL
                    if reading.scope is SuppressionScope.ALL
                    else ConfirmationKind.OPT_OUT
                )
        if reading.payment_claimed:
            claimed = self._claim(accounts, at, log)
            if reading.intent is Intent.PAYMENT_CLAIM and claimed:
                confirm = ConfirmationKind.PAYMENT_CLAIM
        elif reading.says(Intent.PROMISE_TO_PAY):
            claimed = self._promise(accounts, reading, at, log)
        if reading.says(Intent.CONTACT_PREFERENCE) and reading.preference is not None:
            self._prefer(accounts, reading, at, log)
        if reading.intent is Intent.OPT_IN:
            lifted = self._opt_in(reply, existing, accounts, at, log)
            confirm = ConfirmationKind.OPT_IN if lifted else None
            # The SMS provider keeps its own opt-out list of numbers that texted STOP; lift it
            # too, or the next text is refused (`sms_opted_out`).
            provider = ports.provider_opt_outs.get(reply.channel)
            if lifted and provider is not None and not provider.opt_in(reply.sender):
                provider_refused = ("SmsOptInRefused",)
        elif reading.intent is Intent.HELP:
            confirm = ConfirmationKind.HELP
        if any(i in LEGAL_INTENTS for i in reading.intents):
            # No message after a legal intent: a represented, bankrupt or deceased borrower,
            # or one who asked us to cease, gets nothing more from us, not even a receipt.
            confirm = None
        review = self._review(reply, reading, accounts, at, log)

        # Then the reply, at most once per inbound message id.
        first = ports.inbound.first_time(reply.message_id, now)
        state = ReplyState.NOT_NEEDED
        if not first:
            state = ReplyState.DUPLICATE
        elif confirm is not None:
            state = self._confirm(reply, confirm, accounts)
        if first and reading.says(Intent.COMPLAINT):
            guardrails += self._tally(accounts, "complaints")

        return Outcome(
            event=f"{reply.channel.value}_reply",
            addresses=(mask_address(reply.sender),),
            intent=reading.intent,
            scope=reading.scope,
            also=reading.also,
            matched=reading.matched,
            rules_version=reading.rules_version,
            accounts=len(accounts),
            suppressed=tuple(suppressed),
            lifted=tuple(lifted),
            claimed=tuple(claimed),
            statuses=tuple(statuses),
            ladders_stopped=tuple(dict.fromkeys(stopped)),
            review=review,
            reply=state,
            text_redacted=redact(reply.text or reply.subject)
            if reading.intent is Intent.OTHER
            else "",
            experiments_stopped=guardrails,
            metrics=_reply_metrics(reply.channel, reading, state, stopped, first, review)
            + provider_refused
            + ("ExperimentGuardrailBreached",) * len(guardrails),
        )

    def _review(
        self,
        reply: Reply,
        reading: ReplyReading,
        accounts: Sequence[Account],
        at: datetime,
        log: InboundDecision,
    ) -> str:
        """Open a review item when a person should look; its id, or "" when none is needed."""
        if reading.intent is Intent.OTHER and not reading.normalised:
            return ""  # an empty message: nothing for a person to read
        if reading.intent is Intent.OTHER:
            why = "other"
        elif any(i in LEGAL_INTENTS for i in reading.intents):
            why = "legal"
        elif reading.confidence is Confidence.LOW:
            why = "low_confidence"
        else:
            return ""
        item = ReviewItem(
            review_id=review_id(reply.channel, reply.message_id),
            at=at,
            channel=reply.channel,
            address=reply.sender,
            text=reply.text or reply.subject,
            intent=reading.intent.value,
            also=reading.also,
            why=why,
            rule=reading.matched,
            rules_version=reading.rules_version,
            normalised=reading.normalised,
            accounts=tuple(a.key for a in accounts),
        )
        if self.ports.reviews.open(item):
            self.ports.decisions.append(
                log.model_copy(update={"event": "review_opened", "detail": item.review_id})
            )
        return item.review_id

    def _promise(
        self,
        accounts: Sequence[Account],
        reading: ReplyReading,
        at: datetime,
        log: InboundDecision,
    ) -> list[str]:
        """PROMISE_TO_PAY: hold until the promised date plus the grace (capped), then resume.
        Without a readable date the hold is the grace alone (and a person reviews it)."""
        rules = self.rules.promise_to_pay
        promised = reading.promised_on or at.date()
        days = min((promised - at.date()).days + rules.grace_days, rules.max_days)
        hold_until = at + timedelta(days=max(days, 0))
        held = []
        for account in accounts:
            if account.status not in CLAIMABLE:
                continue
            self.ports.accounts.set_status(
                account.lender_id,
                account.account_id,
                AccountStatus.PROMISE_TO_PAY,
                at,
                hold_until=hold_until,
            )
            self.ports.decisions.append(
                log.model_copy(
                    update={
                        "event": "promise",
                        "account": account.key,
                        "detail": f"promised {promised.isoformat()} hold until "
                        f"{hold_until:%Y-%m-%dT%H:%MZ}",
                    }
                )
            )
            held.append(account.key)
        return held

    def _prefer(
        self,
        accounts: Sequence[Account],
        reading: ReplyReading,
        at: datetime,
        log: InboundDecision,
    ) -> None:
        preference = reading.preference
        assert preference is not None
        preference = preference.model_copy(update={"at": at})
        for account in accounts:
            if preference in account.contact_preferences:
                continue  # a redelivered reply
            self.ports.accounts.add_preference(account.lender_id, account.account_id, preference)
            self.ports.decisions.append(
                log.model_copy(
                    update={
                        "event": "preference",
                        "account": account.key,
                        "detail": preference.model_dump_json(exclude={"at", "rule", "source"}),
                    }
                )
            )

    def _opt_out(
        self,
        reply: Reply,
        reading: ReplyReading,
        accounts: Sequence[Account],
        at: datetime,
        log: InboundDecision,
        attributed: str | None,
    ) -> list[str]:
        """Write the suppressions the opt-out asks for (1006.14(h) scope); masked keys written.
        They bind every lender, or only the lender written to (functions.core.lender_scope)."""
        source = SuppressionSource.WRONG_NUMBER if reading.wrong_number else SuppressionSource.REPLY
        scope = reading.scope or SuppressionScope.ADDRESS
        lender = load_collector(self.config_root).opt_out_lender(attributed, scope, source)
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
                channel=channel,
                address=address,
                scope=scope,
                source=source,
                at=at,
                detail=detail,
                lender_id=lender,
            )
            if self._suppress(new, log):
                written.append(mask_address(address))
        return written

    def _claim(self, accounts: Sequence[Account], at: datetime, log: InboundDecision) -> list[str]:
        """PAYMENT_CLAIMED: the gate holds the ladder `payment_claim_hold_days`."""
        return [
            account.key
            for account in accounts
            if account.status in CLAIMABLE
            and set_status(self.ports, account, AccountStatus.PAYMENT_CLAIMED, at, log)
        ]

    def _opt_in(
        self,
        reply: Reply,
        existing: Suppression | None,
        accounts: Sequence[Account],
        at: datetime,
        log: InboundDecision,
    ) -> list[str]:
        """START/UNSTOP lifts this address's reply opt-out and what it spread to other channels.

        A START published before the STOP it would lift (SNS does not keep order) lifts nothing.
        The lifted suppression is written whole to the decision log first: its history stays.
        """
        if existing is None or existing.source not in LIFTABLE or existing.at > at:
            return []
        self._lift(existing, log)
        lifted = [mask_address(reply.sender)]
        origin = _origin(reply.channel, reply.sender)
        for account in accounts:
            for channel in Channel:
                address = account.address(channel)
                if not address or (channel, address) == (reply.channel, reply.sender):
                    continue
                spread = self.ports.suppressions.get(channel, address, lender_id=existing.lender_id)
                if spread and spread.source in LIFTABLE and spread.detail == origin:
                    self._lift(spread, log)
                    lifted.append(mask_address(address))
        return lifted

    def _lift(self, suppression: Suppression, log: InboundDecision) -> None:
        self.ports.decisions.append(
            log.model_copy(
                update={
                    "event": "lifted",
                    "detail": suppression.model_dump_json(),
                }
            )
        )
        self.ports.suppressions.delete(
            suppression.channel, suppression.address, lender_id=suppression.lender_id
        )

    def _lender(self, reply: Reply, accounts: Sequence[Account]) -> LenderConfig | None:
        """The lender the borrower wrote to: by our number/address, else by their accounts."""
        candidates = sorted({a.lender_id for a in accounts})
        lenders = [load_lender(self.config_root, lender_id) for lender_id in candidates]
        if not lenders:
            lenders = configured_lenders(self.config_root)
        shape = spec(reply.channel)
        for lender in lenders:
            origination = shape.lender_value(lender, shape.origination_field)
            ours = shape.fold(parseaddr(origination)[1]) if origination else ""
            if ours and ours in reply.ours:
                return lender
        return lenders[0] if candidates else None

    def _confirm(
        self, reply: Reply, kind: ConfirmationKind, accounts: Sequence[Account]
    ) -> ReplyState:
        lender = self._lender(reply, accounts)
        if lender is None:
            return ReplyState.NO_LENDER
        locales = [a.locale for a in accounts if a.lender_id == lender.lender_id]
        locale = reply_locale(reply.text, locales, lender.default_locale)
        texts = self.rules.confirmation(kind, locale)
        values = {"company": lender.company_name, "support": lender.support_contact}
        shape = spec(reply.channel)
        if shape.confirmation_body is None:
            return ReplyState.NOT_NEEDED  # nobody writes back on this channel
        body = texts.part(shape.confirmation_body).substitute(values)
        heading = shape.confirmation_heading
        origination = shape.lender_value(lender, shape.origination_field)
        if shape.answers_from_recipient and reply.ours:
            origination = reply.ours[0]  # the number the borrower wrote to
        field = shape.configuration_set_field
        message = OutboundMessage(
            channel=reply.channel,
            to=reply.sender,
            body=body,
            subject=texts.part(heading).substitute(values) if heading is not None else "",
            html=f"<p>{html.escape(body)}</p>" if shape.body_rule is BodyRule.PARTS else "",
            headers=(
                {"In-Reply-To": reply.header_message_id, "References": reply.header_message_id}
                if reply.header_message_id
                else {}
            ),
            origination=origination,
            configuration_set=(shape.lender_value(lender, field) or self.configuration_set)
            if field
            else None,
        )
        try:
            # A reply the borrower asked for: no gate (the exception under Quiet hours in
            # docs/compliance.md), and only ever to the address they wrote from, on the channel
            # they used.
            self.ports.senders[reply.channel].send(message)
        except (TransientSendError, PermanentSendError):
            # The opt-out/claim is already honoured; the confirmation is optional ("may follow")
            # and is not retried, so a replay can never send a second one.
            return ReplyState.FAILED
        return ReplyState.SENT


def _reply_metrics(
    channel: Channel,
    reading: ReplyReading,
    state: ReplyState,
    stopped: Sequence[str],
    first: bool,
    review: str,
) -> tuple[str, ...]:
    names = [spec(channel).inbound_metric]
    if not first:
        names.append("DuplicateInbound")
    # One metric per intent read, e.g. ReplyOptOut, ReplyAttorney, ReplyPromiseToPay.
    names += ["Reply" + intent.value.title().replace("_", "") for intent in reading.intents]
    if reading.wrong_number:
        names.append("WrongNumber")
    if review:
        names.append("ReviewOpened")
    if state is ReplyState.SENT:
        names.append("ConfirmationSent")
    elif state in (ReplyState.FAILED, ReplyState.NO_LENDER):
        names.append("ConfirmationFailed")
    names += ["LadderStopped"] * len(stopped)
    return tuple(names)
