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
    number = _plain_e164(raw)
    if number is None:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            refuse_scientific_notation(raw)
            reason = _PARSE_ERRORS.get(exc.error_type, "unreadable")
            raise ValueError(f"not a phone number ({reason})") from exc
    # Valid for the expected region settles it at half the cost of asking every region
    # that shares the calling code (+1 has 25); otherwise ask them all.
    expected = phonenumbers.country_code_for_region(region) == number.country_code
    if not (expected and phonenumbers.is_valid_number_for_region(number, region)) and not (
        phonenumbers.is_valid_number(number)
    ):
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
    found = _PLAIN.fullmatch(raw)
    if found is None:
        return None
    digits = found[1]
    for length in range(1, _LONGEST_CALLING_CODE + 1):
        calling_code = int(digits[:length])
        if calling_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None  # the library retries without the plus: let it
    national = digits[length:]
    if not _SHORTEST_NATIONAL_NUMBER <= len(national) <= _LONGEST_NATIONAL_NUMBER:
        return None
    if national.startswith("0"):
        return None  # the library records leading zeros (Italian numbers)
    prefix = _national_prefix(calling_code)
    if prefix is not None and prefix.match(national):
        return None  # the library may strip it as a national prefix or carrier code
    return PhoneNumber(country_code=calling_code, national_number=int(national))


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
