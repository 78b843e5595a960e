"""Signed one-click unsubscribe tokens (RFC 8058; docs/compliance.md, Opt-out and consent)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.adapters.memory import (
    MemoryAccountStore,
    MemoryDecisionLog,
    MemoryEmail,
    MemoryInboundLog,
    MemoryLadderControl,
    MemorySms,
    MemorySuppressionStore,
)
from functions.core.errors import ConfigError
from functions.core.feedback import Feedback
from functions.core.models import Channel, SuppressionSource
from functions.core.replies import load_reply_rules
from functions.core.unsubscribe import (
    InvalidUnsubscribeToken,
    TokenProblem,
    UnsubscribeClaims,
    make_unsubscribe_url,
    sign_token,
    verify_token,
)
from functions.settings import PROJECT_ROOT

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
ISSUED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
MAX_AGE = timedelta(days=60)
CLAIMS = UnsubscribeClaims(
    address="jane.doe@example.com",
    lender_id="demo",
    account_id="A-1",
    issued_at=int(ISSUED.timestamp()),
)


def _problem(token: str, *, key: bytes = KEY, now: datetime = ISSUED) -> TokenProblem:
    with pytest.raises(InvalidUnsubscribeToken) as caught:
        verify_token(token, key, now=now, max_age=MAX_AGE)
    return caught.value.problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_token_round_trip_returns_the_claims() -> None:
    token = sign_token(CLAIMS, KEY)
    assert verify_token(token, KEY, now=ISSUED + timedelta(days=59), max_age=MAX_AGE) == CLAIMS


def test_token_signed_with_another_key_is_forged() -> None:
    assert _problem(sign_token(CLAIMS, OTHER_KEY)) is TokenProblem.FORGED


def test_token_with_tampered_payload_is_forged() -> None:
    # Given a genuine token whose payload is swapped for another address, signature kept
    payload, signature = sign_token(CLAIMS, KEY).split(".")
    evil = json.loads(base64.urlsafe_b64decode(payload + "=="))
    evil["address"] = "victim@example.com"
    tampered = _b64(json.dumps(evil, separators=(",", ":"), sort_keys=True).encode())
    # Then it is refused
    assert _problem(f"{tampered}.{signature}") is TokenProblem.FORGED


def test_token_with_tampered_signature_is_forged() -> None:
    payload, signature = sign_token(CLAIMS, KEY).split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert _problem(f"{payload}.{flipped}") is TokenProblem.FORGED


def test_token_past_max_age_is_expired() -> None:
    token = sign_token(CLAIMS, KEY)
    assert _problem(token, now=ISSUED + MAX_AGE + timedelta(seconds=1)) is TokenProblem.EXPIRED


def test_token_issued_in_the_future_is_refused() -> None:
    token = sign_token(CLAIMS, KEY)
    assert _problem(token, now=ISSUED - timedelta(hours=1)) is TokenProblem.MALFORMED


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "!!!.???", "x" * 3000, _b64(b"not json") + ".sig"]
)
def test_garbage_tokens_are_malformed_or_forged(token: str) -> None:
    assert _problem(token) in (TokenProblem.MALFORMED, TokenProblem.FORGED)


def test_signed_garbage_payload_is_malformed() -> None:
    # Given a payload that is signed correctly but is not our claims (e.g. an old format)
    payload = _b64(b'{"who":"me"}')
    signature = _b64(hmac.new(KEY, payload.encode(), hashlib.sha256).digest())
    assert _problem(f"{payload}.{signature}") is TokenProblem.MALFORMED


def test_short_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        sign_token(CLAIMS, b"short")


def test_make_unsubscribe_url_keeps_base_query_and_lowercases_address() -> None:
    url = make_unsubscribe_url(
        "https://u.example/unsub?lang=en",
        KEY,
        address="Jane.Doe@Example.com",
        lender_id="demo",
        account_id="A-1",
        issued_at=ISSUED,
    )
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path, query["lang"]) == (
        "https",
        "u.example",
        "/unsub",
        ["en"],
    )
    claims = verify_token(query["token"][0], KEY, now=ISSUED, max_age=MAX_AGE)
    assert claims.address == "jane.doe@example.com"


def test_make_unsubscribe_url_requires_https() -> None:
    # RFC 8058: the List-Unsubscribe URI for one-click must be https
    with pytest.raises(ConfigError, match="https"):
        make_unsubscribe_url(
            "http://u.example/",
            KEY,
            address="a@b.example",
            lender_id="demo",
            account_id="A-1",
            issued_at=ISSUED,
        )


def test_unsubscribe_replayed_after_suppression_is_idempotent() -> None:
    # Given a valid token that was already used once
    class Ports:
        accounts = MemoryAccountStore()
        suppressions = MemorySuppressionStore()
        ladders = MemoryLadderControl()
        sms = MemorySms()
        email = MemoryEmail()
        inbound = MemoryInboundLog()
        decisions = MemoryDecisionLog()

    feedback = Feedback(
        ports=Ports(), rules=load_reply_rules(PROJECT_ROOT), config_root=PROJECT_ROOT
    )
    claims = verify_token(sign_token(CLAIMS, KEY), KEY, now=ISSUED, max_age=MAX_AGE)
    first = feedback.on_unsubscribe(claims, at=ISSUED)
    stored = Ports.suppressions.get(Channel.EMAIL, "jane.doe@example.com")
    # When the same link is used again a day later
    again = feedback.on_unsubscribe(claims, at=ISSUED + timedelta(days=1))
    # Then the suppression stands unchanged, nothing new is written, nothing is sent
    assert first.suppressed and not again.suppressed
    assert stored is not None and stored.source is SuppressionSource.UNSUBSCRIBE
    assert Ports.suppressions.get(Channel.EMAIL, "JANE.DOE@example.com") == stored
    assert Ports.email.sent == [] and Ports.sms.sent == []
