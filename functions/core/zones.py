"""Candidate time zones of a borrower (docs/compliance.md, Quiet hours).

Every source of location adds candidates; none overrides another, because the gate must
respect the window in every place the data suggests (Reg F commentary to 1006.6(b)(1)):
- the lender's `timezone` column (IANA),
- the address: a US state → its zones (config/us_state_zones.yaml, multi-zone states list
  all), any other country → its zones from the tz database's zone1970.tab,
- the phone number → its zones (phonenumbers' geocoding metadata by prefix).
Postal codes are accepted but not used yet: they could narrow a multi-zone state.
"""

from __future__ import annotations

import importlib.resources
import zoneinfo
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path

import phonenumbers
import yaml
from phonenumbers import timezone as number_timezones
from pydantic import RootModel, ValidationError

from functions.core.errors import ConfigError, RungError
from functions.core.models import Account

# config/ ships beside functions/ (repository and Lambda asset alike).
SHIPPED_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for non-geographic numbers


class InvalidLocation(RungError):
    """A phone number, zone, country or state that cannot be read (names the field)."""


class _StateTable(RootModel[dict[str, tuple[str, ...]]]):
    pass


class ZoneAtlas:
    """Where a borrower may be: maps location data to IANA zone names. Cached per input."""

    def __init__(
        self, us_states: Mapping[str, tuple[str, ...]], countries: Mapping[str, tuple[str, ...]]
    ) -> None:
        self._us_states = dict(us_states)
        self._countries = dict(countries)
        self.candidates = lru_cache(maxsize=1 << 17)(self._candidates)
        self.phone_region = lru_cache(maxsize=1 << 17)(self._phone_region)

    def _candidates(
        self,
        phone: str | None = None,
        country: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,  # accepted, not used yet (module docstring)
        timezone: str | None = None,
    ) -> tuple[str, ...]:
        """Candidate zones, lender-given first, then address, then phone; duplicates dropped."""
        found: list[str] = []
        if timezone:
            found.append(_valid_zone(timezone))
        region = country.upper() if country else (self._phone_region(phone) if phone else None)
        if region == "US" and state:
            zones = self._us_states.get(state.upper())
            if zones is None:
                raise InvalidLocation(f"state: unknown US state or territory {state!r}")
            found.extend(zones)
        elif country:
            zones = self._countries.get(country.upper())
            if zones is None:
                raise InvalidLocation(f"country: unknown ISO 3166 country code {country!r}")
            found.extend(zones)
        if phone:
            found.extend(_phone_zones(phone))
        return tuple(dict.fromkeys(found))

    def _phone_region(self, phone: str) -> str | None:
        return phonenumbers.region_code_for_number(_parse_phone(phone))


def candidate_zones(
    account: Account, default_region: str | None = None, atlas: ZoneAtlas | None = None
) -> tuple[str, ...]:
    """The account's candidate zones, for scheduling a rung's preferred local time.

    Lenient by design: unreadable location data gives () here, because the gate
    (`atlas.candidates`, strict) suppresses the same account with `invalid_location`.
    `default_region` only reads a phone written without a country code.
    """
    phone = account.phone
    if phone and default_region and not phone.startswith("+"):
        try:
            parsed = phonenumbers.parse(phone, default_region)
        except phonenumbers.NumberParseException:
            return ()
        phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    try:
        return (atlas or load_atlas(SHIPPED_ROOT)).candidates(
            phone, account.country, account.state, account.postal_code, account.timezone
        )
    except InvalidLocation:
        return ()


def _parse_phone(phone: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidLocation(f"phone: not an E.164 number ({exc})") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidLocation("phone: not a valid number for its country code")
    return number


def _phone_zones(phone: str) -> tuple[str, ...]:
    zones = number_timezones.time_zones_for_number(_parse_phone(phone))
    return tuple(name for name in zones if name != UNKNOWN_ZONE)


def _valid_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidLocation(f"timezone: unknown IANA zone {name!r}") from exc
    return name


def load_atlas(config_root: Path) -> ZoneAtlas:
    return _load_atlas(config_root.resolve())


@cache
def _load_atlas(config_root: Path) -> ZoneAtlas:
    path = config_root / "config" / "us_state_zones.yaml"
    try:
        states = _StateTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).root
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"config/us_state_zones.yaml: {exc}") from exc
    for state, zones in states.items():
        for name in zones:
            try:
                _valid_zone(name)
            except InvalidLocation as exc:
                raise ConfigError(f"config/us_state_zones.yaml: {state}: {exc}") from exc
    return ZoneAtlas(states, country_zones())


@cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO 3166 country → zones, from the tz database's zone1970.tab (the same data zoneinfo
    reads). Missing table ⇒ ConfigError: silently losing candidates would widen the window."""
    text = _zone_table_text()
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        codes, _coordinates, name, *_comment = line.split("\t")
        for code in codes.split(","):
            table.setdefault(code, []).append(name)
    return {code: tuple(names) for code, names in table.items()}


def _zone_table_text() -> str:
    # Same search order as zoneinfo itself: the system TZPATH, then the `tzdata` package.
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone1970.tab"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    try:
        resource = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone1970.tab")
        return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(
            "tz database table zone1970.tab not found in zoneinfo.TZPATH nor the tzdata package"
        ) from exc
