"""The gate: every rung passes here before any provider call (docs/compliance.md).

Pure: the caller loads suppressions, contact history and the approved template version,
and passes the instant and the profile book. The answer is SEND, DEFER(until) or
SUPPRESS, and says which rule, which profile and which profile version decided.

Order of rules, and why:
1. account status — a blocking status (PAID, CEASE, BANKRUPTCY, …) forbids every message
   whatever else is true, and a payment claim or a promise to pay holds the ladder before
   anything is looked up;
2. address — without the borrower's own address there is nothing to check or send;
3. suppression — an opt-out is the borrower's legal instruction (1006.14(h)); it is terminal,
   so it must win over any reason that would merely wait; a contact preference that excludes
   the channel is terminal too (the borrower said "email only");
4. template approval — only approved content may go out; a rung with none is recorded as
   SUPPRESSED `template_not_approved` rather than deferred towards a send that cannot happen;
5. zones — without any candidate zone no instant can be shown lawful: fail closed;
6. blackout days (public holidays included) / quiet hours (narrowed by the borrower's
   preferred hours, "not after 6pm"), then 7. frequency caps — the time rules. They only ever
   defer, and are solved together: the deferral instant is the earliest one that every time
   rule allows (iterated to a fixed point), so a deferred rung never lands in quiet hours
   or on a full cap. The reported rule is the first one that blocked `now`.
Terminal reasons (1–5) come before time rules so that a rung is never deferred only to be
suppressed later, and so the audit names the most fundamental reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.caps import ContactHistory, first_block
from functions.core.models import (
    BLOCKING_STATUSES,
    Account,
    AccountStatus,
    Channel,
    ContactPreference,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.preferences import binding, describe
from functions.core.profiles import Profile, ProfileBook
from functions.core.quiet_hours import (
    HORIZON,
    SECONDS_PER_DAY,
    LocalWindow,
    blocking_zone,
    next_allowed_in,
    require_aware,
    zone,
)
from functions.core.zones import InvalidLocation

__all__ = [
    "ContactHistory",
    "GateInput",
    "GateResult",
    "Verdict",
    "decide",
    "suppressed_by",
]

# Quiet hours and caps each move the candidate instant forward to a lower bound of the
# answer; real profiles settle in two or three rounds. Past this, fail closed.
MAX_ROUNDS = 64


class Verdict(StrEnum):
    SEND = "SEND"
    DEFER = "DEFER"
    SUPPRESS = "SUPPRESS"


class GateInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: Account
    channel: Channel
    now: datetime
    suppressions: tuple[Suppression, ...] = ()  # on any of the account's addresses
    template_version: str | None = None  # newest APPROVED version; None ⇒ none approved
    history: ContactHistory = Field(default_factory=ContactHistory)
    payment_claim_hold_days: int = Field(default=5, ge=0)  # LenderConfig.payment_claim_hold_days
    is_reply: bool = False  # a reply the borrower asked for (may go out in quiet hours)

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return require_aware(value)


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
    zone: str = ""  # the deciding zone (the blocking one, else the first candidate)
    until_local: str = ""  # DEFER: `until` in the deciding zone, ISO with offset
    detail: str = ""  # human explanation: which limit, which suppression, which window


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


@dataclass(frozen=True, slots=True)
class _Block:
    rule: str
    reason: str
    zone: str | None
    detail: str


def decide(gate: GateInput, profiles: ProfileBook) -> GateResult:
    """SEND, DEFER or SUPPRESS one rung on one channel at `gate.now` (module docstring)."""
    account = gate.account
    now = gate.now
    try:
        profile = profiles.profile_for(account)
        zones, location_error = profiles.atlas.checked(
            account.phone, account.country, account.state, account.postal_code, account.timezone
        )
    except InvalidLocation as exc:
        zones, location_error = (), str(exc)
    if location_error:
        profile = profiles.profiles[profiles.default]

    def result(
        verdict: Verdict,
        rule: str,
        reason: str = "",
        *,
        until: datetime | None = None,
        deciding: str | None = None,
        detail: str = "",
    ) -> GateResult:
        name = deciding or (zones[0] if zones else "")
        return GateResult(
            verdict=verdict,
            reason=reason,
            rule=rule,
            profile=profile.name,
            profile_version=profiles.version,
            until=until,
            local_time=now.astimezone(zone(name)).isoformat() if name else "",
            zones=zones,
            zone=name,
            until_local=until.astimezone(zone(name)).isoformat() if name and until else "",
            detail=detail,
        )

    # 1. Account status (docs/compliance.md, Who may be contacted).
    if account.status in BLOCKING_STATUSES:
        return result(Verdict.SUPPRESS, "account_status", f"status_{account.status.lower()}")
    not_before = now
    if account.status is AccountStatus.PAYMENT_CLAIMED:
        if account.status_changed_at is None:
            # Fail closed: without the claim's time the end of the hold is unknown.
            return result(
                Verdict.SUPPRESS,
                "account_status",
                "status_payment_claimed",
                detail="payment claimed, but the claim time is unknown",
            )
        # Our product choice: hold for the configured days awaiting the payments file; after
        # the hold the ladder resumes (a confirmed payment would have made the account PAID).
        not_before = max(
            now,
            require_aware(account.status_changed_at) + timedelta(days=gate.payment_claim_hold_days),
        )
    hold = "payment_claim_hold"
    if account.status is AccountStatus.PROMISE_TO_PAY:
        if account.hold_until is None:
            return result(
                Verdict.SUPPRESS,
                "account_status",
                "status_promise_to_pay",
                detail="promise to pay, but the end of its hold is unknown",
            )
        # The promised date plus the configured grace, then the ladder resumes.
        not_before, hold = max(now, require_aware(account.hold_until)), "promise_to_pay_hold"
    # 2. The borrower's own address on this channel (1006.6(d): never anyone else's).
    address = account.address(gate.channel)
    if not address:
        return result(Verdict.SUPPRESS, "contact", "no_address")
    # 3. Opt-outs and bounces, by scope (1006.14(h)).
    suppression = suppressed_by(gate.suppressions, gate.channel, address)
    if suppression is not None:
        since = suppression.at.astimezone(UTC)
        # An erased borrower is told apart: no opt-out of theirs is on record any more.
        erased = suppression.source is SuppressionSource.ERASURE
        return result(
            Verdict.SUPPRESS,
            "suppression",
            "erased" if erased else "opted_out",
            detail=f"{suppression.scope.value} suppression from "
            f"{suppression.source.value} at {since:%Y-%m-%dT%H:%M:%SZ}",
        )
    # 3b. Not on this channel: the borrower asked, or the lender file says so (1006.14(h));
    # the borrower's word wins where the two conflict (functions.core.preferences).
    preferences = binding(account.contact_preferences, gate.channel)
    excluded = preferences.excluded_by
    if excluded is not None:
        return result(
            Verdict.SUPPRESS,
            "contact_preference",
            "channel_excluded",
            detail=describe(excluded),
        )
    # 4. Only approved content goes out (docs/design.md, Templates and approval).
    if gate.template_version is None:
        return result(Verdict.SUPPRESS, "template_approval", "template_not_approved")
    # 5. Fail closed without a zone (docs/compliance.md, Quiet hours; user story 2). DEFER is
    # impossible: no instant can be shown to be inside the borrower's window, and waiting adds
    # no data.
    if location_error:
        return result(Verdict.SUPPRESS, "timezone", "invalid_location", detail=location_error)
    if not zones:
        return result(
            Verdict.SUPPRESS,
            "timezone",
            "no_timezone",
            detail="no zone from phone, address or lender timezone",
        )
    # 6–7. Blackout days, quiet hours and caps, solved together.
    until, block = _earliest_allowed(gate, profile, zones, not_before, preferences.hours)
    if until is None:
        first = block or _Block("quiet_hours", "no_allowed_time", None, "")
        return result(
            Verdict.SUPPRESS,
            first.rule,
            "no_allowed_time",
            deciding=first.zone,
            detail=f"no instant within {HORIZON.days} days is allowed in every "
            f"candidate zone ({first.reason})",
        )
    if not_before > now:
        return result(
            Verdict.DEFER,
            "account_status",
            hold,
            until=until,
            detail=f"hold of {gate.payment_claim_hold_days} days after the claim"
            if hold == "payment_claim_hold"
            else f"promised payment, held until {not_before:%Y-%m-%dT%H:%MZ}",
        )
    if block is not None:
        return result(
            Verdict.DEFER,
            block.rule,
            block.reason,
            until=until,
            deciding=block.zone,
            detail=block.detail,
        )
    return result(Verdict.SEND, "allowed")


def _earliest_allowed(
    gate: GateInput,
    profile: Profile,
    zones: tuple[str, ...],
    start: datetime,
    preferred_hours: tuple[ContactPreference, ...],
) -> tuple[datetime | None, _Block | None]:
    """The earliest instant ≥ start that blackout days, quiet hours and every cap allow,
    and the first rule that blocked on the way (None if `start` itself is allowed).
    `preferred_hours`: the borrower's binding hours on the gate's channel."""
    window = profile.local_window
    hours: tuple[ContactPreference, ...] = ()
    if gate.is_reply:
        # Reg F comment 6(b)(1)-2: a reply the borrower asked for may go out in quiet
        # hours. Only the hours are waived; blackout days and caps still apply.
        window = window.whole_day()
    else:
        hours = preferred_hours
        narrowed = preferred_window(window, hours, gate.channel)
        if narrowed is None:
            return None, _Block("contact_preference", "preferred_hours", None, "")
        window = narrowed
    profile_window = profile.local_window
    instant, first = start, None
    for _ in range(MAX_ROUNDS):
        blocked = blocking_zone(instant, zones, window)
        if blocked is not None:
            name, why = blocked
            if first is None:
                local = instant.astimezone(zone(name))
                wall = local.strftime("%a %H:%M")
                blackout = window.blackout(local.date())
                if blackout is not None:
                    # `why` is holiday or blackout_day; the detail names the day.
                    day = f"{local:%Y-%m-%d}"
                    if why == "holiday" and profile.holidays is not None:
                        day += f" {blackout[1]} ({profile.holidays.calendar} holiday)"
                    else:
                        day += f" ({blackout[1]})"
                    first = _Block("blackout", why, name, f"{name} local {wall}; {day}")
                else:
                    rule = "quiet_hours"
                    allowed_hours = f"{profile.window.start:%H:%M}-{profile.window.end:%H:%M}"
                    if profile_window.in_hours(local):
                        # Inside the law's window: only a contact preference blocks.
                        rule, why = "contact_preference", "preferred_hours"
                        allowed_hours = (
                            f"{_hhmm(window.start)}-{_hhmm(window.end)} (contact preferences: "
                            + ", ".join(sorted({describe(p) for p in hours}))
                            + ")"
                        )
                    first = _Block(rule, why, name, f"{name} local {wall}; allowed {allowed_hours}")
            allowed = next_allowed_in(instant, zones, window)
            if allowed is None:
                return None, first
            instant = allowed
        cap = first_block(profile.caps, gate.channel, gate.history, instant, zones)
        if cap is None:
            return instant, first
        if first is None:
            first = _Block(
                "frequency_cap",
                f"cap_{cap.cap.name}",
                cap.zone,
                f"{cap.cap.name}: at most {cap.cap.max} per "
                + (
                    "local day" if cap.cap.period == "local_day" else f"rolling {cap.cap.days} days"
                ),
            )
        instant = cap.free_at
    return None, first


def _seconds(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def preferred_window(
    window: LocalWindow, preferences: tuple[ContactPreference, ...], channel: Channel
) -> LocalWindow | None:
    """The profile's window narrowed by the borrower's hours for `channel` ("not after 6pm",
    "not before 10"); None when nothing of the day is left. Never wider than the law's."""
    start, end = window.start, window.end
    for preference in preferences:
        if preference.channel not in (None, channel):
            continue
        if preference.not_before is not None:
            start = max(start, _seconds(preference.not_before))
        if preference.not_after is not None:
            end = min(end, _seconds(preference.not_after) or SECONDS_PER_DAY)
    if start >= end:
        return None
    if (start, end) == (window.start, window.end):
        return window  # no preference narrows it (the common case): no copy
    return replace(window, start=start, end=end)
