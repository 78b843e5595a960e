"""The E.164 short path gives exactly what `phonenumbers.parse` gives, or steps aside."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from functions.core.phone_numbers import _plain_e164, to_e164
from tests.unit import reference_rules as reference
from tests.unit.reference_rules import verdict

CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
TRICKY = [
    "+12065550134",
    "+1 206 555 0134",
    "+11234567890",  # a leading 1 after +1: the national prefix of the NANP
    "+442079460958",
    "+4402079460958",  # a trunk zero written after the calling code
    "+390612345678",  # Italian leading zero: kept by the library
    "+8613800138000",
    "+86013800138000",
    "+80012345678",  # non-geographic (freephone)
    "+9999999999",  # no such calling code
    "+0123456789",
    "+1",
    "+12",
    "+123",
    "+1" + "2" * 17,
    "+1" + "2" * 18,
    "+１２０６５５５０１３４",  # full-width digits: the library normalises them
    "+5491123456789",  # Argentina: a national-prefix transform rule
    "+525512345678",
    "+2.06555E+10",
]


def _library(raw: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None


def _generated(count: int) -> list[str]:
    rng = random.Random(20261202)
    numbers = []
    for _ in range(count):
        code = rng.choice(CALLING_CODES)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
        numbers.append(f"+{code}{digits}")
    return numbers


@pytest.mark.parametrize("raw", TRICKY)
def test_tricky_numbers_parse_as_the_library_parses_them(raw: str) -> None:
    short = _plain_e164(raw)
    assert short is None or short == _library(raw)


def test_every_calling_code_and_length_parses_as_the_library_parses_it() -> None:
    taken = 0
    for raw in _generated(60_000):
        short = _plain_e164(raw)
        if short is not None:
            taken += 1
            assert short == _library(raw), raw
    assert taken > 30_000  # the short path is the common one, not a rarity


@pytest.mark.parametrize("region", ["US", "CN", "GB", "IT", "AR"])
def test_verdicts_reasons_and_e164_forms_match_the_reference(region: str) -> None:
    for raw in [*TRICKY, *_generated(5_000)]:
        assert verdict(to_e164, raw, region) == verdict(reference.to_e164, raw, region), raw
