"""Jurisdiction profiles (config/profiles.yaml): every number the gate enforces.

A profile is chosen from the account's country/state, else from the phone number's region;
an unknown jurisdiction gets the strictest default profile. Lenders may override a profile
only to make it stricter (docs/design.md, Lender configuration); a looser override is a ConfigError.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, time
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from functions.core.caps import Cap
from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError
from functions.core.holiday_calendar import UnknownCalendar, holiday_calendar
from functions.core.lenders import LenderConfig
from functions.core.models import Account
from functions.core.quiet_hours import LocalWindow, window_bounds
from functions.core.zones import ZoneAtlas, load_atlas

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class Window(BaseModel):
    """The allowed local window [start, end)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return time.fromisoformat(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if not self.start < self.end:
            raise ValueError(f"window start {self.start} must be before end {self.end}")
        return self


class Match(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(pattern=r"^[A-Z]{2}$")
    state: str | None = None


class Holidays(BaseModel):
    """A public-holiday calendar of the `holidays` library whose days are blackout days.

    `required`: the law forbids contact on these days, so no lender may switch them off;
    False marks our choice (a lender may opt out with `holidays: false`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    calendar: str = Field(pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2, as the library names it
    subdivisions: tuple[str, ...] = ()  # e.g. [MA]; several ⇒ the union of their holidays
    source: str = Field(min_length=1)
    required: bool = False

    @model_validator(mode="after")
    def _known(self) -> Holidays:
        try:
            holiday_calendar(self.calendar, self.subdivisions)
        except UnknownCalendar as exc:
            raise ValueError(f"holidays: {exc}") from exc
        return self


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    match: tuple[Match, ...] = ()
    window: Window
    blackout_weekdays: tuple[Weekday, ...] = ()
    blackout_dates: tuple[date, ...] = ()  # further local dates with no reminders
    holidays: Holidays | None = None
    caps: tuple[Cap, ...] = ()

    @model_validator(mode="after")
    def _some_day_allowed(self) -> Profile:
        if set(WEEKDAYS) <= set(self.blackout_weekdays):
            raise ValueError(f"profile {self.name}: every weekday is a blackout day")
        names = [cap.name for cap in self.caps]
        if len(names) != len(set(names)):
            raise ValueError(f"profile {self.name}: cap names must be unique")
        return self

    @cached_property
    def local_window(self) -> LocalWindow:
        start, end = window_bounds(self.window.start, self.window.end)
        return LocalWindow(
            start=start,
            end=end,
            blackout_weekdays=frozenset(WEEKDAYS.index(day) for day in self.blackout_weekdays),
            blackout_dates=frozenset(self.blackout_dates),
            holidays=holiday_calendar(self.holidays.calendar, self.holidays.subdivisions)
            if self.holidays
            else None,
        )

    def looser_than(self, base: Profile) -> list[str]:
        """Every way this profile allows more than `base` (empty ⇒ at least as strict)."""
        found: list[str] = []
        if self.window.start < base.window.start or self.window.end > base.window.end:
            found.append(
                f"window {self.window.start}-{self.window.end} is wider than "
                f"{base.window.start}-{base.window.end}"
            )
        if missing := set(base.blackout_weekdays) - set(self.blackout_weekdays):
            found.append(f"blackout_weekdays drops {sorted(missing)}")
        if missing_dates := set(base.blackout_dates) - set(self.blackout_dates):
            found.append(f"blackout_dates drops {sorted(str(day) for day in missing_dates)}")
        if base.holidays is not None and base.holidays.required and self.holidays != base.holidays:
            # Only a calendar the law requires binds; one marked our choice may be switched off.
            found.append(f"holidays {base.holidays.calendar} are required ({base.holidays.source})")
        mine = {cap.name: cap for cap in self.caps}
        for cap in base.caps:
            other = mine.get(cap.name)
            if other is None:
                found.append(f"cap {cap.name} is missing")
            elif other.max > cap.max:
                found.append(f"cap {cap.name}.max {other.max} > {cap.max}")
            elif (other.counts, other.period) != (cap.counts, cap.period):
                found.append(f"cap {cap.name} counts or period changed")
            elif other.days < cap.days:
                found.append(f"cap {cap.name}.days {other.days} < {cap.days}")
            elif not set(cap.channels) <= set(other.channels):
                found.append(f"cap {cap.name}.channels drops some of {list(cap.channels)}")
        return found


class _CapOverride(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1, le=31)


class _ProfileOverride(BaseModel):
    """What a lender may change (LenderConfig.profile_overrides[profile])."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: Window | None = None
    blackout_weekdays: tuple[Weekday, ...] = ()  # added to the profile's
    blackout_dates: tuple[date, ...] = ()  # added to the profile's
    # False switches the profile's holiday calendar off (only one marked our choice).
    holidays: bool = True
    caps: dict[str, _CapOverride] = Field(default_factory=dict)


class _ProfilesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    default: str
    profiles: dict[str, dict[str, object]]


class ProfileBook:
    """All profiles of one deployment (optionally with one lender's stricter overrides),
    plus the zone atlas the gate needs. `version` names the exact rules that decided."""

    def __init__(
        self, profiles: Mapping[str, Profile], default: str, version: str, atlas: ZoneAtlas
    ) -> None:
        if default not in profiles:
            raise ConfigError(f"profiles: default profile {default!r} is not defined")
        self.profiles = dict(profiles)
        self.default = default
        self.version = version
        self.atlas = atlas
        self._by_place = {
            (match.country, match.state): profile
            for profile in self.profiles.values()
            for match in profile.match
        }
        self._overridden: dict[tuple[str, str], ProfileBook] = {}

    @cached_property
    def longest_cap_days(self) -> int:
        """The longest rolling window any cap of this book counts, in days (1 without caps)."""
        return max((cap.days for p in self.profiles.values() for cap in p.caps), default=1)

    def profile_for(self, account: Account) -> Profile:
        """The account's country/state decides; a US state alone means US; else the phone's
        region (`ZoneAtlas.region_of`)."""
        country = self.atlas.region_of(account.phone, account.country, account.state)
        return self.profile_for_place(country, account.state)

    def profile_for_place(self, country: str | None, state: str | None) -> Profile:
        country = country.upper() if country else None
        state = state.upper() if state else None
        profile = self._by_place.get((country or "", state)) or self._by_place.get(
            (country or "", None)
        )
        return profile or self.profiles[self.default]

    def for_lender(self, lender: LenderConfig) -> ProfileBook:
        """This book with the lender's overrides applied (cached); only stricter is accepted."""
        if not lender.profile_overrides:
            return self
        canonical = json.dumps(lender.profile_overrides, sort_keys=True, default=str)
        key = (lender.lender_id, canonical)
        if key not in self._overridden:
            self._overridden[key] = self.with_overrides(
                lender.profile_overrides, owner=f"lender {lender.lender_id}"
            )
        return self._overridden[key]

    def with_overrides(
        self, overrides: Mapping[str, Mapping[str, object]], owner: str = "overrides"
    ) -> ProfileBook:
        profiles = dict(self.profiles)
        for name, raw in overrides.items():
            base = profiles.get(name)
            if base is None:
                raise ConfigError(f"{owner}: profile_overrides.{name}: no such profile")
            try:
                override = _ProfileOverride.model_validate(raw)
                stricter = _apply(base, override)
            except (ValidationError, ValueError) as exc:
                raise ConfigError(f"{owner}: profile_overrides.{name}: {exc}") from exc
            if looser := stricter.looser_than(base):
                raise ConfigError(
                    f"{owner}: profile_overrides.{name} would loosen the profile "
                    f"(overrides may only be stricter): {'; '.join(looser)}"
                )
            profiles[name] = stricter
        digest = hashlib.sha256(
            json.dumps(overrides, sort_keys=True, default=str).encode()
        ).hexdigest()[:8]
        return ProfileBook(profiles, self.default, f"{self.version}+{digest}", self.atlas)


def _apply(base: Profile, override: _ProfileOverride) -> Profile:
    caps = []
    for cap in base.caps:
        change = override.caps.get(cap.name)
        if change is None:
            caps.append(cap)
            continue
        updates = change.model_dump(exclude_none=True)
        caps.append(Cap.model_validate({**cap.model_dump(), **updates}))
    unknown = set(override.caps) - {cap.name for cap in base.caps}
    if unknown:
        raise ValueError(f"caps: unknown cap(s) {sorted(unknown)}")
    return Profile.model_validate(
        {
            **base.model_dump(),
            "window": override.window or base.window,
            "blackout_weekdays": tuple(
                dict.fromkeys((*base.blackout_weekdays, *override.blackout_weekdays))
            ),
            "blackout_dates": tuple(
                dict.fromkeys((*base.blackout_dates, *override.blackout_dates))
            ),
            "holidays": base.holidays if override.holidays else None,
            "caps": caps,
        }
    )


def load_profiles(config_root: Path) -> ProfileBook:
    """Load config/profiles.yaml (and the zone atlas) once per config root."""
    return _load_profiles(config_root.resolve())


@cache
def _load_profiles(config_root: Path) -> ProfileBook:
    path = config_root / "config" / "profiles.yaml"
    try:
        text = path.read_text(encoding="utf-8")  # its hash versions the rules, below
        raw = _ProfilesFile.model_validate(read_config(path))
        profiles = {
            name: Profile.model_validate({"name": name, **body})
            for name, body in raw.profiles.items()
        }
    except (OSError, NotYaml, ValidationError) as exc:
        raise ConfigError(f"config/profiles.yaml: {exc}") from exc
    if raw.default not in profiles:
        raise ConfigError(f"config/profiles.yaml: default profile {raw.default!r} is not defined")
    # The default serves unknown jurisdictions: it must be the strictest of all (our choice).
    strictest = profiles[raw.default]
    for profile in profiles.values():
        if looser := strictest.looser_than(profile):
            raise ConfigError(
                f"config/profiles.yaml: default {raw.default} is looser than {profile.name}: "
                + "; ".join(looser)
            )
    # The version names the exact rules: the declared version plus the file's content hash,
    # so an edit without a version bump is still told apart in the audit trail.
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return ProfileBook(profiles, raw.default, f"{raw.version}#{digest}", load_atlas(config_root))
