"""Keys read from Secrets Manager (never from code or env): the unsubscribe-link signing key,
the OpenPGP key that decrypts lender files."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from functions.core.errors import ConfigError

SECRET_MAX_AGE_S = 300  # cached this long per warm container; a rotated key is seen within 5 min


def signing_key(secret_arn: str) -> bytes:
    """The HMAC key for one-click unsubscribe tokens (Powertools parameters, cached)."""
    if not secret_arn:
        raise ConfigError("RUNG_UNSUBSCRIBE_SECRET_ARN is not set")
    secret = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_S)
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")


def pgp_secret_key(secret_arn: str) -> str:
    """Our ASCII-armored OpenPGP secret key (Powertools parameters, cached); `rung pgp-key`
    installs it. The stack creates the secret with a random placeholder until then."""
    if not secret_arn:
        raise ConfigError("RUNG_PGP_SECRET_ARN is not set")
    secret = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_S)
    return secret.decode("utf-8") if isinstance(secret, bytes) else secret


def console_session_key(secret_arn: str) -> bytes:
    """The console's HMAC key for sign-in state and CSRF tokens (Powertools parameters,
    cached)."""
    secret = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_S)
    return secret if isinstance(secret, bytes) else secret.encode("utf-8")
