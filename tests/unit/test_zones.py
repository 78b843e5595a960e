"""Candidate zones: every zone the phone, the address and the lender's zone suggest."""

from __future__ import annotations

import collections
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.tzdata import TIMEZONE_DATA

from functions.core.lender_file import FileReport, validate_lender_file
from functions.core.lenders import load_lender
from functions.core.models import Channel
from functions.core.policy import GateInput, decide
from functions.core.profiles import load_profiles
from functions.core.quiet_hours import is_allowed
from functions.core.zones import load_atlas
from functions.settings import PROJECT_ROOT

ATLAS = load_atlas(PROJECT_ROOT)
BOOK = load_profiles(PROJECT_ROOT)
DEMO = load_lender(PROJECT_ROOT, "demo")
SHANGHAI_PHONE = "+8613800138000"


def test_foreign_phone_with_us_state_adds_the_state() -> None:
    # Given a Chinese mobile and a New York address (no country column)
    zones = ATLAS.candidates(SHANGHAI_PHONE, None, "NY", None, None)
    # Then both places are candidates and the profile is the address's
    assert set(zones) == {"America/New_York", "Asia/Shanghai"}
    assert BOOK.profile_for_place(ATLAS.region_of(SHANGHAI_PHONE, None, "NY"), "NY").name == "US"


def test_foreign_phone_with_us_state_is_not_allowed_at_seven_in_new_york() -> None:
    # 07:00 EST is 20:00 in Shanghai: inside Shanghai's window, outside New York's
    seven_ny = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    zones = ATLAS.candidates(SHANGHAI_PHONE, None, "NY", None, None)
    assert not is_allowed(seven_ny, zones, BOOK.profiles["US"])


def test_state_of_another_country_is_not_read_as_a_us_state() -> None:
    # With an explicit country, `state` belongs to that country: no US zone appears
    zones = ATLAS.candidates(SHANGHAI_PHONE, "CN", "NY", None, None)
    assert "Asia/Shanghai" in zones
    assert not [name for name in zones if name.startswith("America/")]


# Known facts (each county's zone from the tz database's zone1970.tab comments):
# 850 Pensacola (Escambia, Central) and Tallahassee (Leon, Eastern); 270 Bowling Green (Central)
# and Elizabethtown (Eastern); 541 Ontario OR (Malheur, Mountain) and Eugene (Pacific);
# 906 Marquette (Eastern) and Iron Mountain (Dickinson, Central); 308 Scottsbluff (Mountain)
# and Grand Island (Central). Overlays share the territory of the code they overlay.
@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+18505550100", {"America/New_York", "America/Chicago"}),
        ("+14485550100", {"America/New_York", "America/Chicago"}),
        ("+12705550100", {"America/New_York", "America/Chicago"}),
        ("+13645550100", {"America/New_York", "America/Chicago"}),
        ("+15415550100", {"America/Los_Angeles", "America/Denver"}),
        ("+14585550100", {"America/Los_Angeles", "America/Denver"}),
        ("+19065550100", {"America/New_York", "America/Chicago"}),
        ("+13085550100", {"America/Chicago", "America/Denver"}),
    ],
)
def test_split_area_code_contributes_every_zone(phone: str, expected: set[str]) -> None:
    assert expected <= set(ATLAS.candidates(phone, None, None, None, None))


def test_single_zone_area_code_stays_single() -> None:
    assert ATLAS.candidates("+12125550123", None, None, None, None) == ("America/New_York",)


def test_split_area_code_says_why() -> None:
    evidence = ATLAS.evidence("+18505550100", None, None, None, None)
    assert evidence.sources()["America/Chicago"] == ["phone area code 850 spans zones"]


def test_area_code_table_covers_every_split_the_phone_library_knows() -> None:
    # The table is derived from the library's exchange-level map: a newer library naming a
    # split area code or zone the table lacks fails here (regenerate the table).
    union: dict[str, set[str]] = collections.defaultdict(set)
    for prefix, zones in TIMEZONE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4:
            union[prefix[1:4]].update(zones)
    table = yaml.safe_load(
        (PROJECT_ROOT / "config" / "nanp_area_code_zones.yaml").read_text(encoding="utf-8")
    )["area_codes"]
    for npa, zones in union.items():
        if len(zones) > 1:
            assert npa in table, npa
            assert zones <= set(table[npa]), npa


def test_toll_free_with_address_uses_the_address() -> None:
    evidence = ATLAS.evidence("+18005550100", "US", "CA", None, None)
    assert evidence.zones == ("America/Los_Angeles",)
    assert evidence.notes and "toll-free" in evidence.notes[0]


def test_toll_free_without_address_keeps_every_north_american_zone() -> None:
    zones = ATLAS.candidates("+18005550100", None, None, None, None)
    assert {"America/New_York", "Pacific/Honolulu", "Pacific/Guam"} <= set(zones)
    assert len(zones) > 30


def test_foreign_mobile_is_a_place_not_dropped_beside_an_address() -> None:
    # A mobile names its country: it stays a candidate next to the address
    zones = ATLAS.candidates("+447911123456", "US", "NY", None, None)
    assert {"America/New_York", "Europe/London"} <= set(zones)


# DST properties: the union of zones never allows an instant that any single source forbids.
SPLIT_PHONES = ["+18505550100", "+12705550100", "+15415550100", "+19285550100", "+17015550100"]
STATES = ["NY", "CA", "AZ", "FL", "IN", "HI", None]
DST_DAYS = [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]


@settings(max_examples=300, deadline=None)
@given(
    phone=st.sampled_from([*SPLIT_PHONES, SHANGHAI_PHONE, "+447911123456"]),
    state=st.sampled_from(STATES),
    day=st.sampled_from(DST_DAYS),
    minutes=st.integers(min_value=-36 * 60, max_value=36 * 60),
)
def test_allowed_exactly_when_every_suggested_zone_is_in_hours(
    phone: str, state: str | None, day: datetime, minutes: int
) -> None:
    # Given a phone (split area codes, foreign mobiles) and maybe a US state, around a DST change
    instant = day + timedelta(minutes=minutes)
    profile = BOOK.profiles["DEFAULT"]  # 08:00-21:00, no blackout days
    union = ATLAS.candidates(phone, None, state, None, None)
    # Then the gate allows the instant iff the wall clock reads 08:00-21:00 in every zone that
    # the phone alone or the state alone suggests
    alone = [*ATLAS.candidates(phone, None, None, None, None)]
    if state:
        alone += ATLAS.candidates(None, "US", state, None, None)
    in_hours = all(8 <= instant.astimezone(ZoneInfo(name)).hour < 21 for name in alone)
    assert set(union) == set(alone)
    assert is_allowed(instant, union, profile) == in_hours


# Boundary: a lender-file row, as validated, decided by the gate.
@pytest.mark.parametrize(
    ("row", "at", "verdict", "zones"),
    [
        # Chinese mobile, New York address, 07:00 EST: deferred for New York's sake
        (
            "A1,+8613800138000,,10,USD,2026-11-25,,NY",
            datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
            "DEFER",
            {"America/New_York", "Asia/Shanghai"},
        ),
        # Pensacola-side 850 number at 08:30 EST (07:30 CST): deferred for Central's sake
        (
            "A2,+18505550100,,10,USD,2026-11-25,,",
            datetime(2026, 12, 1, 13, 30, tzinfo=UTC),
            "DEFER",
            {"America/New_York", "America/Chicago"},
        ),
        # Toll-free number with a California address, 12:00 PST: the address decides
        (
            "A3,+18005550100,,10,USD,2026-11-25,US,CA",
            datetime(2026, 12, 1, 20, 0, tzinfo=UTC),
            "SEND",
            {"America/Los_Angeles"},
        ),
    ],
)
def test_lender_file_row_zones_reach_the_gate(
    row: str, at: datetime, verdict: str, zones: set[str]
) -> None:
    header = "account_id,phone,email,amount_due,currency,due_date,country,state"
    report = FileReport()
    (result,) = validate_lender_file(io.BytesIO(f"{header}\n{row}\n".encode()), DEMO, report)
    assert result.value is not None, result.errors
    account = result.value.to_account(DEMO)
    gate = GateInput(account=account, channel=Channel.SMS, now=at, template_version="v1")
    decision = decide(gate, BOOK)
    assert (decision.verdict.name, set(decision.zones)) == (verdict, zones)
