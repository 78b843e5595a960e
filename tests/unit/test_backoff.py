"""Transient back-off (functions.core.backoff): bounded, growing, jittered, reproducible."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from functions.core.backoff import (
    TRANSIENT_RETRY_FIRST,
    TRANSIENT_RETRY_LONGEST,
    transient_retry_delay,
)


@given(key=st.text(max_size=40), rung=st.integers(0, 20), attempt=st.integers(0, 10_000))
def test_delay_is_between_half_and_all_of_its_capped_step(
    key: str, rung: int, attempt: int
) -> None:
    step = min(TRANSIENT_RETRY_FIRST * 2 ** min(attempt, 16), TRANSIENT_RETRY_LONGEST)
    delay = transient_retry_delay(key, rung, attempt)
    assert step / 2 - timedelta(seconds=1) <= delay <= step
    assert delay == transient_retry_delay(key, rung, attempt)  # reproducible
    assert delay.microseconds == 0  # whole seconds, as a Step Functions timestamp


def test_many_ladders_throttled_together_do_not_come_back_together() -> None:
    delays = {transient_retry_delay(f"demo#A{n}#2026-12-01", 0, 0) for n in range(1000)}
    # 1,000 ladders deferred at one instant spread over the 150 s of the first step's jitter
    assert len(delays) > 140
    assert max(delays) - min(delays) > timedelta(seconds=140)
