"""Phone numbers of a lender file: any written form to E.164, with `phonenumbers`' verdicts.

`phonenumbers.parse` reads numbers from free text: it looks for the number inside the cell,
reads extensions, RFC 3966 URIs, vanity letters, dialling prefixes and national prefixes, and
normalises any Unicode digit, character by character. About 12 µs a number, three quarters
of a lender file row. Most cells are already E.164 (`+12065550134`: a plus and ASCII digits),
and for those the parse result is fixed by the digits alone: the country calling code is the
first 1-3 digits that name one, the rest is the national number. `_plain_e164` builds that
result directly, and steps aside (returns None, so `phonenumbers.parse` decides) whenever the
library would do more: a national prefix it might strip, a leading zero it would record, a
calling code it does not know. Whether the number is valid, and its E.164 form, are always
the library's own answer. tests/unit/test_phone_numbers.py holds both paths equal.
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber

# A plus, then ASCII digits only ([0-9]: `\d` would take any Unicode digit, which the library
# first normalises). 3-20 digits: a calling code and a national number of 2-17 digits.
_PLAIN = re.compile(r"\+([1-9][0-9]{2,19})")
_LONGEST_CALLING_CODE = 3
_SHORTEST_NATIONAL_NUMBER = 2  # phonenumbers refuses shorter national numbers
_LONGEST_NATIONAL_NUMBER = 17  # and longer ones
_ANYTHING = re.compile("")

# 2.06555E+10: a spreadsheet showed a long number in scientific notation and saved it so.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?E[+-]\d+")

# Keep every compiled metadata pattern (the library's own cache, off by default): a file's
# numbers come from more regions than the re module's cache of 512 patterns holds, and
# checking one number compiles a dozen of them.
phonenumbers.enable_pattern_cache()

_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "no digits of a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def to_e164(raw: str, region: str) -> str:
    """`raw` as E.164, read in `region` unless it carries its own calling code; ValueError
    naming why when it is not a valid phone number."""
    plain = _plain_split(raw)
    if plain is not None:
        calling_code, national = plain
        # The region's own calling code and valid there: the library's E.164 form of such a
        # number is the cell itself (a plus, the calling code, the national number).
        if calling_code == _calling_code(region) and _national_valid_in(national, region):
            return raw
    number = _plain_number(plain)
    if number is None:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            refuse_scientific_notation(raw)
            reason = _PARSE_ERRORS.get(exc.error_type, "unreadable")
            raise ValueError(f"not a phone number ({reason})") from exc
    # Valid for the expected region settles it at half the cost of asking every region
    # that shares the calling code (+1 has 25); otherwise ask them all.
    expected = _calling_code(region) == number.country_code
    if not (expected and _valid_in(number, region)) and not phonenumbers.is_valid_number(number):
        refuse_scientific_notation(raw)
        where = "" if raw.lstrip().startswith("+") else f" in region {region}"
        raise ValueError(f"not a valid phone number{where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def refuse_scientific_notation(raw: str) -> None:
    if _SCIENTIFIC.fullmatch(raw.strip()):
        raise ValueError(
            f"{raw.strip()!r} is in scientific notation, as a spreadsheet shows long numbers: "
            "digits may be lost; format the column as text and export the file again"
        )


def _plain_e164(raw: str) -> PhoneNumber | None:
    """What `phonenumbers.parse(raw, any region)` returns when `raw` is `+` and ASCII digits
    and the library would only split off the calling code; None in every other case."""
    return _plain_number(_plain_split(raw))


def _plain_number(plain: tuple[int, str] | None) -> PhoneNumber | None:
    if plain is None:
        return None
    calling_code, national = plain
    return PhoneNumber(country_code=calling_code, national_number=int(national))


def _plain_split(raw: str) -> tuple[int, str] | None:
    """(calling code, national number) when `_plain_e164` takes its short path, else None."""
    found = _PLAIN.fullmatch(raw)
    if found is None:
        return None
    digits = found[1]
    split = _calling_code_of(digits[:_LONGEST_CALLING_CODE])
    if split is None:
        return None  # the library retries without the plus: let it
    length, calling_code, prefix = split
    national = digits[length:]
    if not _SHORTEST_NATIONAL_NUMBER <= len(national) <= _LONGEST_NATIONAL_NUMBER:
        return None
    if national.startswith("0"):
        return None  # the library records leading zeros (Italian numbers)
    if prefix is not None and prefix.match(national):
        return None  # the library may strip it as a national prefix or carrier code
    return calling_code, national


@cache  # keyed by the first three digits: at most 900 entries
def _calling_code_of(first: str) -> tuple[int, int, re.Pattern[str] | None] | None:
    """(its length, the calling code, its national prefix pattern) of the calling code that
    `first` (the first 1-3 digits after the plus) starts with, None when none does."""
    for length in range(1, len(first) + 1):
        calling_code = int(first[:length])
        if calling_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return length, calling_code, _national_prefix(calling_code)
    return None


@cache
def _calling_code(region: str) -> int:
    return int(phonenumbers.country_code_for_region(region))


@cache
def _national_prefix(calling_code: int) -> re.Pattern[str] | None:
    """The national prefix (and carrier code) pattern the library tries on a national number
    of this calling code's main region, compiled once."""
    region = phonenumbers.region_code_for_country_code(calling_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)
    if metadata is None:
        return _ANYTHING  # no metadata to reason from: always leave the number to the library
    pattern = metadata.national_prefix_for_parsing
    return re.compile(pattern) if pattern else None


def _valid_in(number: PhoneNumber, region: str) -> bool:
    """`phonenumbers.is_valid_number_for_region(number, region)` for a number of the
    region's own calling code: its national number fits the region's general pattern and
    the pattern of some type of number (fixed line, mobile, toll free, …). The library asks
    the same with a dozen calls a number; here each region's patterns are gathered once."""
    if _region_patterns(region) is None:
        return phonenumbers.is_valid_number_for_region(number, region)
    return _national_valid_in(phonenumbers.national_significant_number(number), region)


def _national_valid_in(national: str, region: str) -> bool:
    """`_valid_in` of a number of the region's calling code, given its national significant
    number (no leading zeros): False when the region has no metadata to judge by (the
    caller then asks the library)."""
    patterns = _region_patterns(region)
    if patterns is None:
        return False
    general, types = patterns
    return _fits(national, general) and any(_fits(national, kind) for kind in types)


_Desc = tuple[frozenset[int], re.Pattern[str]] | None
# The types the library tries in turn; any match makes the number valid, so the common
# ones go first here.
_TYPES = (
    "fixed_line",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


@cache
def _region_patterns(region: str) -> tuple[_Desc, tuple[_Desc, ...]] | None:
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    if metadata is None:
        return None
    names = _TYPES if metadata.same_mobile_and_fixed_line_pattern else ("mobile", *_TYPES)
    return _desc(metadata.general_desc), tuple(_desc(getattr(metadata, n)) for n in names)


def _desc(desc: phonenumbers.PhoneNumberDesc | None) -> _Desc:
    if desc is None or not desc.national_number_pattern:
        return None  # the library matches nothing against an absent pattern
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _fits(national: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None
