"""Back-off with jitter that is reproducible: the same ladder, rung and attempt always draw the
same delay, and different ladders draw different ones.

A fault that hits many ladders at once (a provider throttling, an outage) must not bring them
all back at the same instant, so every delay is jittered. The jitter is drawn from a hash of
what identifies the attempt rather than from a random generator, so a simulation run twice —
or on both engines — decides the same things at the same instants.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

# A rung whose send step met a transient fault (after the ASL's short retries) looks again
# after 5, 10, 20, 40 minutes, then hourly, each time jittered down to at most half.
TRANSIENT_RETRY_FIRST = timedelta(minutes=5)
TRANSIENT_RETRY_LONGEST = timedelta(hours=1)


def unit_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`, spread evenly across different `parts`."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def transient_retry_delay(ladder_key: str, rung: int, attempt: int) -> timedelta:
    """How long rung `rung` of `ladder_key` waits after its `attempt`-th transient deferral
    (0-based): exponential, capped, with "equal jitter" (between half and all of the step),
    whole seconds (a Step Functions timestamp has no fraction)."""
    step = min(TRANSIENT_RETRY_FIRST * 2 ** min(attempt, 16), TRANSIENT_RETRY_LONGEST)
    seconds = step.total_seconds() * (0.5 + unit_fraction(ladder_key, rung, attempt) / 2)
    return timedelta(seconds=int(seconds))
