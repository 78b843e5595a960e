"""Reminder ladders: which rung is due when, and the state the Step Functions loop carries.

The ASL is only the durable timer (Wait on `$.next_at` → send Task → Choice on `$.done`);
every decision about rungs lives here.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError
from functions.core.models import Channel


class Rung(BaseModel):
    """One step of a ladder, timed either by the account or by the ladder's own start.

    `day` is days past due, at the ladder's local time (every lender ladder). `minute` is
    minutes after the ladder started: for a smoke test whose rungs are minutes apart.
    """

    model_config = ConfigDict(frozen=True)

    day: int | None = Field(default=None, ge=0, le=365)
    minute: int | None = Field(default=None, ge=0, le=24 * 60)
    channel: Channel
    template: str = Field(pattern=r"^[a-z0-9_]+$")

    @model_validator(mode="after")
    def _one_timing(self) -> Rung:
        if (self.day is None) == (self.minute is None):
            raise ValueError("a rung has either `day` (days past due) or `minute`, not both")
        return self

    @property
    def offset(self) -> int:
        return self.day if self.day is not None else self.minute  # type: ignore[return-value]


class Ladder(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    version: int = Field(ge=1)
    local_time: time = time(10, 0)
    rungs: tuple[Rung, ...] = Field(min_length=1)

    @field_validator("local_time", mode="before")
    @classmethod
    def _parse_time(cls, value: object) -> object:
        return time.fromisoformat(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _offsets_strictly_increase(self) -> Ladder:
        if len({rung.day is None for rung in self.rungs}) > 1:
            raise ValueError("every rung of a ladder uses `day`, or every rung uses `minute`")
        offsets = [rung.offset for rung in self.rungs]
        if offsets != sorted(set(offsets)):
            raise ValueError("rung days (or minutes) must strictly increase")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def due_at(
        self, index: int, due_date: date, zone: ZoneInfo, started: datetime | None = None
    ) -> datetime:
        """The instant rung `index` falls due: its dpd day at the ladder's local time, in
        `zone`; or, for a ladder timed in minutes, that many minutes after it `started`."""
        rung = self.rungs[index]
        if rung.minute is not None:
            if started is None:
                raise ConfigError(
                    f"ladder {self.ref} counts minutes from its start, which this run lacks"
                )
            return started + timedelta(minutes=rung.minute)
        return _wall_clock_utc(due_date + timedelta(days=rung.offset), self.local_time, zone)

    def expires_at(
        self, index: int, due_date: date, zone: ZoneInfo, started: datetime | None = None
    ) -> datetime | None:
        """A rung that could not go out before the next rung falls due is superseded by it.

        This is the catch-up policy (see docs/decisions.md): missed rungs are never burst out
        together; the newest due rung wins (functions.core.sending records the skipped ones).
        """
        if index + 1 >= len(self.rungs):
            return None
        return self.due_at(index + 1, due_date, zone, started)


class LadderState(BaseModel):
    """The JSON the ladder state machine carries between Wait, send Task and Choice."""

    model_config = ConfigDict(frozen=True)

    lender_id: str
    account_id: str
    cycle: str
    rung: int = Field(ge=0)
    next_at: str  # ISO 8601 UTC ending in "Z" (Step Functions TimestampPath)
    done: bool = False
    deferred: bool = False  # the current rung has been deferred at least once
    started_at: str | None = None  # when intake started the ladder (rungs timed in minutes)
    # Transient faults (throttling, outages) the current rung has waited out so far; sets the
    # back-off of the next one (functions.core.backoff).
    retries: int = Field(default=0, ge=0)
    # The send slot (functions.core.pacing) reserved for the current rung, if its channel is
    # paced: ISO 8601 UTC ending in "Z".
    slot: str | None = None

    @field_validator("next_at", "started_at")
    @classmethod
    def _utc_z(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith("Z"):
            raise ValueError("next_at and started_at must be UTC and end in 'Z'")
        return value

    @property
    def ladder_key(self) -> str:
        return f"{self.lender_id}#{self.account_id}#{self.cycle}"

    @property
    def next_instant(self) -> datetime:
        return datetime.fromisoformat(self.next_at)  # reads the "Z" as UTC (Python 3.11+)

    @property
    def started_instant(self) -> datetime | None:
        return datetime.fromisoformat(self.started_at) if self.started_at else None

    @property
    def slot_instant(self) -> datetime | None:
        return datetime.fromisoformat(self.slot) if self.slot else None


def to_sfn_timestamp(instant: datetime) -> str:
    """UTC, second precision, trailing Z — the only form moto's and AWS's Wait both accept.

    Rounded *up*: waking a fraction early would meet the gate just before the instant it named.
    """
    utc = instant.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    # isoformat of a whole-second UTC instant is "YYYY-MM-DDTHH:MM:SS+00:00" (strftime's
    # equal for every four-digit year, at a third of the cost).
    return utc.isoformat()[:-6] + "Z"


@lru_cache(maxsize=1 << 12)
def _wall_clock_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `zone`, in UTC. Pure; ladders share a few due dates, and
    every step of a ladder asks again for the same rungs."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(lender_id: str, account_id: str, cycle: str) -> str:
    """Deterministic execution name per account ladder, ≤ 80 characters.

    A duplicate S3 event or a re-upload asks for the same name, which Step Functions refuses
    to start twice: the name is the idempotency key of a ladder.
    """
    raw = f"{lender_id}-{account_id}-{cycle}"
    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    readable = _NAME_UNSAFE.sub("_", raw)[:60]
    return f"{readable}-{digest}"


def load_ladder(config_root: Path, ladder_id: str) -> Ladder:
    return _load_ladder(config_root, ladder_id)


@cache
def _load_ladder(config_root: Path, ladder_id: str) -> Ladder:
    if not re.fullmatch(r"[a-z0-9_-]+", ladder_id):
        raise ConfigError(f"invalid ladder id {ladder_id!r}")
    path = config_root / "ladders" / f"{ladder_id}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown ladder {ladder_id!r}: no file ladders/{ladder_id}.yaml")
    try:
        ladder = Ladder.model_validate(read_config(path))
    except (NotYaml, ValidationError) as exc:
        raise ConfigError(f"ladder {ladder_id!r}: {exc}") from exc
    if ladder.id != ladder_id:
        raise ConfigError(f"ladders/{ladder_id}.yaml declares id {ladder.id!r}")
    return ladder
