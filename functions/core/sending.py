"""One step of a ladder: the send function's whole job, free of boto3.

`RungSender.step(state)` is called by the ladder state machine each time its Wait ends.
It skips rungs the ladder has outgrown (catch-up policy), asks the gate, and then either
waits (DEFERRED or not yet due), records a SUPPRESSED rung, or sends exactly once:

    ledger claim (conditional put)  →  re-check suppressions  →  provider call  →  record

The claim comes *before* the provider call, so a retry, a duplicate invocation or a crash
after the call can never produce a second message: a claim found without an outcome is
UNCERTAIN and is not re-sent (docs/design.md, At most once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from functions.core.backoff import transient_retry_delay
from functions.core.channels import CHANNELS, PacingScope, spec
from functions.core.clock import Clock
from functions.core.erasure import address_pseudonym, erased_suppression
from functions.core.errors import PermanentSendError, TransientSendError, UncertainSendError
from functions.core.experiments import variant_of
from functions.core.ladder import Ladder, LadderState, load_ladder, to_sfn_timestamp
from functions.core.lender_scope import binding_suppressions, load_collector
from functions.core.lenders import LenderConfig
from functions.core.masking import mask_address
from functions.core.models import (
    BLOCKING_STATUSES,
    HOLDING_STATUSES,
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    Decision,
    LedgerEntry,
    Suppression,
    SuppressionSource,
)
from functions.core.pacing import Pace, next_minute, reserve
from functions.core.policy import (
    ContactHistory,
    GateInput,
    Verdict,
    decide,
    suppressed_by,
)
from functions.core.ports import (
    AccountStore,
    AddressLeases,
    AuditLog,
    ChannelSwitch,
    ErasedAddresses,
    Ledger,
    LenderSource,
    MessageSender,
    OutboundMessage,
    SendSlots,
    SuppressionStore,
    TemplateStore,
)
from functions.core.profiles import ProfileBook, load_profiles
from functions.core.render import RenderedMessage, RenderError, build_variables, render_message
from functions.core.templates import MessageTemplate, parse_template
from functions.core.unsubscribe import make_unsubscribe_url
from functions.core.zones import candidate_zones


class SendOptions(Protocol):
    """The settings the send step reads; the send function's settings model provides them."""

    @property
    def config_root(self) -> Path: ...
    @property
    def ses_configuration_set(self) -> str: ...
    @property
    def unsubscribe_url(self) -> str: ...
    @property
    def channel_pause_recheck_hours(self) -> int: ...
    @property
    def sms_per_second(self) -> int | None: ...
    @property
    def email_per_second(self) -> int | None: ...


class SendPorts(Protocol):
    """What the send step needs from `functions.bootstrap.Services` (which satisfies it)."""

    @property
    def settings(self) -> SendOptions: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def accounts(self) -> AccountStore: ...
    @property
    def suppressions(self) -> SuppressionStore: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def templates(self) -> TemplateStore: ...
    @property
    def senders(self) -> Mapping[Channel, MessageSender]: ...
    @property
    def channels(self) -> ChannelSwitch: ...
    @property
    def slots(self) -> SendSlots: ...
    @property
    def leases(self) -> AddressLeases: ...
    @property
    def lenders(self) -> LenderSource: ...
    @property
    def unsubscribe_key(self) -> Callable[[], bytes]:
        """The HMAC key that signs one-click unsubscribe links (fetched only when used)."""
        ...

    @property
    def erased(self) -> ErasedAddresses: ...


# While one send step talks to an address, no other account's send step may (per-address caps
# read the address's history through an eventually consistent index): long enough for the
# index to catch up, short enough that a rung held by it waits only a moment.
ADDRESS_LEASE = timedelta(minutes=1)

# Why a rung waits out a transient fault: the provider or an AWS dependency the send step
# calls failed (TransientSendError), or Lambda / Step Functions did (throttled, timed out).
TRANSIENT_REASONS = frozenset({"provider_unavailable", "service_unavailable"})


_CHANNELS = tuple(Channel)  # iterating the enum itself costs more than the look-ups it feeds

# The fields of an audit record before its decision (`RungSender._bare_record`).
_Fields = dict[str, object]


@dataclass(frozen=True)
class Step:
    """What one invocation did: the state for the next Wait and the decisions it recorded."""

    state: LadderState
    records: list[AuditRecord] = field(default_factory=list)


@dataclass
class RungSender:
    accounts: AccountStore
    suppressions: SuppressionStore
    ledger: Ledger
    audit: AuditLog
    templates: TemplateStore
    senders: Mapping[Channel, MessageSender]  # one provider adapter per channel
    clock: Clock
    profiles: ProfileBook
    config_root: Path
    channels: ChannelSwitch
    pause_recheck: timedelta  # how often a rung held by a paused channel looks again
    slots: SendSlots
    leases: AddressLeases
    # Messages per second per channel where a lender configures none (stack configuration).
    default_rates: Mapping[Channel, int | None]
    # Hashed suppressions of erased borrowers, and the key their pseudonyms are made with
    # (the unsubscribe-link key: functions.core.erasure).
    erased: ErasedAddresses
    pseudonym_key: Callable[[], bytes]
    lenders: LenderSource  # read on use: a lender pushed to the bucket needs no deploy
    # The stack's provider configuration set, for channels whose messages name one (SES).
    ses_configuration_set: str | None = None
    # Builds the signed one-click unsubscribe URL for an account's email (RFC 8058).
    unsubscribe_url: Callable[[Account], str] | None = None

    @classmethod
    def from_services(cls, services: SendPorts) -> RungSender:
        settings = services.settings
        return cls(
            accounts=services.accounts,
            suppressions=services.suppressions,
            ledger=services.ledger,
            audit=services.audit,
            templates=services.templates,
            senders=services.senders,
            clock=services.clock,
            profiles=load_profiles(settings.config_root),
            config_root=settings.config_root,
            ses_configuration_set=settings.ses_configuration_set or None,
            unsubscribe_url=_unsubscribe_links(services) if settings.unsubscribe_url else None,
            channels=services.channels,
            pause_recheck=timedelta(hours=settings.channel_pause_recheck_hours),
            slots=services.slots,
            leases=services.leases,
            default_rates={
                c: getattr(settings, s.rate_field) for c, s in CHANNELS.items() if s.rate_field
            },
            erased=services.erased,
            pseudonym_key=services.unsubscribe_key,
            lenders=services.lenders,
        )

    def step(self, state: LadderState) -> Step:
        now = self.clock.now()
        account = self.accounts.get(state.lender_id, state.account_id)
        if account is None or account.cycle != state.cycle:
            # The account left the file's scope or moved on to a new delinquency (a new
            # cycle runs its own ladder): this ladder has nothing left to do.
            return Step(state.model_copy(update={"done": True}))
        lender = self.lenders.get(account.lender_id)
        ladder = self._ladder(account, lender)
        zone = _scheduling_zone(account, lender)
        records: list[AuditRecord] = []

        index, deferred = self._catch_up(state, account, ladder, zone, now, records)
        if index >= len(ladder.rungs):
            return Step(
                self._advanced(state, len(ladder.rungs), now, ladder, account, zone, lender),
                records,
            )

        due = ladder.due_at(index, account.due_date, zone, state.started_instant)
        if now < due:
            return Step(self._paced(state, index, due, deferred, account, lender, ladder), records)

        rung = ladder.rungs[index]
        attempt = self.ledger.get(account.ladder_key, index, rung.channel)
        if attempt is not None:
            # A repeated invocation (a duplicate delivery, a retry after a crash): this rung
            # was attempted already and is never attempted again (docs/design.md, At most once).
            if attempt.state is Decision.UNCERTAIN:
                records.append(
                    self._uncertain(self._bare_record(account, ladder, index, now, zone))
                )
            return Step(
                self._advanced(state, index + 1, now, ladder, account, zone, lender), records
            )
        pause = self.channels.paused(rung.channel)
        if pause is not None:
            # The whole channel is held (docs/compliance.md, Email reputation): defer, never drop;
            # look again later.
            until = now + self.pause_recheck
            base = self._bare_record(account, ladder, index, now, zone)
            records.append(
                self._append(
                    base,
                    Decision.DEFERRED,
                    "channel_paused",
                    rule="channel_pause",
                    deferred_until=until,
                )
            )
            return Step(_at(state, index, until, True), records)
        template = self._approved_template(
            self._template_id(account, rung.template), rung.channel, account, lender
        )
        book = self.profiles.for_lender(lender)
        gate = decide(
            GateInput(
                account=account,
                channel=rung.channel,
                now=now,
                suppressions=self._suppressions(account),
                template_version=template.version if template else None,
                history=self._history(account, rung.channel, now, history_window(book)),
                payment_claim_hold_days=lender.payment_claim_hold_days,
            ),
            book,
        )
        base = self._bare_record(account, ladder, index, now, zone, at_local=gate.local_time)
        base.update(
            rule=gate.rule,
            profile=gate.profile,
            profile_version=gate.profile_version,
            template_version=template.version if template else "",
        )
        if gate.verdict is Verdict.DEFER:
            assert gate.until is not None
            following = self._paced(state, index, gate.until, True, account, lender, ladder)
            records.append(
                self._append(
                    base, Decision.DEFERRED, gate.reason, deferred_until=following.next_instant
                )
            )
            return Step(following, records)
        if gate.verdict is Verdict.SUPPRESS:
            records.append(self._append(base, Decision.SUPPRESSED, gate.reason))
            return Step(
                self._advanced(state, index + 1, now, ladder, account, zone, lender), records
            )

        assert template is not None  # SEND implies an approved template
        slot = self._slot_now(state, index, account, lender, rung.channel, now)
        if slot is not None:
            # The sender's rate is taken this minute: the rung waits for its reserved slot.
            records.append(
                self._append(
                    base, Decision.DEFERRED, "capacity", rule="pacing", deferred_until=slot
                )
            )
            return Step(_at(state, index, slot, True, slot=slot), records)
        address = account.address(rung.channel) or ""
        owner = f"{account.ladder_key}#{index}"
        if not self.leases.take(lease_key(rung.channel, address), owner, now, now + ADDRESS_LEASE):
            # Another account is sending to this address right now. Its send may not be in
            # the address history yet (an eventually consistent index), so the caps could not
            # count it: wait for the lease to lapse, then the gate decides again.
            until = now + ADDRESS_LEASE
            records.append(
                self._append(
                    base,
                    Decision.DEFERRED,
                    "address_busy",
                    rule="address_lease",
                    deferred_until=until,
                )
            )
            return Step(self._paced(state, index, until, True, account, lender, ladder), records)
        sent = self._send(account, lender, index, rung.channel, template, base, now)
        records.extend([sent] if sent else [])
        return Step(self._advanced(state, index + 1, now, ladder, account, zone, lender), records)

    def defer(self, state: LadderState, error: str) -> Step:
        """The ladder's transient Catch: the rung met a fault that outlasted the ASL's short
        retries (a throttled or failing provider, Lambda, DynamoDB). Nothing was sent — a
        claim taken before the fault was released, or stays UNCERTAIN and is never re-sent —
        so the rung is DEFERRED with a back-off and the ladder goes on. It is tried again until
        the next rung supersedes it (catch-up policy); nothing transient ends a ladder.
        """
        now = self.clock.now()
        account = self.accounts.get(state.lender_id, state.account_id)
        if account is None or account.cycle != state.cycle:
            return Step(state.model_copy(update={"done": True}))
        lender = self.lenders.get(account.lender_id)
        ladder = self._ladder(account, lender)
        zone = _scheduling_zone(account, lender)
        # The failed invocation may have skipped superseded rungs first; replaying that
        # catch-up writes the same records again (a no-op) and finds the rung that failed.
        records: list[AuditRecord] = []
        index, _ = self._catch_up(state, account, ladder, zone, now, records)
        if index >= len(ladder.rungs):
            return Step(
                self._advanced(state, len(ladder.rungs), now, ladder, account, zone, lender),
                records,
            )
        until = now + transient_retry_delay(account.ladder_key, index, state.retries)
        expires = ladder.expires_at(index, account.due_date, zone, state.started_instant)
        if expires is not None:
            until = min(until, expires)  # the next rung's turn: then this one expires
        reason = "provider_unavailable" if error == "TransientSendError" else "service_unavailable"
        records.append(
            self._append(
                self._bare_record(account, ladder, index, now, zone),
                Decision.DEFERRED,
                reason,
                rule=error,
                deferred_until=until,
            )
        )
        following = _at(state, index, until, True)
        return Step(following.model_copy(update={"retries": state.retries + 1}), records)

    # -- sending -------------------------------------------------------------------------

    def _send(
        self,
        account: Account,
        lender: LenderConfig,
        index: int,
        channel: Channel,
        template: MessageTemplate,
        base: _Fields,
        now: datetime,
    ) -> AuditRecord | None:
        address = account.address(channel) or ""
        # One signed one-click link per email, in the body and in the RFC 8058 headers.
        unsubscribe = (
            self.unsubscribe_url(account)
            if spec(channel).unsubscribe_link and self.unsubscribe_url is not None
            else None
        )
        try:
            message = self._render(template, account, lender, unsubscribe, now)
        except RenderError as exc:
            return self._append(base, Decision.SUPPRESSED, f"render_failed:{exc}", rule="render")
        entry = LedgerEntry(
            ladder_key=account.ladder_key,
            rung=index,
            channel=channel,
            attempted_at=now,
            address=address,
        )
        if not self.ledger.claim(entry):
            # Another invocation of this rung (a duplicate delivery) claimed it between our
            # read and our claim. It owns the outcome and records it, even if it is still
            # talking to the provider; should it die, the ladder's retry finds its claim open
            # and records UNCERTAIN. Recording anything here would count a second attempt.
            return None
        # A STOP or a payment may have arrived while this invocation was running: re-read
        # both right before the provider call (user story 4: cancel must really cancel).
        try:
            late_reason = self._late_block(account, channel, address)
        except Exception:
            # A fault before the provider call (a throttled read): nothing went out, so the
            # claim is freed for the retry. Should the release fail too, the claim stays and
            # the rung ends UNCERTAIN — never a second message.
            self.ledger.release(account.ladder_key, index, channel)
            raise
        if late_reason:
            self.ledger.complete(account.ladder_key, index, channel, Decision.SUPPRESSED)
            return self._append(base, Decision.SUPPRESSED, late_reason, rule="recheck")
        try:
            message_id = self._deliver(lender, channel, address, message, unsubscribe)
        except TransientSendError:
            # Throttled or 5xx: the provider did not take the message, so the claim is
            # released and the ladder's Retry tries again with back-off.
            self.ledger.release(account.ladder_key, index, channel)
            raise
        except PermanentSendError as exc:
            self.ledger.complete(account.ladder_key, index, channel, Decision.SUPPRESSED)
            if exc.address_gone:
                # The platform disabled this address (an uninstalled app's push endpoint): no
                # later rung tries it; a new address from the lender file starts afresh.
                self.suppressions.put(
                    Suppression(
                        channel=channel,
                        address=address,
                        source=SuppressionSource.PROVIDER,
                        at=now,
                        detail=exc.reason,
                    )
                )
            return self._append(
                base, Decision.SUPPRESSED, f"provider_rejected:{exc.reason}", rule="provider"
            )
        except UncertainSendError:
            # Completed as UNCERTAIN, so no later release can ever free it for a re-send.
            self.ledger.complete(account.ladder_key, index, channel, Decision.UNCERTAIN)
            return self._append(
                base, Decision.UNCERTAIN, "provider_outcome_unknown", rule="at_most_once"
            )
        self.ledger.complete(account.ladder_key, index, channel, Decision.SENT, message_id)
        return self._append(
            base,
            Decision.SENT,
            "",
            body=message.text,
            segments=message.segments,
            provider_message_id=message_id,
        )

    def _render(
        self,
        template: MessageTemplate,
        account: Account,
        lender: LenderConfig,
        unsubscribe: str | None,
        now: datetime,
    ) -> RenderedMessage:
        variables = build_variables(
            account, lender, unsubscribe_url=unsubscribe, now=now, locale=template.locale
        )
        return render_message(template, variables)

    def _deliver(
        self,
        lender: LenderConfig,
        channel: Channel,
        address: str,
        message: RenderedMessage,
        unsubscribe: str | None,
    ) -> str:
        shape = spec(channel)
        headers: dict[str, str] = {}
        if unsubscribe is not None:
            # RFC 8058 one-click unsubscribe (docs/compliance.md, Opt-out and consent).
            headers = {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        field = shape.configuration_set_field
        return self.senders[channel].send(
            OutboundMessage(
                channel=channel,
                to=address,
                body=message.text,
                subject=message.subject or "",
                html=message.html or "",
                headers=headers,
                origination=shape.lender_value(lender, shape.origination_field),
                configuration_set=(shape.lender_value(lender, field) or self.ses_configuration_set)
                if field
                else None,
            )
        )

    # -- reading -------------------------------------------------------------------------

    def _late_block(self, account: Account, channel: Channel, address: str) -> str:
        fresh = self.accounts.get(account.lender_id, account.account_id) or account
        if fresh.status is not account.status and (
            fresh.status in BLOCKING_STATUSES or fresh.status in HOLDING_STATUSES
        ):
            return f"status_{fresh.status.lower()}"
        if suppressed_by(self._suppressions(fresh), channel, address):
            return "opted_out"
        return ""

    def _approved_template(
        self, template_id: str, channel: Channel, account: Account, lender: LenderConfig
    ) -> MessageTemplate | None:
        """Newest APPROVED version for the borrower's locale, else the lender's default locale."""
        for locale in dict.fromkeys((account.locale, lender.default_locale)):
            version = self.templates.newest_approved(template_id, channel, locale)
            if version is not None:
                return _parsed(template_id, channel, locale, version.source, version.version)
        return None

    def _suppressions(self, account: Account) -> tuple[Suppression, ...]:
        found = list(binding_suppressions(self.suppressions, account))
        for channel in _CHANNELS:
            address = account.address(channel)
            if address:
                # An erased borrower's address is known only by its keyed hash; sent again by
                # a lender, it is still never contacted (docs/compliance.md, Records and erasure).
                pseudonym = address_pseudonym(self.pseudonym_key(), channel, address)
                mark = self.erased.get(pseudonym)
                if mark is not None:
                    found.append(erased_suppression(mark, channel, address))
        return tuple(found)

    def _history(
        self, account: Account, channel: Channel, now: datetime, window: timedelta
    ) -> ContactHistory:
        since = now - window
        address = account.address(channel)
        # Per-address caps count every lender's attempts, or only this lender's under
        # `scope: lender` (functions.core.lender_scope).
        lender = load_collector(self.config_root).cap_lender(account)
        return ContactHistory(
            ladder_channel=tuple(
                self.ledger.sent_for_ladder_since(account.ladder_key, channel, since)
            ),
            ladder_all=tuple(self.ledger.sent_for_ladder_since(account.ladder_key, None, since)),
            address=tuple(self.ledger.sent_to_address_since(address, since, lender_id=lender))
            if address
            else (),
        )

    # -- recording -----------------------------------------------------------------------

    def _bare_record(
        self,
        account: Account,
        ladder: Ladder,
        index: int,
        now: datetime,
        zone: ZoneInfo,
        *,
        at_local: str | None = None,
    ) -> _Fields:
        """The fields every record of rung `index` at `now` has; `_append` adds the decision
        and builds the record once. `at_local`: as the gate spoke, else in the scheduling
        zone."""
        rung = ladder.rungs[index]
        return {
            "lender_id": account.lender_id,
            "account_id": account.account_id,
            "cycle": account.cycle,
            "rung": index,
            "channel": rung.channel,
            "template_id": self._template_id(account, rung.template),
            "at_utc": now,
            "at_local": now.astimezone(zone).isoformat() if at_local is None else at_local,
            "address_masked": mask_address(account.address(rung.channel)),
            "experiment": account.experiment,
            "variant": account.variant,
        }

    # -- experiments ---------------------------------------------------------------------

    def _ladder(self, account: Account, lender: LenderConfig) -> Ladder:
        """The lender's ladder, or the one the account's experiment variant uses."""
        variant = variant_of(
            self.config_root, account.lender_id, account.experiment, account.variant
        )
        return load_ladder(
            self.config_root, variant.ladder if variant and variant.ladder else lender.ladder
        )

    def _template_id(self, account: Account, template_id: str) -> str:
        """The rung's template, or the one the account's variant puts in its place. Either way
        it must be approved: the gate below is the same for every variant."""
        variant = variant_of(
            self.config_root, account.lender_id, account.experiment, account.variant
        )
        return variant.templates.get(template_id, template_id) if variant else template_id

    def _catch_up(
        self,
        state: LadderState,
        account: Account,
        ladder: Ladder,
        zone: ZoneInfo,
        now: datetime,
        records: list[AuditRecord],
    ) -> tuple[int, bool]:
        """Catch-up policy (docs/design.md): never burst missed rungs; the newest due rung wins.

        Each superseded rung is recorded SUPPRESSED at the instant the ladder woke for it
        (`next_at`, not the invocation's own time), so a retried invocation of the same state
        replays identical records — the audit log keeps one. Returns (rung, deferred).
        """
        index, deferred = state.rung, state.deferred
        woke = min(now, state.next_instant)
        started = state.started_instant
        while index < len(ladder.rungs):
            expires = ladder.expires_at(index, account.due_date, zone, started)
            if expires is None or now < expires:
                break
            reason = "expired_after_deferral" if deferred else "missed_before_upload"
            records.append(
                self._append(
                    self._bare_record(account, ladder, index, woke, zone),
                    Decision.SUPPRESSED,
                    reason,
                    rule="catch_up",
                )
            )
            index, deferred = index + 1, False
        return index, deferred

    def _uncertain(self, base: _Fields) -> AuditRecord:
        """Claimed but never completed: the attempt may have reached the borrower. Never
        re-sent automatically; the UncertainSends alarm asks ops to reconcile
        (docs/design.md, At most once)."""
        return self._append(
            base, Decision.UNCERTAIN, "earlier_attempt_outcome_unknown", rule="at_most_once"
        )

    def _append(
        self, base: _Fields, decision: Decision, reason: str, **update: object
    ) -> AuditRecord:
        record = AuditRecord.model_validate(
            {**base, "decision": decision, "reason": reason, **update}
        )
        self.audit.append(record)
        return record

    # -- pacing --------------------------------------------------------------------------

    def _pace(self, lender: LenderConfig, channel: Channel) -> Pace | None:
        """The sending identity of `channel` and its rate; None when no rate is configured."""
        shape = spec(channel)
        if shape.rate_field is None:
            return None
        rate = getattr(lender.send_rates, shape.rate_field) or self.default_rates.get(channel)
        if shape.pacing is PacingScope.ORIGINATION:
            own = shape.lender_value(lender, shape.origination_field)
            identity = f"{channel.value}#{own or lender.lender_id}"
        else:
            identity = f"{channel.value}#{shape.provider}"  # one account per deployment, region
        return Pace(identity, rate) if rate else None

    def _paced(
        self,
        state: LadderState,
        index: int,
        instant: datetime,
        deferred: bool,
        account: Account,
        lender: LenderConfig,
        ladder: Ladder,
    ) -> LadderState:
        """Wait for rung `index` of `ladder` until `instant` — or the first send slot after it,
        reserved now, when its channel is paced. A slot pushed past the rung's own minute
        counts as a deferral (the catch-up policy then says `expired_after_deferral`)."""
        pace = self._pace(lender, ladder.rungs[index].channel)
        if pace is None:
            return _at(state, index, instant, deferred)
        slot = reserve(self.slots, pace, instant, f"{account.ladder_key}#{index}")
        late = slot >= next_minute(instant) + timedelta(minutes=1)
        return _at(state, index, slot, deferred or late, slot=slot)

    def _slot_now(
        self,
        state: LadderState,
        index: int,
        account: Account,
        lender: LenderConfig,
        channel: Channel,
        now: datetime,
    ) -> datetime | None:
        """None when rung `index` may go out now: unpaced, or holding a slot for this minute,
        or a slot reserved now is already due. Otherwise the later slot it reserved."""
        pace = self._pace(lender, channel)
        if pace is None:
            return None
        held = state.slot_instant
        if state.rung == index and held is not None and held <= now < held + timedelta(minutes=1):
            return None
        slot = reserve(self.slots, pace, now, f"{account.ladder_key}#{index}")
        return slot if slot > now else None

    def _advanced(
        self,
        state: LadderState,
        index: int,
        now: datetime,
        ladder: Ladder,
        account: Account,
        zone: ZoneInfo,
        lender: LenderConfig,
    ) -> LadderState:
        if index >= len(ladder.rungs):
            if account.status is AccountStatus.ACTIVE:
                # Every rung is decided: the account closes, and its data is deleted after the
                # configured retention (docs/compliance.md, Personal data).
                self.accounts.set_status(
                    account.lender_id, account.account_id, AccountStatus.COMPLETED, now
                )
            return state.model_copy(
                update={
                    "rung": len(ladder.rungs),
                    "next_at": to_sfn_timestamp(now),
                    "done": True,
                    "deferred": False,
                    "retries": 0,
                    "slot": None,
                }
            )
        due = ladder.due_at(index, account.due_date, zone, state.started_instant)
        return self._paced(state, index, max(now, due), False, account, lender, ladder)


def _at(
    state: LadderState,
    index: int,
    instant: datetime,
    deferred: bool,
    *,
    slot: datetime | None = None,
) -> LadderState:
    return state.model_copy(
        update={
            "rung": index,
            "next_at": to_sfn_timestamp(instant),
            "done": False,
            "deferred": deferred,
            "retries": state.retries if index == state.rung else 0,
            "slot": to_sfn_timestamp(slot) if slot is not None else None,
        }
    )


def lease_key(channel: Channel, address: str) -> str:
    """One lease per address, whatever its case (emails match case-insensitively)."""
    return f"lease#{channel.value}#{spec(channel).fold(address)}"


def _scheduling_zone(account: Account, lender: LenderConfig) -> ZoneInfo:
    """The zone a rung's preferred local time is read in; the gate still checks every zone."""
    zones = candidate_zones(account, default_region=lender.default_region)
    return ZoneInfo(zones[0]) if zones else ZoneInfo("UTC")


def _unsubscribe_links(services: SendPorts) -> Callable[[Account], str]:
    """Signed one-click unsubscribe links (RFC 8058) for an account's email address."""

    def link(account: Account) -> str:
        return make_unsubscribe_url(
            services.settings.unsubscribe_url,
            services.unsubscribe_key(),
            address=account.email or "",
            lender_id=account.lender_id,
            account_id=account.account_id,
            issued_at=services.clock.now(),
        )

    return link


@lru_cache(maxsize=512)
def _parsed(
    template_id: str, channel: Channel, locale: str, source: str, version: str
) -> MessageTemplate:
    """Templates are content-addressed: one parse per version serves every later send."""
    return parse_template(template_id, channel, locale, source, version)


def history_window(book: ProfileBook) -> timedelta:
    """How far back the caps of `book` count (docs/compliance.md, Frequency caps): their longest
    rolling window — a lender override may lengthen one — plus a day for local-day edges in any
    zone."""
    return timedelta(days=book.longest_cap_days + 1)
