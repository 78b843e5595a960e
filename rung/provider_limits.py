"""The simulated providers' limits: SNS SMS and SES refuse a send above their rate, or during
an outage, as the real services do (throttling, 5xx) — so a simulation shows what the ladder
does when a provider says no, instead of assuming it never will.

Both engines consult one `ProviderLimits`: the fast engine through its in-memory senders, the
full engine inside moto's SNS and SES backends. A refused send raises the error the real
provider would; the send step releases its claim and the ladder retries, then defers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from functions.adapters.memory import MemoryEmail, MemoryPush, MemorySms
from functions.core.clock import Clock
from functions.core.errors import TransientSendError
from functions.core.models import Channel
from functions.core.ports import OutboundMessage

_DURATION = TypeAdapter(timedelta)


class Refusal:
    THROTTLED = "throttled"  # above the rate: Throttling (SNS) / TooManyRequestsException (SES)
    OUTAGE = "outage"  # the provider is down: a 5xx


@dataclass(frozen=True)
class Outage:
    channel: Channel
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str) -> Outage:
        """`CHANNEL:START/DURATION`, ISO 8601: `sms:2026-12-02T14:00:00Z/PT2H`."""
        channel_text, _, period = text.partition(":")
        start_text, slash, duration_text = period.partition("/")
        try:
            channel = Channel(channel_text.strip().lower())
        except ValueError:
            known = ", ".join(c.value for c in Channel)
            raise ValueError(f"outage {text!r}: channel must be one of {known}") from None
        if not slash:
            raise ValueError(f"outage {text!r}: expected CHANNEL:START/DURATION")
        try:
            start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"outage {text!r}: start is not an ISO 8601 instant") from None
        if start.tzinfo is None:
            raise ValueError(f"outage {text!r}: give the start a time zone (e.g. Z)")
        try:
            if not duration_text.startswith("P"):
                raise ValueError
            duration = _DURATION.validate_python(duration_text)
        except (ValueError, ValidationError):
            raise ValueError(
                f"outage {text!r}: duration is not ISO 8601 (e.g. PT2H, P1DT30M)"
            ) from None
        if duration <= timedelta(0):
            raise ValueError(f"outage {text!r}: duration must be positive")
        start = start.astimezone(UTC)
        return cls(channel, start, start + duration)

    def covers(self, channel: Channel, at: datetime) -> bool:
        return channel is self.channel and self.start <= at < self.end


@dataclass
class ProviderLimits:
    """Messages per second each channel's provider accepts (None: no limit), and outages."""

    rates: dict[Channel, int | None] = field(default_factory=dict)
    outages: tuple[Outage, ...] = ()
    refused: Counter[tuple[Channel, str]] = field(default_factory=Counter)
    # Sends accepted in the current second, per channel (virtual time only moves forward).
    _second: dict[Channel, tuple[datetime, int]] = field(default_factory=dict)

    def refuse(self, channel: Channel, at: datetime) -> str | None:
        """Why the provider refuses a send at `at`, or None (and the send counts)."""
        reason = None
        second = at.replace(microsecond=0)
        current, accepted = self._second.get(channel, (second, 0))
        accepted = accepted if current == second else 0
        rate = self.rates.get(channel)
        if any(outage.covers(channel, at) for outage in self.outages):
            reason = Refusal.OUTAGE
        elif rate is not None and accepted >= rate:
            reason = Refusal.THROTTLED
        if reason is None:
            self._second[channel] = (second, accepted + 1)
        else:
            self.refused[(channel, reason)] += 1
        return reason


class LimitedSms(MemorySms):
    """The fast engine's SNS: refuses as `limits` say, as a throttled or failing SNS would."""

    def __init__(self, limits: ProviderLimits, clock: Clock) -> None:
        super().__init__()
        self.limits, self.clock = limits, clock

    def send(self, message: OutboundMessage) -> str:
        # The opt-out check is its own SNS call, made before the publish that counts.
        if message.to not in self.opted_out:
            refusal = self.limits.refuse(Channel.SMS, self.clock.now())
            if refusal is not None:
                raise TransientSendError(f"sns {refusal}: provider did not accept")
        return super().send(message)


class LimitedEmail(MemoryEmail):
    """The fast engine's SES: refuses as `limits` say, as a throttled or failing SES would."""

    def __init__(self, limits: ProviderLimits, clock: Clock) -> None:
        super().__init__()
        self.limits, self.clock = limits, clock

    def send(self, message: OutboundMessage) -> str:
        refusal = self.limits.refuse(Channel.EMAIL, self.clock.now())
        if refusal is not None:
            raise TransientSendError(f"ses {refusal}: provider did not accept")
        return super().send(message)


class LimitedPush(MemoryPush):
    """The fast engine's SNS mobile push: refuses as `limits` say."""

    def __init__(self, limits: ProviderLimits, clock: Clock) -> None:
        super().__init__()
        self.limits, self.clock = limits, clock

    def send(self, message: OutboundMessage) -> str:
        refusal = self.limits.refuse(Channel.PUSH, self.clock.now())
        if refusal is not None:
            raise TransientSendError(f"sns {refusal}: provider did not accept")
        return super().send(message)
