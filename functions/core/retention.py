"""How long records are kept: config/retention.yaml, validated (docs/compliance.md, Records and
erasure).

A record of collection activity is kept for the retention duty of the jurisdiction profile it
falls under, plus a margin; one deployment serves several profiles and keeps each table's
records for the longest duty among them. The CDK stack derives `RUNG_AUDIT_RETENTION_DAYS`
from here, and the functions write DynamoDB TTL (`expires_at`) from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError

RETENTION_FILE = Path("config") / "retention.yaml"


class Duty(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    duty_days: int = Field(ge=1)
    source: str = Field(min_length=1)


class TableRetention(BaseModel):
    """What one table keeps and why (`keep`: records | accounts | days N | forever)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    personal_data: bool
    keep: str = Field(pattern=r"^(records|accounts|forever|days [1-9][0-9]*)$")
    reason: str = Field(min_length=1)

    @property
    def expires(self) -> bool:
        """Whether DynamoDB TTL deletes this table's items."""
        return self.keep != "forever"


class Retention(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    margin_days: int = Field(ge=0)
    serves: tuple[str, ...] = Field(min_length=1)
    profiles: dict[str, Duty]
    tables: dict[str, TableRetention]

    @model_validator(mode="after")
    def _served_profiles_have_a_duty(self) -> Retention:
        unknown = [name for name in self.serves if name not in self.profiles]
        if unknown:
            raise ValueError(f"serves names profiles with no duty: {', '.join(unknown)}")
        return self

    def duty(self, profile: str) -> Duty:
        try:
            return self.profiles[profile]
        except KeyError:
            raise ConfigError(
                f"{RETENTION_FILE}: no retention duty for profile {profile!r}"
            ) from None

    @property
    def records_days(self) -> int:
        """Days a record of collection activity is kept: the longest served duty + margin."""
        return max(self.profiles[name].duty_days for name in self.serves) + self.margin_days

    @property
    def records(self) -> timedelta:
        return timedelta(days=self.records_days)

    def records_expire_at(self, last_activity: datetime) -> int:
        """The TTL (epoch seconds) of a record whose last collection activity was then."""
        return expires_at(last_activity, self.records_days)


def expires_at(last_activity: datetime, days: int) -> int:
    """DynamoDB TTL, epoch seconds: `days` after the last activity the record is about."""
    if last_activity.tzinfo is None:
        raise ValueError("a retention clock needs an aware instant")
    return int((last_activity + timedelta(days=days)).timestamp())


def load_retention(config_root: Path) -> Retention:
    return _load(config_root.resolve())


@cache
def _load(config_root: Path) -> Retention:
    path = config_root / RETENTION_FILE
    try:
        return Retention.model_validate(read_config(path))
    except (OSError, NotYaml, ValidationError) as exc:
        raise ConfigError(f"{RETENTION_FILE}: {exc}") from exc
