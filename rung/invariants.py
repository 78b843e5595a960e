"""The invariants of docs/design.md, checked over a simulation's audit records — independently
of the gate.

The gate decides; these checks only look at what came out (the audit records, the final
accounts and suppressions) and count what must never happen:

- `double_sends`: more than one send for the same (lender, account, cycle, rung, channel);
- `sends_after_opt_out`: a send at or after a suppression that covers its address/channel;
- `sends_in_quiet_hours`: a send outside the allowed local hours of its profile;
- `sends_on_blackout_days`: a send on a local date its profile blocks (a public holiday, a
  blackout weekday or date), in any of the borrower's candidate zones.

A "send" is a record whose provider call was made: SENT, and also UNCERTAIN — an uncertain
attempt may have been delivered, so a second attempt after it is a double send
(docs/user-stories.md, story 5).
The single confirmation after an opt-out (docs/compliance.md) is a reply, not a gate decision, so it
is never an AuditRecord and never counted here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from functions.core.errors import RungError
from functions.core.lender_scope import binding_keys
from functions.core.models import (
    Account,
    AuditRecord,
    Channel,
    Decision,
    Suppression,
    SuppressionScope,
)

DOUBLE_SENDS = "double_sends"
SENDS_AFTER_OPT_OUT = "sends_after_opt_out"
SENDS_IN_QUIET_HOURS = "sends_in_quiet_hours"
SENDS_ON_BLACKOUT_DAYS = "sends_on_blackout_days"
INVARIANTS = (SENDS_IN_QUIET_HOURS, SENDS_ON_BLACKOUT_DAYS, SENDS_AFTER_OPT_OUT, DOUBLE_SENDS)

QuietHoursCheck = Callable[[AuditRecord, Account], bool]
# The blackout day a send fell on, in words ("2026-12-25 Christmas Day in America/New_York"),
# or None when its local dates were all open.
BlackoutCheck = Callable[[AuditRecord, Account], str | None]


class UnknownAccountError(RungError):
    """An audit record names an account the simulation did not return."""


@dataclass(frozen=True)
class Violation:
    """One record that breaks an invariant, with the reason in words."""

    invariant: str
    record: AuditRecord
    detail: str


def _sends(records: Iterable[AuditRecord]) -> list[AuditRecord]:
    # Identity tests: hashing an Enum member runs Python code, and this sees every record.
    return [
        record
        for record in records
        if record.decision is Decision.SENT or record.decision is Decision.UNCERTAIN
    ]


def double_sends(records: Iterable[AuditRecord]) -> list[Violation]:
    """Every send after the first for the same (lender, account, cycle, rung, channel)."""
    first: dict[tuple[str, str, str, int, Channel], AuditRecord] = {}
    violations: list[Violation] = []
    for record in sorted(_sends(records), key=lambda r: r.at_utc):
        key = (record.lender_id, record.account_id, record.cycle, record.rung, record.channel)
        earlier = first.setdefault(key, record)
        if earlier is not record:
            violations.append(
                Violation(
                    DOUBLE_SENDS,
                    record,
                    f"second {record.decision.value} for this rung and channel; first "
                    f"{earlier.decision.value} at {earlier.at_utc.isoformat()}",
                )
            )
    return violations


def _account_index(accounts: Iterable[Account]) -> dict[tuple[str, str], Account]:
    return {(account.lender_id, account.account_id): account for account in accounts}


def _account_of(index: dict[tuple[str, str], Account], record: AuditRecord) -> Account:
    try:
        return index[(record.lender_id, record.account_id)]
    except KeyError as exc:
        raise UnknownAccountError(
            f"audit record for account {record.account_id!r} (lender {record.lender_id!r}) "
            "has no account in the simulation result"
        ) from exc


def _own_keys(account: Account) -> tuple[str, ...]:
    """Suppression keys that bind the account: on its own addresses (sms#+E164,
    email#address), deployment-wide and for its own lender (functions.core.lender_scope)."""
    return binding_keys(account)


def _covers(suppression: Suppression, channel: Channel) -> bool:
    """Does a suppression made on one of the account's addresses forbid `channel`?

    1006.14(h) scopes: ALL covers every channel; CHANNEL and ADDRESS cover their own channel
    (an account holds one address per channel, so for one account the two coincide).
    """
    return suppression.scope is SuppressionScope.ALL or suppression.channel is channel


def sends_after_opt_out(
    records: Iterable[AuditRecord],
    accounts: Iterable[Account],
    suppressions: Iterable[Suppression],
) -> list[Violation]:
    """Sends at or after the instant a covering suppression took effect.

    A suppression concerns an account when it was made on one of the account's own
    addresses. Addresses come from the accounts' final state and suppressions are the final
    ones: a suppression lifted by START is no longer seen, so sends between it and the
    START are not checked here.
    """
    index = _account_index(accounts)
    by_key: dict[str, list[Suppression]] = defaultdict(list)
    for suppression in suppressions:
        by_key[suppression.key].append(suppression)
    own_keys: dict[tuple[str, str], tuple[str, ...]] = {}
    violations: list[Violation] = []
    for record in _sends(records):
        account_key = (record.lender_id, record.account_id)
        if account_key not in own_keys:
            own_keys[account_key] = _own_keys(_account_of(index, record))
        covering = (
            suppression
            for key in own_keys[account_key]
            for suppression in by_key.get(key, ())
            if record.at_utc >= suppression.at and _covers(suppression, record.channel)
        )
        found = next(covering, None)
        if found is not None:
            violations.append(
                Violation(
                    SENDS_AFTER_OPT_OUT,
                    record,
                    f"{found.scope.value}-scope suppression ({found.source.value}) "
                    f"on {found.channel.value} since {found.at.isoformat()}",
                )
            )
    return violations


def sends_in_quiet_hours(
    records: Iterable[AuditRecord],
    accounts: Iterable[Account],
    in_quiet_hours: QuietHoursCheck,
) -> list[Violation]:
    """Sends for which `in_quiet_hours(record, account)` holds (the caller owns the rules)."""
    index = _account_index(accounts)
    return [
        Violation(SENDS_IN_QUIET_HOURS, record, f"sent at local time {record.at_local or '?'}")
        for record in _sends(records)
        if in_quiet_hours(record, _account_of(index, record))
    ]


def sends_on_blackout_days(
    records: Iterable[AuditRecord],
    accounts: Iterable[Account],
    on_blackout_day: BlackoutCheck,
) -> list[Violation]:
    """Sends for which `on_blackout_day(record, account)` names a day (the caller owns the
    calendars)."""
    index = _account_index(accounts)
    violations: list[Violation] = []
    for record in _sends(records):
        day = on_blackout_day(record, _account_of(index, record))
        if day is not None:
            violations.append(Violation(SENDS_ON_BLACKOUT_DAYS, record, f"sent on {day}"))
    return violations


def check_all(
    records: list[AuditRecord],
    accounts: list[Account],
    suppressions: list[Suppression],
    in_quiet_hours: QuietHoursCheck,
    on_blackout_day: BlackoutCheck,
) -> dict[str, list[Violation]]:
    """Every invariant's violations, keyed by invariant name (all empty in a correct run)."""
    records = _sends(records)  # each check filters again; this makes that pass cheap
    return {
        SENDS_IN_QUIET_HOURS: sends_in_quiet_hours(records, accounts, in_quiet_hours),
        SENDS_ON_BLACKOUT_DAYS: sends_on_blackout_days(records, accounts, on_blackout_day),
        SENDS_AFTER_OPT_OUT: sends_after_opt_out(records, accounts, suppressions),
        DOUBLE_SENDS: double_sends(records),
    }
