"""The phone and email rules as they were before their short paths: every number through
`phonenumbers.parse`, every address through `validate_email`. Kept only here, as the
reference the fast rules must agree with, verdict for verdict and message for message."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from functions.core.phone_numbers import _PARSE_ERRORS, refuse_scientific_notation


def to_e164(raw: str, region: str) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        refuse_scientific_notation(raw)
        reason = _PARSE_ERRORS.get(exc.error_type, "unreadable")
        raise ValueError(f"not a phone number ({reason})") from exc
    expected = phonenumbers.country_code_for_region(region) == number.country_code
    if not (expected and phonenumbers.is_valid_number_for_region(number, region)) and not (
        phonenumbers.is_valid_number(number)
    ):
        refuse_scientific_notation(raw)
        where = "" if raw.lstrip().startswith("+") else f" in region {region}"
        raise ValueError(f"not a valid phone number{where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalized_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


def verdict(rule: object, *args: str) -> tuple[bool, str]:
    """(True, the normalised value) or (False, the reason) of a rule on `args`."""
    try:
        return True, rule(*args)  # type: ignore[operator]
    except ValueError as exc:
        return False, str(exc)
