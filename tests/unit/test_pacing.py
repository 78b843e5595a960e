"""Send slots (functions.core.pacing): no second above the rate, bursts spread, cheap."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.adapters.memory import MemorySendSlots
from functions.core.pacing import Pace, next_minute, reserve

TEN = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def test_a_burst_for_one_instant_is_spread_at_the_rate_and_costs_about_two_writes() -> None:
    # Given 25,000 ladders that all want to text at 10:00 from one toll-free number (3/s)
    slots = MemorySendSlots()
    pace = Pace("sms#+18005550100", 3)

    # When each reserves a slot
    taken = [reserve(slots, pace, TEN, f"demo#A{n}#2026-12-01#0") for n in range(25_000)]

    # Then no second carries more than 3, the first go at 10:00:00, and the last within 6 %
    # of 25,000 / 3 seconds (ladders hash into ten counters, which fill a little unevenly)
    per_second = Counter(taken)
    assert max(per_second.values()) == 3
    assert min(taken) == TEN
    assert max(taken) - TEN < timedelta(seconds=25_000 / 3 * 1.06)
    # ... at about two counter increments per reservation (no scan of full minutes)
    assert sum(slots.counts.values()) < 2.2 * 25_000


@settings(max_examples=60, deadline=None)
@given(
    rate=st.integers(1, 100),
    offsets=st.lists(st.integers(0, 3 * 3600), min_size=1, max_size=400),
)
def test_slots_never_precede_the_request_nor_exceed_the_rate(rate: int, offsets: list[int]) -> None:
    slots = MemorySendSlots()
    pace = Pace("email#ses", rate)
    taken = []
    for n, offset in enumerate(offsets):
        at = TEN + timedelta(seconds=offset)
        slot = reserve(slots, pace, at, f"demo#B{n}#c#1")
        assert slot >= at and slot >= next_minute(at)
        taken.append(slot)
    assert max(Counter(taken).values()) <= rate


def test_identities_are_paced_apart() -> None:
    slots = MemorySendSlots()
    a = [reserve(slots, Pace("sms#+18005550100", 1), TEN, f"k{n}") for n in range(60)]
    b = [reserve(slots, Pace("sms#+18005550199", 1), TEN, f"k{n}") for n in range(60)]
    assert max(Counter(a).values()) == max(Counter(b).values()) == 1
    assert min(b) == TEN  # the second number's slots are its own
