"""The ladder ASL's Retry and Catch of `SendRung`, read from the ASL file, as the fast engine
plays them — and the jitter both engines draw.

The fast engine interprets no ASL, yet under throttling or an outage the ASL decides what
happens next: how often the send step is retried, after how long, and whether a Catch takes
the error into DeferRung or the execution fails. Reading those from
`infra/statemachines/ladder.asl.json` keeps the file the single source of truth. `JitterStrategy
FULL` draws uniformly from [0, delay); Step Functions draws at random, the local world draws
from a hash of the execution name, the instant and the delay (`jitter`), so runs are
reproducible and both engines retry at the same instants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from functions.core.backoff import unit_fraction
from infra.paths import LADDER_ASL

_ANY = "States.ALL"


@dataclass(frozen=True)
class Retrier:
    errors: frozenset[str]
    interval: int
    max_attempts: int
    backoff: float
    max_delay: int | None
    jitter: bool

    def matches(self, error: str) -> bool:
        return error in self.errors or _ANY in self.errors

    def delay(self, attempt: int, execution: str, now: datetime) -> timedelta:
        """The wait before retry number `attempt` + 1 (0-based), as Step Functions computes it."""
        seconds = self.interval * self.backoff**attempt
        if self.max_delay is not None:
            seconds = min(seconds, self.max_delay)
        if self.jitter:
            seconds = jitter(seconds, execution, now)
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Catcher:
    errors: frozenset[str]
    result_path: str | None
    next: str

    def matches(self, error: str) -> bool:
        return error in self.errors or _ANY in self.errors


@dataclass(frozen=True)
class TaskPolicy:
    retriers: tuple[Retrier, ...]
    catchers: tuple[Catcher, ...]

    def retrier(self, error: str) -> int | None:
        """Index of the first Retrier naming `error` (Step Functions uses the first match)."""
        return next((i for i, r in enumerate(self.retriers) if r.matches(error)), None)

    def catcher(self, error: str) -> Catcher | None:
        return next((c for c in self.catchers if c.matches(error)), None)


def jitter(seconds: float, execution: str, now: datetime) -> float:
    """FULL jitter, reproducible: whole seconds in [0, seconds), fixed by the arguments."""
    return float(int(seconds * unit_fraction(execution, now.isoformat(), f"{seconds:.3f}")))


@cache
def send_rung_policy() -> TaskPolicy:
    return task_policy("SendRung")


def task_policy(state_name: str) -> TaskPolicy:
    state = json.loads(LADDER_ASL.read_text(encoding="utf-8"))["States"][state_name]
    return TaskPolicy(
        retriers=tuple(
            Retrier(
                errors=frozenset(retry["ErrorEquals"]),
                interval=retry.get("IntervalSeconds", 1),
                max_attempts=retry.get("MaxAttempts", 3),
                backoff=retry.get("BackoffRate", 2.0),
                max_delay=retry.get("MaxDelaySeconds"),
                jitter=retry.get("JitterStrategy", "NONE") == "FULL",
            )
            for retry in state.get("Retry", [])
        ),
        catchers=tuple(
            Catcher(
                errors=frozenset(catch["ErrorEquals"]),
                result_path=catch.get("ResultPath", "$"),
                next=catch["Next"],
            )
            for catch in state.get("Catch", [])
        ),
    )
