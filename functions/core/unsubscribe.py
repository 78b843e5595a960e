"""Signed one-click unsubscribe links (RFC 8058; docs/compliance.md, Opt-out and consent).

A token is `base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))`, the
payload a compact JSON of channel, address, lender, account and issue time. The key comes from
Secrets Manager at the edge (never from code); this module only signs and verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.core.errors import ConfigError, RungError

MIN_KEY_BYTES = 32  # HMAC-SHA256: a key shorter than the digest weakens it
MAX_TOKEN_CHARS = 2048  # refuse absurd inputs before decoding them
CLOCK_SKEW = timedelta(minutes=5)  # tokens "issued" slightly in the future (clock drift) pass
QUERY_PARAMETER = "token"  # ?token=… on the unsubscribe URL


class TokenProblem(StrEnum):
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"


class InvalidUnsubscribeToken(RungError):
    """The token cannot be trusted. `problem` is for logs and metrics only: the borrower sees one
    generic page whatever the cause, so a forger learns nothing."""

    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(f"unsubscribe token {problem.value}")
        self.problem = problem


class UnsubscribeClaims(BaseModel):
    """What a valid token asserts: this address asked to stop email for this account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Literal["email"] = "email"
    address: str = Field(min_length=3)
    lender_id: str = Field(min_length=1)
    account_id: str = Field(min_length=1)
    issued_at: int = Field(ge=0)  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"unsubscribe signing key must be at least {MIN_KEY_BYTES} bytes")


def _signature(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()


def sign_token(claims: UnsubscribeClaims, key: bytes) -> str:
    _check_key(key)
    body = json.dumps(claims.model_dump(), separators=(",", ":"), sort_keys=True)
    payload = _b64(body.encode("utf-8"))
    return f"{payload}.{_b64(_signature(key, payload))}"


def verify_token(token: str, key: bytes, *, now: datetime, max_age: timedelta) -> UnsubscribeClaims:
    """The claims of a genuine, unexpired token; InvalidUnsubscribeToken otherwise."""
    _check_key(key)
    if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise InvalidUnsubscribeToken(TokenProblem.MALFORMED)
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
        body = _unb64(payload)
    except (binascii.Error, ValueError) as exc:
        raise InvalidUnsubscribeToken(TokenProblem.MALFORMED) from exc
    # Constant-time comparison: timing must not reveal how much of a forged signature matched.
    if not hmac.compare_digest(given, _signature(key, payload)):
        raise InvalidUnsubscribeToken(TokenProblem.FORGED)
    try:
        claims = UnsubscribeClaims.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise InvalidUnsubscribeToken(TokenProblem.MALFORMED) from exc
    issued = datetime.fromtimestamp(claims.issued_at, UTC)
    if issued > now + CLOCK_SKEW:
        raise InvalidUnsubscribeToken(TokenProblem.MALFORMED)
    if now - issued > max_age:
        raise InvalidUnsubscribeToken(TokenProblem.EXPIRED)
    return claims


def make_unsubscribe_url(
    base_url: str,
    key: bytes,
    *,
    address: str,
    lender_id: str,
    account_id: str,
    issued_at: datetime,
) -> str:
    """The https URL for the `List-Unsubscribe` header and the email body's link (RFC 8058)."""
    parts, base_query = _base_url(base_url)
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    claims = UnsubscribeClaims(
        address=address.lower(),
        lender_id=lender_id,
        account_id=account_id,
        issued_at=int(issued_at.timestamp()),
    )
    query = [*base_query, (QUERY_PARAMETER, sign_token(claims, key))]
    return urlunsplit(parts._replace(query=urlencode(query), path=parts.path or "/"))


@lru_cache(maxsize=8)
def _base_url(base_url: str) -> tuple[SplitResult, tuple[tuple[str, str], ...]]:
    """The configured base URL split, and its query's pairs (every link of a run shares it)."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.netloc:
        raise ConfigError("unsubscribe base URL must be an absolute https URL (RFC 8058)")
    return parts, tuple(parse_qsl(parts.query))
