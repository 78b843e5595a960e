"""Frequency caps (docs/compliance.md): how many attempts a profile allows per period.

A capped rung is deferred to the instant the cap frees, never skipped
(docs/user-stories.md, story 1). Each `blocked_until` answer is exact: the cap stays closed for
every instant before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from functions.core.models import Channel
from functions.core.quiet_hours import day_start, local_day

HistoryName = Literal["ladder_channel", "ladder_all", "address"]


class ContactHistory(BaseModel):
    """Earlier attempts (SENT or UNCERTAIN), as UTC instants, that frequency caps count."""

    model_config = ConfigDict(frozen=True)

    ladder_channel: tuple[datetime, ...] = ()  # this account ladder, this channel
    ladder_all: tuple[datetime, ...] = ()  # this account ladder, every channel
    address: tuple[datetime, ...] = ()  # this phone/email, across all accounts

    @field_validator("ladder_channel", "ladder_all", "address")
    @classmethod
    def _aware_utc(cls, values: tuple[datetime, ...]) -> tuple[datetime, ...]:
        for value in values:
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"attempt time {value.isoformat()} has no time zone")
        return tuple(sorted(value.astimezone(UTC) for value in values))


class Cap(BaseModel):
    """At most `max` attempts from history `counts` per `period`, for rungs on `channels`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    counts: HistoryName
    period: Literal["local_day", "rolling"]
    days: int = Field(default=1, ge=1, le=31)  # rolling window length; local_day is one day
    max: int = Field(ge=1)
    channels: tuple[Channel, ...] = tuple(Channel)

    @model_validator(mode="after")
    def _one_local_day(self) -> Cap:
        if self.period == "local_day" and self.days != 1:
            raise ValueError(f"cap {self.name}: a local_day cap counts exactly one day")
        return self


@dataclass(frozen=True, slots=True)
class CapBlock:
    cap: Cap
    free_at: datetime  # the earliest instant this cap allows again
    zone: str | None  # the zone whose local day is full (local_day caps)


def blocked_until(
    cap: Cap, attempts: Sequence[datetime], instant: datetime, zones: Sequence[str]
) -> CapBlock | None:
    """None if `cap` allows a send at `instant`; else when it frees."""
    if len(attempts) < cap.max:
        return None  # fewer attempts in all than the cap allows in any one period
    if cap.period == "rolling":
        return _rolling(cap, attempts, instant)
    return _local_day(cap, attempts, instant, zones)


def _rolling(cap: Cap, attempts: Sequence[datetime], instant: datetime) -> CapBlock | None:
    window = timedelta(days=cap.days)
    # Later-dated attempts count too (clock skew between workers): never under-count.
    inside = sorted(attempt for attempt in attempts if attempt > instant - window)
    if len(inside) < cap.max:
        return None
    # The cap frees when enough of the oldest attempts have left the window.
    return CapBlock(cap, inside[len(inside) - cap.max] + window, None)


def _local_day(
    cap: Cap, attempts: Sequence[datetime], instant: datetime, zones: Sequence[str]
) -> CapBlock | None:
    # "Per local day" with several candidate zones: the day is full if it is full in any zone.
    worst: CapBlock | None = None
    for name in zones:
        today, spans = local_day(name, instant)
        used = sum(1 for attempt in attempts for start, end in spans if start <= attempt < end)
        if used >= cap.max:
            block = CapBlock(cap, day_start(name, today + timedelta(days=1)), name)
            if worst is None or block.free_at > worst.free_at:
                worst = block
    return worst


def first_block(
    caps: Sequence[Cap],
    channel: Channel,
    history: ContactHistory,
    instant: datetime,
    zones: Sequence[str],
) -> CapBlock | None:
    """The cap (in profile order) that blocks `instant`, with the latest free time of all
    blocking caps — no instant before it can satisfy every cap."""
    first: CapBlock | None = None
    latest: datetime | None = None
    for cap in caps:
        if channel not in cap.channels:
            continue
        block = blocked_until(cap, getattr(history, cap.counts), instant, zones)
        if block is None:
            continue
        first = first or block
        latest = block.free_at if latest is None else max(latest, block.free_at)
    if first is None or latest is None:
        return None
    return CapBlock(first.cap, latest, first.zone)
