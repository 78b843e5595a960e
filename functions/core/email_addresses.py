"""Email addresses of a lender file: syntax checked and normalised by `email-validator`.

`validate_email` checks the domain character by character (IDNA/UTS #46 tables): about 20 µs
an address, though a lender file holds a few thousand distinct domains for a million rows.
The verdict on an address is the verdict on its local part, then on its domain, then on the
lengths of the whole; the domain's depends on the domain alone. So the first address seen
with a domain is checked whole, and its normalised domain kept (bounded cache). Later
addresses with that domain take a short path when their local part is plain ASCII (the
library's own dot-atom pattern: it returns such a local part unchanged) and the whole stays
within the length limit: normalised address = local part + "@" + the kept domain. Anything
else (quoted or non-ASCII local parts, RFC 2142 role names it lower-cases, long addresses, a
domain not seen or refused) is checked whole. tests/unit/test_email_addresses.py holds both
paths equal.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
)

# A stand-in local part for checking a domain alone: plain ASCII, so it neither adds an
# error of its own nor changes how the library splits the address.
_PROBE_LOCAL = "a"
# Distinct domains remembered: a real file has a few thousand, a hostile one a million.
_DOMAINS_KEPT = 65536


class _Domain(NamedTuple):
    normalized: str  # as the library writes it in the normalised address
    longest_bytes: int  # the longest UTF-8 form the library length-checks (given, normal, ASCII)


def normalized_email(value: str) -> str:
    """`value` normalised, as `validate_email(value, check_deliverability=False)` would;
    ValueError naming the library's reason when it is not a valid address."""
    local, at, domain_part = value.partition("@")
    if at and DOT_ATOM_TEXT.match(local) and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES:
        domain = _known_domain(domain_part)
        # Within the limit in every form the library checks, the length check passes.
        if domain is not None and len(local) + 1 + domain.longest_bytes <= EMAIL_MAX_LENGTH:
            return f"{local}@{domain.normalized}"
    try:
        # Syntax only: a DNS lookup per row would make validation depend on the network.
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


@lru_cache(maxsize=_DOMAINS_KEPT)
def _known_domain(domain_part: str) -> _Domain | None:
    """The library's normalised form of a valid domain part, None when it refuses it (or
    sees more than a domain in it)."""
    if "@" in domain_part:
        return None
    try:
        checked = validate_email(f"{_PROBE_LOCAL}@{domain_part}", check_deliverability=False)
    except EmailNotValidError:
        return None
    if checked.local_part != _PROBE_LOCAL or checked.display_name is not None:
        return None
    forms = (domain_part, checked.domain, checked.ascii_domain)
    return _Domain(checked.domain, max(len(form.encode("utf-8")) for form in forms))
