"""Candidate time zones of a borrower: every zone the location data suggests.

Every source of location adds candidates; none overrides another, because the gate must
respect the window in every place the data suggests (Reg F commentary to 1006.6(b)(1)):
- the lender's `timezone` column (IANA),
- the address: a US state → its zones (config/us_state_zones.yaml, multi-zone states list
  all), any other country → its zones from the tz database's zone1970.tab. A state without a
  country is read as a US state when it is one, whatever the phone's country (a +86 number
  with a New York address adds New York),
- the phone number → its zones (phonenumbers' metadata by prefix), plus every zone of a North
  American area code that spans zones (config/nanp_area_code_zones.yaml).
A number whose type says no place (toll-free, premium, shared-cost, personal, UAN, voicemail)
adds nothing when the address or the lender's zone gives a place; without one it keeps the
library's answer, every zone of its country code: the conservative choice.
Postal codes are accepted but not used yet: they could narrow a multi-zone state.
`evidence` says why each zone is a candidate; `candidates` is the same list without reasons.
"""

from __future__ import annotations

import importlib.resources
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError

from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError, RungError
from functions.core.models import Account
from functions.core.shipped import SHIPPED_ROOT

if TYPE_CHECKING:
    # Imported where a number is first read: the optout function reads numbers only for SMS
    # replies, not for the receipts and bounces that make most of its cold starts.
    import phonenumbers

UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers answers for non-geographic numbers


class InvalidLocation(RungError):
    """A phone number, zone, country or state that cannot be read (names the field)."""


class _StateTable(RootModel[dict[str, tuple[str, ...]]]):
    pass


class _AreaCodeTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area_codes: dict[str, tuple[str, ...]] = Field(min_length=1)
    overlays: dict[str, str] = Field(default_factory=dict)  # overlay NPA → the NPA it overlays

    def zones_by_npa(self) -> dict[str, tuple[str, ...]]:
        table = dict(self.area_codes)
        for overlay, parent in self.overlays.items():
            if parent not in self.area_codes:
                raise ValueError(f"overlays: {overlay} overlays {parent}, which is not listed")
            table[overlay] = tuple(sorted({*self.area_codes.get(overlay, ()), *table[parent]}))
        return table


def _no_place_kind(number_type: int) -> str | None:
    """What a number of `number_type` (phonenumbers.PhoneNumberType) names instead of a place,
    if its type names a service (ITU-T E.164 non-geographic numbering), else None."""
    import phonenumbers

    kinds = {
        phonenumbers.PhoneNumberType.TOLL_FREE: "toll-free",
        phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium-rate",
        phonenumbers.PhoneNumberType.SHARED_COST: "shared-cost",
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal",
        phonenumbers.PhoneNumberType.UAN: "universal access",
        phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
    }
    return kinds.get(number_type)


@dataclass(frozen=True, slots=True)
class ZoneEvidence:
    """Why each candidate zone is one: (zone, source) pairs in the order found, and the
    location data that was read but set aside, with the reason (`notes`)."""

    reasons: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for name, _ in self.reasons))

    def sources(self) -> dict[str, list[str]]:
        """Zone → every source that suggested it (for `rung when`)."""
        out: dict[str, list[str]] = {}
        for name, source in self.reasons:
            out.setdefault(name, []).append(source)
        return out


class ZoneAtlas:
    """Where a borrower may be: maps location data to IANA zone names. Cached per input."""

    def __init__(
        self,
        us_states: Mapping[str, tuple[str, ...]],
        countries: Mapping[str, tuple[str, ...]],
        area_codes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._us_states = dict(us_states)
        self._countries = dict(countries)
        self._area_codes = dict(area_codes or {})
        self.evidence = lru_cache(maxsize=1 << 17)(self._evidence)
        self.candidates = lru_cache(maxsize=1 << 17)(self._candidates)
        self.checked = lru_cache(maxsize=1 << 17)(self._checked)
        self.lenient = lru_cache(maxsize=1 << 17)(self._lenient)
        self.phone_region = lru_cache(maxsize=1 << 17)(self._phone_region)

    def _candidates(
        self,
        phone: str | None = None,
        country: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,
        timezone: str | None = None,
    ) -> tuple[str, ...]:
        """Candidate zones, lender-given first, then address, then phone; duplicates dropped."""
        return self.evidence(phone, country, state, postal_code, timezone).zones

    def _checked(
        self,
        phone: str | None,
        country: str | None,
        state: str | None,
        postal_code: str | None,
        timezone: str | None,
    ) -> tuple[tuple[str, ...], str]:
        """`candidates`, or () and why the location cannot be read: the answer is kept either
        way (an exception is not cached), so an unreadable location is read once too."""
        try:
            return self.candidates(phone, country, state, postal_code, timezone), ""
        except InvalidLocation as exc:
            return (), str(exc)

    def _lenient(
        self,
        phone: str | None,
        country: str | None,
        state: str | None,
        postal_code: str | None,
        timezone: str | None,
        default_region: str | None,
    ) -> tuple[str, ...]:
        """`candidate_zones` for these location fields (what it documents)."""
        if phone and default_region and not phone.startswith("+"):
            import phonenumbers

            try:
                parsed = phonenumbers.parse(phone, default_region)
            except phonenumbers.NumberParseException:
                return ()
            phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return self.checked(phone, country, state, postal_code, timezone)[0]

    def _evidence(
        self,
        phone: str | None = None,
        country: str | None = None,
        state: str | None = None,
        postal_code: str | None = None,  # accepted, not used yet (module docstring)
        timezone: str | None = None,
    ) -> ZoneEvidence:
        found: list[tuple[str, str]] = []
        if timezone:
            found.append((_valid_zone(timezone), "lender timezone"))
        region = self.region_of(phone, country, state)
        if region == "US" and state:
            zones = self._us_states.get(state.upper())
            if zones is None:
                raise InvalidLocation(f"state: unknown US state or territory {state!r}")
            found.extend((name, f"US state {state.upper()}") for name in zones)
        elif country:
            zones = self._countries.get(country.upper())
            if zones is None:
                raise InvalidLocation(f"country: unknown ISO 3166 country code {country!r}")
            found.extend((name, f"country {country.upper()}") for name in zones)
        if not phone:
            return ZoneEvidence(tuple(found))
        number, number_type = _read_phone(phone)
        kind = _no_place_kind(number_type)
        if kind and found:
            note = f"phone: a {kind} number names no place; the address's zones are used"
            return ZoneEvidence(tuple(found), (note,))
        source = (
            f"phone: a {kind} number, every zone of +{number.country_code}" if kind else "phone"
        )
        found.extend((name, source) for name in _library_zones(number, number_type))
        if number.country_code == 1 and not kind:
            npa = str(number.national_number)[:3]
            spans = f"phone area code {npa} spans zones"
            found.extend((name, spans) for name in self._area_codes.get(npa, ()))
        return ZoneEvidence(tuple(found))

    def region_of(self, phone: str | None, country: str | None, state: str | None) -> str | None:
        """The address's country; a known US state without a country means US; else the
        phone's region. Picks the jurisdiction profile and how `state` is read."""
        if country:
            return country.upper()
        if state and state.upper() in self._us_states:
            return "US"
        return self.phone_region(phone) if phone else None

    def _phone_region(self, phone: str) -> str | None:
        import phonenumbers

        return phonenumbers.region_code_for_number(_parse_phone(phone))


def candidate_zones(
    account: Account, default_region: str | None = None, atlas: ZoneAtlas | None = None
) -> tuple[str, ...]:
    """The account's candidate zones, for scheduling a rung's preferred local time.

    Lenient by design: unreadable location data gives () here, because the gate
    (`atlas.candidates`, strict) suppresses the same account with `invalid_location`.
    `default_region` only reads a phone written without a country code. The answer is a
    pure function of the location fields, kept per atlas (the send step asks on every step).
    """
    return (atlas or _shipped_atlas()).lenient(
        account.phone,
        account.country,
        account.state,
        account.postal_code,
        account.timezone,
        default_region,
    )


def _parse_phone(phone: str) -> phonenumbers.PhoneNumber:
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidLocation(f"phone: not an E.164 number ({exc})") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidLocation("phone: not a valid number for its country code")
    return number


def _read_phone(phone: str) -> tuple[phonenumbers.PhoneNumber, int]:
    """`_parse_phone`, with the number's type, from one type look-up: the library's
    is_valid_number is `number_type(n) != UNKNOWN` in the region the number belongs to, and
    each look-up tries the number against every region of its country code (about 25 for +1)."""
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidLocation(f"phone: not an E.164 number ({exc})") from exc
    number_type = phonenumbers.number_type(number)
    if number_type == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidLocation("phone: not a valid number for its country code")
    return number, number_type


def _library_zones(number: phonenumbers.PhoneNumber, number_type: int) -> tuple[str, ...]:
    """The library's zones of a valid number (`time_zones_for_number`, given the type it
    would look up again: the library offers `is_number_type_geographical` for this)."""
    import phonenumbers
    from phonenumbers import timezone as number_timezones

    country_code = number.country_code
    if country_code is not None and phonenumbers.is_number_type_geographical(
        number_type, country_code
    ):
        zones = number_timezones.time_zones_for_geographical_number(number)
    else:
        zones = number_timezones.time_zones_for_number(number)
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
def _shipped_atlas() -> ZoneAtlas:
    """The shipped atlas, found once (resolving its path on every call cost more than a
    gate decision's zone look-up)."""
    return load_atlas(SHIPPED_ROOT)


@cache
def _load_atlas(config_root: Path) -> ZoneAtlas:
    states = _zone_table(
        config_root, "us_state_zones.yaml", lambda data: _StateTable.model_validate(data).root
    )
    area_codes = _zone_table(
        config_root,
        "nanp_area_code_zones.yaml",
        lambda data: _AreaCodeTable.model_validate(data).zones_by_npa(),
    )
    return ZoneAtlas(states, country_zones(), area_codes)


def _zone_table(
    config_root: Path, name: str, parse: Callable[[object], dict[str, tuple[str, ...]]]
) -> dict[str, tuple[str, ...]]:
    """A config/ table of key → IANA zones, every zone checked against the tz database."""
    path = config_root / "config" / name
    try:
        table = parse(read_config(path))
    except (OSError, NotYaml, ValidationError, ValueError) as exc:
        raise ConfigError(f"config/{name}: {exc}") from exc
    for key, zones in table.items():
        for zone_name in zones:
            try:
                _valid_zone(zone_name)
            except InvalidLocation as exc:
                raise ConfigError(f"config/{name}: {key}: {exc}") from exc
    return table


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
