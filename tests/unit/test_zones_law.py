"""Where the data puts a borrower (functions/core/zones.py): every source adds zones, none
is lost, and unreadable data is named for the lender instead of silently narrowing the list.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from functions.core.models import Account
from functions.core.zones import InvalidLocation, ZoneAtlas, candidate_zones, load_atlas
from functions.settings import PROJECT_ROOT

ATLAS = load_atlas(PROJECT_ROOT)  # module-level tests below also build their own


def atlas() -> ZoneAtlas:
    """The shipped atlas as a send or a gate loads it (cached after the first load)."""
    return load_atlas(PROJECT_ROOT)


NY, LA, SH = "America/New_York", "America/Los_Angeles", "Asia/Shanghai"


def account(**changes: object) -> Account:
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": "A1",
        "phone": "+12065550134",
        "amount_due": Decimal("10.00"),
        "currency": "USD",
        "due_date": date(2026, 6, 1),
        "locale": "en-US",
    }
    fields.update(changes)
    return Account.model_validate(fields)


def test_zones_lender_file_in_lower_case_still_places_the_borrower() -> None:
    assert ATLAS.candidates(None, "us", "ny", None, None) == (NY,)
    assert ATLAS.candidates(None, "gb", None, None, None) == ("Europe/London",)


def test_zones_address_abroad_ignores_a_state_column_meant_for_the_us() -> None:
    assert ATLAS.candidates("+442079460000", "GB", "NY", None, None) == ("Europe/London",)


def test_zones_lender_zone_address_and_phone_that_agree_give_one_zone() -> None:
    assert ATLAS.candidates("+12125550123", "US", "NY", None, NY) == (NY,)


def test_zones_non_geographic_number_adds_no_placeholder_zone() -> None:
    assert ATLAS.candidates("+80012345678", "US", "WA", None, None) == (LA,)
    assert ATLAS.candidates("+80012345678", None, None, None, None) == ()


def test_zones_phone_region_is_read_from_the_number() -> None:
    assert ATLAS.phone_region("+8613800138000") == "CN"
    assert ATLAS.phone_region("+12125550123") == "US"


@pytest.mark.parametrize(
    ("phone", "country", "state", "tz", "message"),
    [
        ("+1212", None, None, None, "phone: not a valid number for its country code"),
        ("12", None, None, None, "phone: not an E.164 number ("),
        (None, "ZZ", None, None, "country: unknown ISO 3166 country code 'ZZ'"),
        (None, "US", "XX", None, "state: unknown US state or territory 'XX'"),
        (None, None, None, "Mars/Base", "timezone: unknown IANA zone 'Mars/Base'"),
        (None, None, None, "../etc/passwd", "timezone: unknown IANA zone '../etc/passwd'"),
    ],
)
def test_zones_unreadable_location_is_named_for_the_lender(
    phone: str | None, country: str | None, state: str | None, tz: str | None, message: str
) -> None:
    with pytest.raises(InvalidLocation) as raised:
        ATLAS.candidates(phone, country, state, None, tz)
    assert str(raised.value).startswith(message)


def test_zones_schedule_a_national_number_in_the_lenders_region() -> None:
    # A phone written without a country code, read in the lender's default region
    borrower = account(phone="(212) 555-0123")
    assert candidate_zones(borrower, default_region="US", atlas=ATLAS) == (NY,)


def test_zones_international_number_ignores_the_lenders_region() -> None:
    borrower = account(phone="+8613800138000")
    assert candidate_zones(borrower, default_region="US", atlas=ATLAS) == (SH,)


def test_zones_scheduling_is_lenient_where_the_gate_is_strict() -> None:
    # Unreadable data gives no zone for scheduling: the gate suppresses the account itself
    assert candidate_zones(account(phone="12"), default_region="US", atlas=ATLAS) == ()
    assert candidate_zones(account(phone="+12125550123", state="XX", country="US")) == ()
    assert candidate_zones(account(phone="+12125550123", country="US", state="NY")) == (NY,)


def test_zones_state_without_a_country_is_read_in_the_phones_country() -> None:
    # A New York mobile with a California address and no country column: both zones count
    assert atlas().candidates("+12125550123", None, "CA", None, None) == (LA, NY)


def test_zones_freshly_loaded_atlas_reads_countries_states_and_phones() -> None:
    loaded = atlas()
    assert loaded.candidates(None, "GB", None, None, None) == ("Europe/London",)
    assert loaded.candidates(None, "US", "WA", None, None) == (LA,)
    assert loaded.phone_region("+442079460000") == "GB"


def test_zones_schedule_an_email_only_borrower_by_her_address() -> None:
    borrower = account(phone=None, email="b@example.com", country="US", state="CA")
    assert candidate_zones(borrower, default_region="US", atlas=atlas()) == (LA,)


def test_zones_schedule_with_the_lenders_zone_and_the_country_column() -> None:
    borrower = account(phone="+442079460000", country="GB", timezone="Europe/Dublin")
    assert candidate_zones(borrower, default_region="US", atlas=atlas()) == (
        "Europe/Dublin",
        "Europe/London",
    )


def test_zones_email_only_borrower_with_only_the_lenders_zone_keeps_it() -> None:
    assert atlas().candidates(None, None, None, None, "America/Chicago") == ("America/Chicago",)


def test_checked_keeps_the_reason_an_unreadable_location_gives() -> None:
    """The gate's look-up answers (zones, "") or ((), why): an unreadable location is kept
    as an answer like any other, so a second step of the same account reads it again without
    re-parsing — and says the same."""
    fresh = ZoneAtlas({"NY": (NY,)}, {"US": (NY,)})
    with pytest.raises(InvalidLocation) as raised:
        fresh.candidates("+12125550123", "US", "XX", None, None)
    assert fresh.checked("+12125550123", "US", "XX", None, None) == ((), str(raised.value))
    assert fresh.checked("+12125550123", "US", "XX", None, None) == ((), str(raised.value))
    assert fresh.checked.cache_info().hits == 1
    assert fresh.checked("+12125550123", "US", "NY", None, None) == (
        fresh.candidates("+12125550123", "US", "NY", None, None),
        "",
    )


def _library_reading(phone: str) -> tuple[bool, tuple[str, ...], int]:
    """What the library's own one-call functions say of `phone`: valid, zones, type."""
    import phonenumbers
    from phonenumbers import timezone as number_timezones

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False, (), phonenumbers.PhoneNumberType.UNKNOWN
    zones = tuple(z for z in number_timezones.time_zones_for_number(number) if z != "Etc/Unknown")
    return phonenumbers.is_valid_number(number), zones, phonenumbers.number_type(number)


def test_one_type_look_up_reads_every_example_number_as_the_library_does() -> None:
    """`_read_phone` and `_library_zones` look the number's type up once; the library's
    is_valid_number, number_type and time_zones_for_number each look it up again. Both must
    agree on every example number of every region and type (and on a few invalid ones)."""
    import phonenumbers

    from functions.core.zones import _library_zones, _read_phone

    phones = {"+12125550123", "+1212555012", "+999123", "+4412"}
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                phones.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    assert len(phones) > 900  # about 1,000 in phonenumbers 9
    for phone in sorted(phones):
        valid, zones, kind = _library_reading(phone)
        if not valid:
            with pytest.raises(InvalidLocation):
                _read_phone(phone)
            continue
        number, number_type = _read_phone(phone)
        assert (number_type, _library_zones(number, number_type)) == (kind, zones), phone
