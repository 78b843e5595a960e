"""Pacing: send slots reserved ahead, so a sender never exceeds its provider's rate.

An SMS origination number sends at most N messages per second (toll-free 3, 10DLC up to 75,
short code 100) and an SES account at its sending rate. Rather than discover the limit by being
throttled, the send step reserves a slot — a second at which this message may go — when it
sets a rung's `next_at`, and sends only in a slot it holds.

Slots are counted per identity and minute, in `SHARDS` counters (one atomic increment each):
a minute holds `rate × 60` slots, shard `j`'s n-th slot is slot `(n-1) × SHARDS + j` of the
minute, and slot `g` is second `g // rate`. So the seconds of a minute fill evenly and no second
gets more than `rate` messages. A reservation whose count comes back above the shard's capacity
has found the minute full; how far above tells how many are queued before it, so it jumps
straight to the minute where they would end and tries there — a burst of 25,000 reservations
for one instant costs about two increments each, not a scan of full minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.core.backoff import unit_fraction
from functions.core.ports import SendSlots

SHARDS = 10  # counters per identity and minute: a burst spreads over ten items
MAX_JUMPS = 64  # a reservation that has not landed after this many minutes is a defect
KEEP = timedelta(days=2)  # counters outlive their minute by this much (DynamoDB TTL)


@dataclass(frozen=True)
class Pace:
    """A sending identity (an origination number, an SES account) and its rate."""

    identity: str
    per_second: int


class PacingError(RuntimeError):
    """No slot after MAX_JUMPS minutes: the counters disagree with the arithmetic (a defect)."""


def next_minute(at: datetime) -> datetime:
    """`at` if it is a whole minute, else the next whole minute (slots start on minutes)."""
    minute = at.replace(second=0, microsecond=0)
    return minute if minute == at else minute + timedelta(minutes=1)


def reserve(slots: SendSlots, pace: Pace, at: datetime, ladder_key: str) -> datetime:
    """Reserve the first free slot at or after `at` (rounded up to a minute) for one message."""
    shard = int(unit_fraction(ladder_key) * SHARDS)
    per_shard = pace.per_second * 60 // SHARDS
    minute = next_minute(at)
    for _ in range(MAX_JUMPS):
        count = slots.take(f"slot#{pace.identity}#{minute:%Y-%m-%dT%H:%MZ}#{shard}", minute + KEEP)
        if count <= per_shard:
            slot = (count - 1) * SHARDS + shard
            return minute + timedelta(seconds=slot // pace.per_second)
        queued_before = count - per_shard
        minute += timedelta(minutes=-(-queued_before // per_shard))  # ceil
    raise PacingError(f"no send slot for {pace.identity} within {MAX_JUMPS} jumps after {at}")
