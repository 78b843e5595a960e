"""The per-domain short path gives exactly `validate_email`'s normalised address or reason."""

from __future__ import annotations

import random

import pytest

from functions.core.email_addresses import normalized_email
from tests.unit import reference_rules as reference
from tests.unit.reference_rules import verdict

DOMAINS = [
    "example.com",
    "EXAMPLE.com",
    "mail.example.co.uk",
    "xn--bcher-kva.example",  # IDNA ASCII: normalised to Unicode
    "bücher.example",
    "ＥＸＡＭＰＬＥ.com",  # full-width letters
    "例え.テスト",
    "localhost",  # no dot: refused
    "example..com",
    "-example.com",
    "example.com.",
    "a" * 64 + ".com",  # a label too long
    ("a" * 60 + ".") * 4 + "com",  # long, near the whole-address limit
    "[192.0.2.1]",  # a domain literal: refused by default
    "example.invalid",  # special-use
    "exa mple.com",
    'ex"ample.com',
    "example.com>",
    "@example.com",
]
LOCALS = [
    "user",
    "User.Name+tag",
    "first.last",
    "a" * 64,
    "a" * 65,
    "postmaster",  # RFC 2142 role name: the library lower-cases it
    "POSTMASTER",
    "Abuse",
    '"quoted local"',
    '"a@b"',
    "user.",
    ".user",
    "us..er",
    "用户",
    "café",
    "cafe\u0301",  # a combining accent: normalised to NFC
    "",
    "o'brien",
    "x" * 200,
]


def _addresses() -> list[str]:
    pairs = [f"{local}@{domain}" for domain in DOMAINS for local in LOCALS]
    # The same domains again in another order: the second sighting takes the short path.
    rng = random.Random(7)
    again = pairs[:]
    rng.shuffle(again)
    return [*pairs, *again, "no-at-sign", "two@at@signs.com", "Name <user@example.com>"]


def test_every_address_gets_the_library_s_verdict() -> None:
    for address in _addresses():
        expected = verdict(reference.normalized_email, address)
        assert verdict(normalized_email, address) == expected, address


def test_a_domain_seen_once_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import functions.core.email_addresses as emails

    normalized_email("first@seen-once.example")
    checked: list[str] = []
    monkeypatch.setattr(emails, "validate_email", lambda value, **_: checked.append(value))

    assert normalized_email("second@seen-once.example") == "second@seen-once.example"
    assert checked == []
