"""The simulated providers' limits (rung.provider_limits): a rate per second, and outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.core.models import Channel
from rung.provider_limits import Outage, ProviderLimits, Refusal

T = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def test_sends_above_the_rate_in_one_second_are_throttled_and_the_next_second_is_fresh() -> None:
    limits = ProviderLimits(rates={Channel.SMS: 2})
    first = [limits.refuse(Channel.SMS, T + timedelta(milliseconds=100 * n)) for n in range(4)]
    assert first == [None, None, Refusal.THROTTLED, Refusal.THROTTLED]
    assert limits.refuse(Channel.SMS, T + timedelta(seconds=1)) is None
    assert limits.refuse(Channel.EMAIL, T) is None  # no email rate: never throttled
    assert limits.refused[(Channel.SMS, Refusal.THROTTLED)] == 2


def test_an_outage_refuses_its_channel_from_start_until_end_only() -> None:
    outage = Outage.parse("sms:2026-12-02T10:00:00-05:00/PT2H")
    assert (outage.start, outage.end) == (T, T + timedelta(hours=2))
    limits = ProviderLimits(outages=(outage,))
    assert limits.refuse(Channel.SMS, T - timedelta(seconds=1)) is None
    assert limits.refuse(Channel.SMS, T) == Refusal.OUTAGE
    assert limits.refuse(Channel.EMAIL, T) is None
    assert limits.refuse(Channel.SMS, T + timedelta(hours=2)) is None
