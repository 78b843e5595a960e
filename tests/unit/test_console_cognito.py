"""Console sign-in: ID tokens checked against a JWKS, the PKCE code flow, redirects, cookies.

A locally generated RSA key stands in for the pool's signing key; its public half is served as
a JWKS file to PyJWT's real `PyJWKClient`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.console.app import CSRF_FIELD, csrf_token
from functions.console.cognito import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CognitoConfig,
    IdTokenVerifier,
    InvalidSession,
    LoginState,
    add_auth_routes,
    pkce_challenge,
    pkce_verifier,
    safe_next,
    session_identity,
)
from functions.console.identity import Action, Group

CONFIG = CognitoConfig(
    user_pool_id="eu-west-1_Abc123",
    client_id="console-client",
    domain="rung-test.auth.eu-west-1.amazoncognito.com",
    console_url="https://api.example.test/",
)
KID = "pool-key-1"
SIGNING_KEY = b"k" * 32


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


POOL_KEY = _private_key()
OTHER_KEY = _private_key()


class JwksServer:
    """The pool's /.well-known/jwks.json on 127.0.0.1, counting how often it is fetched."""

    def __init__(self) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(POOL_KEY.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
def verifier(jwks: JwksServer) -> IdTokenVerifier:
    return IdTokenVerifier(CONFIG, jwt.PyJWKClient(jwks.url))


def id_token(key: rsa.RSAPrivateKey = POOL_KEY, kid: str = KID, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "3f1c0e5a-0000-4000-8000-000000000001",
        "iss": CONFIG.issuer,
        "aud": CONFIG.client_id,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "cognito:username": "ana",
        "cognito:groups": ["author"],
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


# ---------------------------------------------------------------------- ID token checks


def test_valid_id_token_names_the_user_and_groups(verifier: IdTokenVerifier) -> None:
    user = verifier.user(id_token(**{"cognito:groups": ["author", "approver"]}))

    assert user.username == "ana"
    assert user.groups == {Group.AUTHOR, Group.APPROVER}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "another-client"}, "Audience"),
        ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"}, "(?i)issuer"),
        ({"exp": int(time.time()) - 60}, "(?i)expired"),
        ({"token_use": "access"}, "token_use"),
        ({"token_use": None}, "token_use"),
    ],
)
def test_id_token_of_another_client_pool_use_or_time_is_refused(
    verifier: IdTokenVerifier, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidSession, match=reason):
        verifier.claims(id_token(**overrides))


def test_tampered_id_token_is_refused(verifier: IdTokenVerifier) -> None:
    header, payload, signature = id_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["cognito:groups"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    with pytest.raises(InvalidSession, match="Signature"):
        verifier.claims(f"{header}.{forged}.{signature}")


def test_token_signed_by_a_key_the_pool_does_not_publish_is_refused(
    verifier: IdTokenVerifier,
) -> None:
    with pytest.raises(InvalidSession, match="attacker-key"):
        verifier.claims(id_token(key=OTHER_KEY, kid="attacker-key"))
    with pytest.raises(InvalidSession, match="Signature"):
        verifier.claims(id_token(key=OTHER_KEY, kid=KID))


def test_unsigned_token_is_refused(verifier: IdTokenVerifier) -> None:
    unsigned = jwt.encode(
        jwt.decode(id_token(), options={"verify_signature": False}),
        key=None,
        algorithm="none",
        headers={"kid": KID},
    )

    with pytest.raises(InvalidSession):
        verifier.claims(unsigned)


def test_signing_keys_are_fetched_once_and_kept(jwks: JwksServer) -> None:
    verifier = IdTokenVerifier(CONFIG, jwt.PyJWKClient(jwks.url))
    before = jwks.fetches

    for _ in range(5):
        verifier.claims(id_token())

    assert jwks.fetches - before == 1


def test_user_in_no_known_group_may_do_nothing_and_has_no_session(
    verifier: IdTokenVerifier,
) -> None:
    identify = session_identity(verifier)
    for groups in (None, [], ["auditors"]):
        token = id_token(**{"cognito:groups": groups})
        user = verifier.user(token)

        assert user.groups == frozenset()
        assert not any(user.may(action) for action in Action)
        assert identify(event("/", cookies={SESSION_COOKIE: token})) is None


def test_identify_reads_the_session_cookie(verifier: IdTokenVerifier) -> None:
    identify = session_identity(verifier)

    assert identify(event("/", cookies={SESSION_COOKIE: id_token()})) is not None
    assert identify(event("/")) is None
    assert identify(event("/", cookies={SESSION_COOKIE: "not-a-token"})) is None
    assert identify(event("/", cookies={SESSION_COOKIE: id_token(aud="x")})) is None
    assert identify(event("/", cookies={"rung_session": id_token()})) is None


# ---------------------------------------------------------------------------------- PKCE


def test_pkce_challenge_matches_rfc_7636_appendix_b() -> None:
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_pkce_verifier_is_fresh_and_within_rfc_7636_alphabet_and_length() -> None:
    verifiers = {pkce_verifier() for _ in range(50)}

    assert len(verifiers) == 50
    for verifier_text in verifiers:
        assert 43 <= len(verifier_text) <= 128
        assert set(verifier_text) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )


# ------------------------------------------------------------------------------ redirects


@pytest.mark.parametrize(
    "attempt",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "/%0d%0aLocation:%20https://evil.example".replace("%0d%0a", "\r\n"),
        "",
        None,
    ],
)
def test_next_outside_this_site_is_replaced_by_the_home_page(attempt: str | None) -> None:
    assert safe_next(attempt) == "/"


@pytest.mark.parametrize("path", ["/", "/accounts?id=A-1", "/templates/reminder-1/sms/en"])
def test_next_on_this_site_is_kept(path: str) -> None:
    assert safe_next(path) == path


# -------------------------------------------------------------------------------- routes


def event(
    path: str,
    query: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    method: str = "GET",
) -> APIGatewayProxyEventV2:
    return APIGatewayProxyEventV2(raw_event(path, query, cookies, method))


def raw_event(
    path: str,
    query: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urllib.parse.urlencode(query or {}),
        "queryStringParameters": query,
        "cookies": [f"{name}={value}" for name, value in (cookies or {}).items()],
        "headers": {"host": "api.example.test"},
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": "192.0.2.1"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


class FakeCognito:
    """Cognito's token endpoint: answers one code with an ID token, checking the verifier."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.challenge = ""

    def __call__(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        self.requests.append((url, form))
        assert pkce_challenge(form["code_verifier"]) == self.challenge, "PKCE verifier mismatch"
        return {"id_token": self.token, "access_token": "unused", "token_type": "Bearer"}


def app_with_auth(
    verifier: IdTokenVerifier, cognito: FakeCognito, clock: float | None = None
) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    add_auth_routes(
        app,
        config=CONFIG,
        verifier=verifier,
        signing_key=SIGNING_KEY,
        exchange=cognito,
        clock=(lambda: clock) if clock is not None else time.time,
    )
    return app


def call(app: APIGatewayHttpResolver, raw: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = app.resolve(raw, None)
    return answer


def set_cookies(answer: dict[str, Any]) -> dict[str, str]:
    return {cookie.split("=", 1)[0]: cookie for cookie in answer.get("cookies", [])}


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split("=", 1)[1].split(";", 1)[0]


def begin_login(
    app: APIGatewayHttpResolver, cognito: FakeCognito, next_path: str = "/accounts"
) -> tuple[dict[str, str], str]:
    """Start a sign-in: Cognito's authorize query, and the login cookie the browser keeps."""
    answer = call(app, raw_event("/auth/login", {"next": next_path}))
    location = urllib.parse.urlsplit(answer["headers"]["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    cognito.challenge = query["code_challenge"]
    return query, cookie_value(set_cookies(answer)[LOGIN_COOKIE])


def test_login_sends_the_browser_to_cognito_with_state_and_s256_challenge(
    verifier: IdTokenVerifier,
) -> None:
    cognito = FakeCognito(id_token())
    app = app_with_auth(verifier, cognito)

    answer = call(app, raw_event("/auth/login", {"next": "/accounts"}))

    assert answer["statusCode"] == 302
    location = urllib.parse.urlsplit(answer["headers"]["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        CONFIG.domain,
        "/oauth2/authorize",
    )
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["response_type"] == "code"
    assert query["client_id"] == CONFIG.client_id
    assert query["redirect_uri"] == "https://api.example.test/auth/callback"
    assert query["code_challenge_method"] == "S256"
    login_cookie = set_cookies(answer)[LOGIN_COOKIE]
    assert "Secure" in login_cookie and "HttpOnly" in login_cookie
    assert "SameSite=Lax" in login_cookie and "Path=/" in login_cookie
    started = LoginState.unseal(cookie_value(login_cookie), SIGNING_KEY, time.time())
    assert started.state == query["state"]
    assert pkce_challenge(started.verifier) == query["code_challenge"]
    assert started.verifier not in answer["headers"]["Location"]
    assert started.next == "/accounts"


def test_callback_exchanges_the_code_with_the_verifier_and_opens_a_session(
    verifier: IdTokenVerifier,
) -> None:
    cognito = FakeCognito(id_token())
    app = app_with_auth(verifier, cognito)
    query, login_cookie = begin_login(app, cognito)

    answer = call(
        app,
        raw_event(
            "/auth/callback",
            {"code": "the-code", "state": query["state"]},
            {LOGIN_COOKIE: login_cookie},
        ),
    )

    assert answer["statusCode"] == 302
    assert answer["headers"]["Location"] == "/accounts"
    ((url, form),) = cognito.requests
    assert url == f"https://{CONFIG.domain}/oauth2/token"
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["redirect_uri"] == query["redirect_uri"]
    session = set_cookies(answer)[SESSION_COOKIE]
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in session
    assert "Domain" not in session
    assert "Max-Age=0" in set_cookies(answer)[LOGIN_COOKIE]
    user = session_identity(verifier)(event("/", cookies={SESSION_COOKIE: cookie_value(session)}))
    assert user is not None and user.username == "ana"


def test_login_never_redirects_off_site_after_sign_in(verifier: IdTokenVerifier) -> None:
    cognito = FakeCognito(id_token())
    app = app_with_auth(verifier, cognito)
    query, login_cookie = begin_login(app, cognito, next_path="//evil.example/phish")

    answer = call(
        app,
        raw_event(
            "/auth/callback", {"code": "c", "state": query["state"]}, {LOGIN_COOKIE: login_cookie}
        ),
    )

    assert answer["headers"]["Location"] == "/"


def test_callback_with_another_state_is_refused(verifier: IdTokenVerifier) -> None:
    cognito = FakeCognito(id_token())
    app = app_with_auth(verifier, cognito)
    _, login_cookie = begin_login(app, cognito)

    answer = call(
        app,
        raw_event("/auth/callback", {"code": "c", "state": "forged"}, {LOGIN_COOKIE: login_cookie}),
    )

    assert answer["statusCode"] == 400
    assert SESSION_COOKIE not in set_cookies(answer)
    assert cognito.requests == []


def test_callback_with_an_altered_login_cookie_is_refused(verifier: IdTokenVerifier) -> None:
    cognito = FakeCognito(id_token())
    app = app_with_auth(verifier, cognito)
    query, _ = begin_login(app, cognito)
    altered = LoginState(query["state"], "attacker-verifier" * 3, "/", int(time.time()) + 60)

    for cookies in ({}, {LOGIN_COOKIE: altered.seal(b"not-our-key")}):
        answer = call(
            app, raw_event("/auth/callback", {"code": "c", "state": query["state"]}, cookies)
        )

        assert answer["statusCode"] == 400
        assert SESSION_COOKIE not in set_cookies(answer)
    assert cognito.requests == []


def test_callback_after_the_login_window_is_refused(verifier: IdTokenVerifier) -> None:
    cognito = FakeCognito(id_token())
    started_at = time.time()
    query, login_cookie = begin_login(app_with_auth(verifier, cognito, started_at), cognito)
    late = app_with_auth(verifier, cognito, started_at + 3600)

    answer = call(
        late,
        raw_event(
            "/auth/callback", {"code": "c", "state": query["state"]}, {LOGIN_COOKIE: login_cookie}
        ),
    )

    assert answer["statusCode"] == 400
    assert "too long" in answer["body"]


def test_callback_whose_token_fails_verification_opens_no_session(
    verifier: IdTokenVerifier,
) -> None:
    cognito = FakeCognito(id_token(aud="another-client"))
    app = app_with_auth(verifier, cognito)
    query, login_cookie = begin_login(app, cognito)

    answer = call(
        app,
        raw_event(
            "/auth/callback", {"code": "c", "state": query["state"]}, {LOGIN_COOKIE: login_cookie}
        ),
    )

    assert answer["statusCode"] == 400
    assert SESSION_COOKIE not in set_cookies(answer)


def test_callback_opens_no_session_for_someone_in_no_console_group(
    verifier: IdTokenVerifier,
) -> None:
    cognito = FakeCognito(id_token(**{"cognito:groups": None}))
    app = app_with_auth(verifier, cognito)
    query, login_cookie = begin_login(app, cognito)

    answer = call(
        app,
        raw_event(
            "/auth/callback", {"code": "c", "state": query["state"]}, {LOGIN_COOKIE: login_cookie}
        ),
    )

    assert answer["statusCode"] == 403
    assert "no console group" in answer["body"]
    assert SESSION_COOKIE not in set_cookies(answer)


def test_callback_reports_cognito_errors_escaped(verifier: IdTokenVerifier) -> None:
    app = app_with_auth(verifier, FakeCognito(id_token()))

    answer = call(app, raw_event("/auth/callback", {"error": "<script>x</script>"}))

    assert answer["statusCode"] == 400
    assert "<script>" not in answer["body"]
    assert "&lt;script&gt;" in answer["body"]


def logout_event(cookies: dict[str, str], form: dict[str, str]) -> dict[str, Any]:
    raw = raw_event("/auth/logout", cookies=cookies, method="POST")
    raw["headers"]["content-type"] = "application/x-www-form-urlencoded"
    raw["body"] = urllib.parse.urlencode(form)
    return raw


def test_logout_ends_the_session_here_and_at_cognito(verifier: IdTokenVerifier) -> None:
    app = app_with_auth(verifier, FakeCognito(id_token()))
    token = csrf_token(SIGNING_KEY, "ana")

    answer = call(
        app,
        logout_event({SESSION_COOKIE: id_token(), "__Host-rung_csrf": token}, {CSRF_FIELD: token}),
    )

    assert answer["statusCode"] == 302
    location = urllib.parse.urlsplit(answer["headers"]["Location"])
    assert (location.netloc, location.path) == (CONFIG.domain, "/logout")
    assert dict(urllib.parse.parse_qsl(location.query)) == {
        "client_id": CONFIG.client_id,
        "logout_uri": CONFIG.console_url,
    }
    assert "Max-Age=0" in set_cookies(answer)[SESSION_COOKIE]


def test_logout_from_another_site_without_the_form_token_is_refused(
    verifier: IdTokenVerifier,
) -> None:
    app = app_with_auth(verifier, FakeCognito(id_token()))
    someone_elses = csrf_token(SIGNING_KEY, "mallory")

    for form in ({}, {CSRF_FIELD: someone_elses}):
        answer = call(
            app,
            logout_event({SESSION_COOKIE: id_token(), "__Host-rung_csrf": someone_elses}, form),
        )

        assert answer["statusCode"] == 403
        assert SESSION_COOKIE not in set_cookies(answer)
