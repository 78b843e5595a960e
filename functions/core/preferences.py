"""Which contact preferences bind a rung: the borrower's own, and the lender file's.

Two sources say when or how a borrower is not to be contacted (Reg F 1006.6(b)(1): a time or
place the collector knows is inconvenient; 1006.14(h): a medium the consumer asked not to be
used): the borrower's replies (`reply`, `review`) and the lender file's optional columns
(`lender_file`). Both bind, and together they are the stricter of the two. Where they
conflict — together they would leave no hour of the day, or no channel at all — the
borrower's word wins and the lender file's is set aside: it is the consumer's own, direct
statement to us, while the lender file repeats what the lender recorded earlier (a daily
re-upload must not undo what the borrower told us yesterday).

Channels are opaque values here: a preference names one, the gate asks about one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from functions.core.models import Channel, ContactPreference

LENDER_FILE = "lender_file"


@dataclass(frozen=True, slots=True)
class Binding:
    """What binds one channel: the preference that rules the channel out (None: allowed),
    and the preferences that narrow its hours."""

    excluded_by: ContactPreference | None
    hours: tuple[ContactPreference, ...]


def binding(preferences: tuple[ContactPreference, ...], channel: Channel) -> Binding:
    """The preferences that bind contact on `channel` (module docstring)."""
    borrower = tuple(p for p in preferences if p.source != LENDER_FILE)
    lender = tuple(p for p in preferences if p.source == LENDER_FILE)
    return Binding(_excluded_by(borrower, lender, channel), _hours(borrower, lender, channel))


def _rules_out(preference: ContactPreference, channel: Channel) -> bool:
    if preference.channel is None:
        return False
    if preference.excluded:
        return preference.channel == channel
    return preference.preferred and preference.channel != channel


def _excluded_by(
    borrower: tuple[ContactPreference, ...],
    lender: tuple[ContactPreference, ...],
    channel: Channel,
) -> ContactPreference | None:
    own = next((p for p in borrower if _rules_out(p, channel)), None)
    if own is not None:
        return own
    by_lender = next((p for p in lender if _rules_out(p, channel)), None)
    if by_lender is None:
        return None
    said = [p for p in borrower if p.channel is not None and (p.excluded or p.preferred)]
    if said and _leaves_nothing(borrower, lender):
        return None  # the borrower's word on channels wins over the lender file's
    return by_lender


def _leaves_nothing(
    borrower: tuple[ContactPreference, ...], lender: tuple[ContactPreference, ...]
) -> bool:
    """Together, would the two sources rule out every channel the borrower left open?"""
    open_to_borrower = [c for c in Channel if not any(_rules_out(p, c) for p in borrower)]
    return bool(open_to_borrower) and all(
        any(_rules_out(p, c) for p in lender) for c in open_to_borrower
    )


def _applies(preference: ContactPreference, channel: Channel) -> bool:
    return preference.channel in (None, channel) and (
        preference.not_before is not None or preference.not_after is not None
    )


def _hours(
    borrower: tuple[ContactPreference, ...],
    lender: tuple[ContactPreference, ...],
    channel: Channel,
) -> tuple[ContactPreference, ...]:
    own = tuple(p for p in borrower if _applies(p, channel))
    by_lender = tuple(p for p in lender if _applies(p, channel))
    if own and by_lender and _span(own + by_lender) is None and _span(own) is not None:
        return own  # the two leave no hour together: the borrower's hours win
    return own + by_lender


def _span(preferences: tuple[ContactPreference, ...]) -> tuple[int, int] | None:
    """The local [start, end) seconds every preference allows, or None if empty."""
    start, end = 0, 86_400
    for preference in preferences:
        if preference.not_before is not None:
            start = max(start, _seconds(preference.not_before.hour, preference.not_before.minute))
        if preference.not_after is not None:
            end = min(
                end, _seconds(preference.not_after.hour, preference.not_after.minute) or 86_400
            )
    return (start, end) if start < end else None


def _seconds(hour: int, minute: int) -> int:
    return hour * 3600 + minute * 60


def describe(preference: ContactPreference) -> str:
    """One line for people: what was said, by whom, when (no addresses)."""
    parts: list[str] = []
    if preference.channel is not None and preference.excluded:
        parts.append(f"no {preference.channel.value}")
    if preference.channel is not None and preference.preferred:
        parts.append(f"only {preference.channel.value}")
    if preference.not_before is not None or preference.not_after is not None:
        start = f"{preference.not_before:%H:%M}" if preference.not_before else "00:00"
        end = f"{preference.not_after:%H:%M}" if preference.not_after else "24:00"
        scope = (
            f" ({preference.channel.value})"
            if preference.channel and not (preference.excluded or preference.preferred)
            else ""
        )
        parts.append(f"hours {start}-{end}{scope}")
    if preference.place:
        parts.append(f"not at {preference.place}")
    said = ", ".join(parts) or "unread preference"
    at = preference.at.astimezone(UTC)
    return f"{said} — {preference.source.replace('_', ' ')}, {at:%Y-%m-%dT%H:%MZ}"
