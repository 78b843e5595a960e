"""The capacity planner: will a lender file's messages fit what the providers allow?

Without sending anything, every accepted account's ladder is laid out from the start instant
(the catch-up policy skips rungs already superseded; a rung due in quiet hours moves to the
next allowed window), and each channel's messages are paced, first due first served, at the
channel's rate — as the send step paces them. A message paced past its allowed window that
day *spills* to a later window. Demand is counted per minute (bucketed by due minute, allowed
window end and rung), so a million accounts plan in the time it takes to read the file.

A borrower's zone is read from the first digits of the number (area code and exchange) and
the address, memoised. What it does not model: blackout days, frequency caps, opt-outs and
payments (they only remove or delay messages, never add one), and the SES daily quota
(reported, not paced).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from functions.core.ladder import Ladder
from functions.core.lenders import LenderConfig
from functions.core.models import Account, Channel
from functions.core.profiles import ProfileBook, Window
from functions.core.zones import candidate_zones

START_EXECUTIONS_PER_SECOND = 300  # StartExecution's refill rate per account and region
OPEN_EXECUTIONS_QUOTA = 1_000_000  # Step Functions' default, per account and region
MAX_RATE_SEARCHED = 10_000  # messages per second: beyond any provider's rate
_MINUTE = 60


@dataclass(frozen=True)
class RungPlan:
    rung: int  # 0-based
    channel: Channel
    template: str
    messages: int
    first_send: datetime | None
    last_send: datetime | None
    spilled: int


@dataclass(frozen=True)
class ChannelPlan:
    channel: Channel
    rate_per_second: int
    messages: int
    peak_demand_per_minute: int
    spilled: int
    rate_to_avoid_spill: int | None  # None: no rate would (messages due outside any window)
    peak_per_day_utc: int


@dataclass
class Demand:
    """Messages bucketed by (due minute, allowed-window end minute, rung) per channel."""

    buckets: dict[Channel, Counter[tuple[int, int, int]]] = field(
        default_factory=lambda: {channel: Counter() for channel in Channel}
    )
    accounts: int = 0

    def add(self, channel: Channel, due: datetime, window_end: datetime, rung: int) -> None:
        key = (_minute(due), _minute(window_end), rung)
        self.buckets[channel][key] += 1


@dataclass(frozen=True)
class Plan:
    accounts: int
    channels: dict[Channel, ChannelPlan]
    rungs: list[RungPlan]
    start_executions_seconds: float
    open_executions: int
    open_executions_quota: int
    peak_lambda_concurrency: int

    @property
    def spilled(self) -> int:
        return sum(plan.spilled for plan in self.channels.values())

    @property
    def fits(self) -> bool:
        return self.spilled == 0 and self.open_executions <= self.open_executions_quota

    def verdict(self) -> str:
        messages = ", ".join(
            f"{plan.messages:,} {plan.channel.value} at {plan.rate_per_second}/s"
            for plan in self.channels.values()
        )
        if self.open_executions > self.open_executions_quota:
            return (
                f"plan: does not fit — {self.open_executions:,} ladders exceed the "
                f"{self.open_executions_quota:,} open executions Step Functions allows"
            )
        if self.fits:
            return f"plan: fits — {messages}; no rung spills to a later window"
        spills = "; ".join(
            f"{plan.spilled:,} {plan.channel.value} rung(s) spill"
            + (
                f" ({plan.rate_to_avoid_spill}/s would avoid it)"
                if plan.rate_to_avoid_spill
                else ""
            )
            for plan in self.channels.values()
            if plan.spilled
        )
        return f"plan: fits only by spilling — {spills}"


def lay_out(
    accounts: Iterable[Account],
    lender: LenderConfig,
    ladder: Ladder,
    book: ProfileBook,
    start: datetime,
    end: datetime,
) -> Demand:
    """Every message the accounts' ladders would send between `start` and `end`."""
    demand = Demand()
    zones: dict[tuple[str | None, ...], tuple[str, Window]] = {}
    for account in accounts:
        demand.accounts += 1
        # A number's zones follow its first digits (area code and exchange in North America):
        # accounts alike in those and in their address share a zone and a profile. Parsing
        # every number again would cost as much as validating the file.
        key = (
            (account.phone or "")[:8],
            account.country,
            account.state,
            account.postal_code,
            account.timezone,
        )
        if key not in zones:
            found = candidate_zones(account, default_region=lender.default_region, atlas=book.atlas)
            zones[key] = (found[0] if found else "UTC", book.profile_for(account).window)
        zone, window = zones[key]
        for index, rung in enumerate(ladder.rungs):
            if not account.address(rung.channel):
                continue
            slot = _rung_slot(ladder, index, account.due_date, zone, window.start, window.end)
            due, expires, window_end = slot
            if expires is not None and expires <= start:
                continue  # superseded before the file arrived (catch-up policy)
            if due < start:
                due, window_end = _in_window(start, zone, window.start, window.end)
            if due >= end:
                continue
            demand.add(rung.channel, due, window_end, index)
    return demand


@lru_cache(maxsize=65_536)
def _rung_slot(
    ladder: Ladder, index: int, due_date: date, zone: str, start: time, end: time
) -> tuple[datetime, datetime | None, datetime]:
    tz = ZoneInfo(zone)
    due = ladder.due_at(index, due_date, tz)
    expires = ladder.expires_at(index, due_date, tz)
    moved, window_end = _in_window(due, zone, start, end)
    return moved, expires, window_end


def _in_window(instant: datetime, zone: str, start: time, end: time) -> tuple[datetime, datetime]:
    """The first allowed instant at or after `instant` in `zone`'s window, and that window's end."""
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    day = local.date()
    if local.time() >= end:
        day += timedelta(days=1)
    opens = datetime.combine(day, start, tzinfo=tz).astimezone(UTC)
    closes = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    return max(instant, opens), closes


def plan(
    demand: Demand,
    ladder: Ladder,
    rates: dict[Channel, int],
) -> Plan:
    channels, rungs = {}, {}
    for channel in Channel:
        if channel not in rates:
            continue  # not paced (push): its provider takes far more than a ladder sends
        buckets = demand.buckets[channel]
        rate = rates[channel]
        served = _pace(buckets, rate)
        spilled = sum(s.spilled for s in served.values())
        channels[channel] = ChannelPlan(
            channel=channel,
            rate_per_second=rate,
            messages=sum(buckets.values()),
            peak_demand_per_minute=_peak_per_minute(buckets),
            spilled=spilled,
            rate_to_avoid_spill=_rate_to_avoid_spill(buckets, rate) if spilled else None,
            peak_per_day_utc=_peak_per_day(buckets),
        )
        for index, outcome in served.items():
            rung = ladder.rungs[index]
            rungs[index] = RungPlan(
                rung=index,
                channel=rung.channel,
                template=rung.template,
                messages=outcome.messages,
                first_send=_instant(outcome.first),
                last_send=_instant(outcome.last),
                spilled=outcome.spilled,
            )
    peak_rate = sum(rates[c] for c in channels if channels[c].messages)
    return Plan(
        accounts=demand.accounts,
        channels=channels,
        rungs=[rungs[index] for index in sorted(rungs)],
        start_executions_seconds=demand.accounts / START_EXECUTIONS_PER_SECOND,
        open_executions=demand.accounts,
        open_executions_quota=OPEN_EXECUTIONS_QUOTA,
        # Paced sends never exceed the rates; a send step takes well under a second.
        peak_lambda_concurrency=peak_rate,
    )


@dataclass
class _Served:
    messages: int = 0
    spilled: int = 0
    first: int | None = None
    last: int | None = None


def _pace(buckets: Counter[tuple[int, int, int]], rate: int) -> dict[int, _Served]:
    """Serve each minute's `60 × rate` sends, earliest due first; messages due in the same
    minute share what is left in proportion (the send step's slots go to whoever asks first,
    in no particular order). Count what is served past its window's end: it spills."""
    capacity = rate * _MINUTE
    pending = sorted(buckets.items())
    queue: deque[list[int]] = deque()  # [due, window end, rung, count], by due
    served: dict[int, _Served] = {}
    position, minute = 0, -1
    while position < len(pending) or queue:
        if not queue:
            minute = max(minute, pending[position][0][0])
        while position < len(pending) and pending[position][0][0] <= minute:
            (due, window_end, rung), count = pending[position]
            queue.append([due, window_end, rung, count])
            position += 1
        room = capacity
        while queue and room:
            group = []
            for item in queue:  # sorted by due: the earliest due minute's buckets lead
                if item[0] != queue[0][0]:
                    break
                group.append(item)
            total = sum(item[3] for item in group)
            if total <= room:
                shares = [item[3] for item in group]
            else:
                shares = [item[3] * room // total for item in group]
                for index in range(room - sum(shares)):
                    shares[index] += 1  # the remainder, one each (each share stays ≤ count)
            for item, share in zip(group, shares, strict=True):
                _serve(served, item, share, minute)
            room -= sum(shares)
            while queue and not queue[0][3]:
                queue.popleft()
        minute += 1
    return served


def _serve(served: dict[int, _Served], item: list[int], count: int, minute: int) -> None:
    outcome = served.setdefault(item[2], _Served())
    outcome.messages += count
    if minute >= item[1]:
        outcome.spilled += count
    outcome.first = minute if outcome.first is None else outcome.first
    outcome.last = minute
    item[3] -= count


def _rate_to_avoid_spill(buckets: Counter[tuple[int, int, int]], rate: int) -> int | None:
    """The lowest rate at which nothing spills (spills only fall as the rate rises)."""
    if any(due >= end for due, end, _ in buckets):
        return None  # due after its window closed: no rate helps
    low, high = rate, rate
    while sum(s.spilled for s in _pace(buckets, high).values()):
        if high >= MAX_RATE_SEARCHED:
            return None
        low, high = high, min(high * 2, MAX_RATE_SEARCHED)
    while low + 1 < high:
        middle = (low + high) // 2
        if sum(s.spilled for s in _pace(buckets, middle).values()):
            low = middle
        else:
            high = middle
    return high


def _peak_per_minute(buckets: Counter[tuple[int, int, int]]) -> int:
    per_minute: Counter[int] = Counter()
    for (due, _, _), count in buckets.items():
        per_minute[due] += count
    return max(per_minute.values(), default=0)


def _peak_per_day(buckets: Counter[tuple[int, int, int]]) -> int:
    per_day: Counter[int] = Counter()
    for (due, _, _), count in buckets.items():
        per_day[due // (24 * 60)] += count
    return max(per_day.values(), default=0)


def _minute(instant: datetime) -> int:
    return math.ceil(instant.timestamp() / _MINUTE)


def _instant(minute: int | None) -> datetime | None:
    return None if minute is None else datetime.fromtimestamp(minute * _MINUTE, tz=UTC)
