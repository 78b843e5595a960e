"""Sign-in to the console in AWS: Cognito's managed login, the OAuth 2.0 authorization-code
flow with PKCE (RFC 7636), and a session cookie holding the verified ID token.

    GET /auth/login?next=/accounts   → 302 to Cognito's /oauth2/authorize (state, S256 challenge;
                                        the verifier, state and next wait in a signed cookie)
    GET /auth/callback?code&state    → the code is exchanged for tokens at /oauth2/token with the
                                        verifier; the ID token is verified and becomes the session
    POST /auth/logout (CSRF token)   → the session cookie is cleared, then Cognito's /logout

Every request is identified by verifying the ID token in the `__Host-rung_session` cookie
(RS256 against the pool's JSON Web Key Set: issuer, audience, expiry, `token_use` = id), so a
session ends when its token does and the groups are those Cognito signed. Cookies are
`__Host-` (Secure, no Domain, Path=/), HttpOnly and SameSite=Lax: Lax lets the callback, a
top-level navigation from Cognito's domain, carry the login cookie back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from functions.console.app import (
    CSRF_FIELD,
    Identify,
    csrf_cookie_name,
    csrf_valid,
    form_fields,
    request_cookies,
)
from functions.console.identity import Action, ConsoleUser
from functions.observability import logger

SESSION_COOKIE = "__Host-rung_session"
LOGIN_COOKIE = "__Host-rung_login"
LOGIN_PATH = "/auth/login"
CALLBACK_PATH = "/auth/callback"
LOGOUT_PATH = "/auth/logout"
# Cognito signs ID tokens with RS256 only.
ALGORITHMS = ["RS256"]
# A sign-in must come back from Cognito within this long (our choice: time to type a password
# and a TOTP code, short enough that a leaked login cookie is soon useless).
LOGIN_SECONDS = 600
# Clock skew tolerated between Cognito and Lambda (our choice: both use NTP-synchronised AWS
# clocks; a few seconds avoids refusing a token issued "in the future").
LEEWAY_SECONDS = 5
# RFC 7636 §4.1: the verifier is 43 to 128 characters of [A-Z a-z 0-9 - . _ ~];
# 64 random bytes in URL-safe base64 without padding are 86 of them.
VERIFIER_BYTES = 64
SCOPES = "openid email"
# Cognito's `token_use` claim of an ID token ("access" for access tokens); not a secret.
ID_TOKEN_USE = "id"  # noqa: S105
# Our choice: Cognito answers in well under a second; a stuck call should fail the request
# (the page says so) well before the console Lambda's own timeout.
TOKEN_TIMEOUT_SECONDS = 10
HTTP_TIMEOUT_SECONDS = 5  # fetching the pool's JWKS, once per cold start


class SignInError(Exception):
    """A sign-in could not complete (refused by Cognito, tampered or expired login state)."""


class InvalidSession(Exception):
    """The session cookie holds no valid ID token of this pool and client."""


@dataclass(frozen=True)
class CognitoConfig:
    """Where the pool, its managed login and the console are."""

    user_pool_id: str  # <region>_<id>
    client_id: str
    domain: str  # the managed login's host, e.g. rung-123.auth.eu-west-1.amazoncognito.com
    console_url: str  # the console's base URL, e.g. https://abc.execute-api.…/ (ends with /)

    @property
    def region(self) -> str:
        return self.user_pool_id.split("_", 1)[0]

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def redirect_uri(self) -> str:
        return self.console_url.rstrip("/") + CALLBACK_PATH

    def endpoint(self, path: str) -> str:
        return f"https://{self.domain}{path}"


# ------------------------------------------------------------------------------------ PKCE


def pkce_verifier() -> str:
    """A fresh code verifier (RFC 7636 §4.1)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(VERIFIER_BYTES)).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of `verifier`: BASE64URL(SHA256(ASCII(verifier))) (§4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# ------------------------------------------------------------------------------- redirects


def safe_next(candidate: str | None) -> str:
    """`candidate` if it is a path on this site, else `/`: never an open redirect.

    Refused: absolute URLs, scheme-relative `//host`, backslashes (browsers read `/\\host` as
    `//host`), control characters, and anything that is not a path from the root.
    """
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return "/"
    if "\\" in candidate or any(ord(char) < 0x20 or ord(char) == 0x7F for char in candidate):
        return "/"
    parts = urllib.parse.urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return "/"
    return candidate


# -------------------------------------------------------------------------- ID token check


class IdTokenVerifier:
    """Verifies Cognito ID tokens of one pool and app client.

    The signing keys come from the pool's JWKS through PyJWT's `PyJWKClient`, which caches
    them for the life of the Lambda environment and fetches again only for an unknown key id.
    """

    def __init__(self, config: CognitoConfig, jwks: jwt.PyJWKClient | None = None) -> None:
        self._config = config
        self._jwks = jwks or jwt.PyJWKClient(
            config.jwks_url, cache_keys=True, timeout=HTTP_TIMEOUT_SECONDS
        )

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, or InvalidSession saying why not."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._config.client_id,
                issuer=self._config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "token_use"]},
            )
        except (jwt.PyJWTError, ValueError) as invalid:
            raise InvalidSession(str(invalid)) from invalid
        if claims["token_use"] != ID_TOKEN_USE:
            raise InvalidSession(f"token_use is {claims['token_use']!r}, not 'id'")
        return claims

    def user(self, token: str) -> ConsoleUser:
        try:
            return ConsoleUser.from_claims(self.claims(token))
        except ValueError as unnamed:
            raise InvalidSession(str(unnamed)) from unnamed


def session_identity(verifier: IdTokenVerifier) -> Identify:
    """The console's `identify`: the user of the request's valid session cookie, else None."""

    def identify(event: APIGatewayProxyEventV2) -> ConsoleUser | None:
        token = request_cookies(event).get(SESSION_COOKIE)
        if token is None:
            return None
        try:
            user = verifier.user(token)
        except InvalidSession:
            return None
        # A person in no console group has no session (the callback opens none for them).
        return user if user.may(Action.VIEW) else None

    return identify


# ------------------------------------------------------------------------- code exchange

# (token endpoint URL, form fields) → the token endpoint's JSON answer
TokenExchange = Callable[[str, dict[str, str]], dict[str, Any]]


def post_token_request(url: str, form: dict[str, str]) -> dict[str, Any]:
    """POST the form to Cognito's token endpoint; its JSON answer, or SignInError."""
    if not url.startswith("https://"):
        raise SignInError(f"the token endpoint must be https: {url}")
    request = urllib.request.Request(  # noqa: S310 (https only, checked above)
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TOKEN_TIMEOUT_SECONDS) as answer:  # noqa: S310
            body: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        raise SignInError(f"Cognito refused the sign-in code (HTTP {refused.code})") from refused
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as failed:
        raise SignInError(f"Cognito's token endpoint did not answer: {failed}") from failed
    return body


# ------------------------------------------------------------------------- login state


@dataclass(frozen=True)
class LoginState:
    """What the callback needs from the login that started it, kept in a signed cookie."""

    state: str
    verifier: str
    next: str
    expires: int

    def seal(self, key: bytes) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps([self.state, self.verifier, self.next, self.expires]).encode()
        ).decode()
        return f"{payload}.{_mac(key, payload)}"

    @classmethod
    def unseal(cls, sealed: str, key: bytes, now: float) -> LoginState:
        payload, _, mac = sealed.partition(".")
        if not hmac.compare_digest(mac, _mac(key, payload)):
            raise SignInError("the sign-in state was altered; start again")
        try:
            state, verifier, next_path, expires = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError) as garbled:
            raise SignInError("the sign-in state is unreadable; start again") from garbled
        if not isinstance(expires, int) or expires <= now:
            raise SignInError("the sign-in took too long; start again")
        return cls(str(state), str(verifier), safe_next(str(next_path)), expires)


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, b"rung-login|" + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# ------------------------------------------------------------------------------- routes


def add_auth_routes(
    app: APIGatewayHttpResolver,
    *,
    config: CognitoConfig,
    verifier: IdTokenVerifier,
    signing_key: bytes,
    exchange: TokenExchange = post_token_request,
    clock: Callable[[], float] = time.time,
) -> None:
    """Register /auth/login, /auth/callback and /auth/logout on the console's resolver."""

    @app.get(LOGIN_PATH)
    def login() -> Response[str]:
        query = app.current_event.query_string_parameters or {}
        verifier_text = pkce_verifier()
        state = LoginState(
            state=secrets.token_urlsafe(32),
            verifier=verifier_text,
            next=safe_next(query.get("next")),
            expires=int(clock()) + LOGIN_SECONDS,
        )
        authorize = (
            config.endpoint("/oauth2/authorize")
            + "?"
            + urllib.parse.urlencode(
                {
                    "response_type": "code",
                    "client_id": config.client_id,
                    "redirect_uri": config.redirect_uri,
                    "scope": SCOPES,
                    "state": state.state,
                    "code_challenge": pkce_challenge(verifier_text),
                    "code_challenge_method": "S256",
                }
            )
        )
        return _redirect(authorize, [_cookie(LOGIN_COOKIE, state.seal(signing_key), LOGIN_SECONDS)])

    @app.get(CALLBACK_PATH)
    def callback() -> Response[str]:
        query = app.current_event.query_string_parameters or {}
        sealed = request_cookies(app.current_event).get(LOGIN_COOKIE)
        try:
            if "error" in query:
                raise SignInError(f"Cognito refused the sign-in: {query['error']}")
            if sealed is None:
                raise SignInError("no sign-in was started from this browser; start again")
            started = LoginState.unseal(sealed, signing_key, clock())
            if not hmac.compare_digest(query.get("state", ""), started.state):
                raise SignInError("the sign-in answer does not match the sign-in started here")
            code = query.get("code")
            if not code:
                raise SignInError("Cognito sent no sign-in code")
            tokens = exchange(
                config.endpoint("/oauth2/token"),
                {
                    "grant_type": "authorization_code",
                    "client_id": config.client_id,
                    "code": code,
                    "redirect_uri": config.redirect_uri,
                    "code_verifier": started.verifier,
                },
            )
            id_token = tokens.get("id_token")
            if not isinstance(id_token, str):
                raise SignInError("Cognito's answer holds no ID token")
            claims = verifier.claims(id_token)
            user = verifier.user(id_token)
        except (SignInError, InvalidSession) as failed:
            logger.warning("console sign-in refused", extra={"reason": str(failed)})
            return _sign_in_failed(str(failed))
        if not user.may(Action.VIEW):
            logger.warning("console sign-in without a console group")
            return _plain_page(
                403,
                "No access yet",
                "You are signed in, but in no console group: ask an administrator to add you "
                "to one (viewer, author, approver or admin), then sign in again.",
                [_cookie(LOGIN_COOKIE, "", 0)],
            )
        lifetime = int(claims["exp"] - clock())
        return _redirect(
            started.next,
            [_cookie(SESSION_COOKIE, id_token, lifetime), _cookie(LOGIN_COOKIE, "", 0)],
        )

    @app.post(LOGOUT_PATH)
    def logout() -> Response[str]:
        # A form of the console's pages posts here with its CSRF token (another site must not
        # be able to sign people out); without a valid session there is nothing to protect.
        event = app.current_event
        token = request_cookies(event).get(SESSION_COOKIE)
        try:
            user = verifier.user(token) if token else None
        except InvalidSession:
            user = None
        if user is not None:
            sent = form_fields(event).get(CSRF_FIELD, "")
            kept = request_cookies(event).get(csrf_cookie_name(secure_cookies=True), "")
            if not (
                csrf_valid(signing_key, user.username, sent) and hmac.compare_digest(sent, kept)
            ):
                return _plain_page(
                    403, "Not signed out", "This form has expired: reload the page.", []
                )
        cognito_logout = (
            config.endpoint("/logout")
            + "?"
            + urllib.parse.urlencode(
                {"client_id": config.client_id, "logout_uri": config.console_url}
            )
        )
        return _redirect(cognito_logout, [_cookie(SESSION_COOKIE, "", 0)])


def _cookie(name: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        name,
        value,
        path="/",
        secure=True,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.LAX_MODE,
    )


def _redirect(location: str, cookies: list[Cookie]) -> Response[str]:
    return Response(
        status_code=302,
        headers={"Location": location, "Cache-Control": "no-store"},
        cookies=cookies,
        body="",
    )


def _sign_in_failed(reason: str) -> Response[str]:
    return _plain_page(400, "Sign-in failed", reason, [_cookie(LOGIN_COOKIE, "", 0)])


def _plain_page(status: int, title: str, reason: str, cookies: list[Cookie]) -> Response[str]:
    """A plain page (no personal data) saying why, with a way to start again."""
    body = (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<h1>{title}</h1><p>"
        + html.escape(reason)
        + f'</p><p><a href="{LOGIN_PATH}">Sign in again</a></p></html>'
    )
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
        cookies=cookies,
        body=body,
    )
