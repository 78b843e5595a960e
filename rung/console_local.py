"""The console served locally: the same application as in AWS, over the local world.

`LocalConsole` is a stdlib HTTP server on 127.0.0.1 that turns each request into the API
Gateway HTTP API (v2) event the console Lambda receives and hands it to the same resolver
(functions.console.app). Sign-in is replaced by demo users, one per group, switched with the
"acting as" form; everything else (authorisation, CSRF, headers, audit) is the application's.
`seeded_world` runs the samples through the simulator so that every page has something to show.
"""

from __future__ import annotations

import base64
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from functions.adapters.dynamo import DynamoExperimentTally
from functions.console.app import create_app, form_fields, request_cookies
from functions.console.identity import ConsoleUser, Group
from functions.console.services import ConsoleServices
from functions.console.wiring import aws_services
from functions.settings import PROJECT_ROOT, ConsoleSettings
from rung.console_reports import LocalReports, write_run_outputs
from rung.engine import SimulationInput, read_replies
from rung.engine_full import run_in, simulation_world
from rung.localworld import LocalWorld

HOST = "127.0.0.1"  # never another interface: the demo users sign in without a password
USER_COOKIE = "rung_local_user"
LOCAL_USERS: Mapping[str, ConsoleUser] = {
    "ana": ConsoleUser("ana", frozenset({Group.AUTHOR})),
    "bo": ConsoleUser("bo", frozenset({Group.APPROVER})),
    "vic": ConsoleUser("vic", frozenset({Group.VIEWER})),
    "ada": ConsoleUser("ada", frozenset({Group.ADMIN})),
}
SAMPLES = PROJECT_ROOT / "samples"
# The demo `make demo` runs: the samples from 1 December 2026, for 35 days.
DEMO_START = datetime(2026, 12, 1, tzinfo=UTC)
DEMO_DAYS = 35


def demo_input(days: int = DEMO_DAYS) -> SimulationInput:
    return SimulationInput(
        accounts_file=SAMPLES / "accounts.csv",
        lender_id="demo",
        start=DEMO_START,
        days=days,
        replies=read_replies(SAMPLES / "replies.csv"),
        payments_file=SAMPLES / "payments.csv",
    )


@contextmanager
def seeded_world(days: int = DEMO_DAYS, out_dir: Path | None = None) -> Iterator[LocalWorld]:
    """The local world after the samples ran through the full simulator (accounts, payments
    and replies): uploads, decisions, replies, suppressions and receipts to look at. With
    `out_dir`, the run's analytics events and experiment outcomes are written there too."""
    sim = demo_input(days)
    with simulation_world(sim) as world:
        result = run_in(world, sim)
        if out_dir is not None:
            write_run_outputs(out_dir, sim, result)
        yield world


def demo_reports(world: LocalWorld, out_dir: Path, days: int = DEMO_DAYS) -> LocalReports:
    """The KPIs, experiments and plan of the demo run whose outputs `seeded_world` wrote to
    `out_dir`: the plan is the samples' lender file arriving when the demo starts."""
    sim = demo_input(days)
    return LocalReports(
        folder=out_dir,
        lender_id=sim.lender_id,
        tally=DynamoExperimentTally(world.settings.accounts_table),
        upload=sim.accounts_file,
        start=sim.start,
        days=days,
    )


def world_services(
    world: LocalWorld,
    lender_ids: tuple[str, ...] = ("demo",),
    reports: LocalReports | None = None,
) -> ConsoleServices:
    """The console's services over the world's tables, on its virtual clock; `reports`: what
    the KPIs, experiments and plan pages show (none: they say which command gives them)."""
    names = {
        name: getattr(world.settings, name)
        for name in ConsoleSettings.model_fields
        if hasattr(world.settings, name)
    }
    settings = ConsoleSettings(**names, lender_ids=",".join(lender_ids))
    return replace(aws_services(settings, clock=world.clock), reports=reports)


def local_identify(default: str) -> Any:
    """The demo user named by the cookie the "acting as" form sets, else `default`."""

    def identify(event: APIGatewayProxyEventV2) -> ConsoleUser | None:
        name = request_cookies(event).get(USER_COOKIE, default)
        return LOCAL_USERS.get(name, LOCAL_USERS[default])

    return identify


def local_app(services: ConsoleServices, default_user: str) -> APIGatewayHttpResolver:
    if default_user not in LOCAL_USERS:
        raise ValueError(f"no local user {default_user!r} (there are {', '.join(LOCAL_USERS)})")
    app = create_app(
        services,
        local_identify(default_user),
        csrf_secret=secrets.token_bytes(32),
        secure_cookies=True,
        user_switch=tuple(LOCAL_USERS),
    )

    @app.post("/local/user")
    def switch_user() -> Response[str]:
        form = form_fields(app.current_event)
        name = form.get("user", "")
        if name not in LOCAL_USERS:
            return Response(400, "text/plain; charset=utf-8", f"user: no local user {name!r}")
        target = form.get("next", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        cookie = Cookie(
            USER_COOKIE, name, path="/", secure=True, http_only=True, same_site=SameSite.STRICT_MODE
        )
        return Response(303, headers={"Location": target}, cookies=[cookie])

    return app


def http_event(method: str, target: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as the console Lambda receives."""
    parts = urlsplit(target)
    lowered = {name.lower(): value for name, value in headers.items()}
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    query = {k: ",".join(v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "cookies": cookies,
        "headers": lowered,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "local",
            "apiId": "local",
            "domainName": lowered.get("host", HOST),
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": HOST,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(datetime.now(UTC).timestamp() * 1000),
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


@dataclass
class LocalConsole:
    """An HTTP server on 127.0.0.1 for one resolver; one request at a time reaches it (the
    resolver keeps the current request on itself)."""

    app: APIGatewayHttpResolver
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        console = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_HEAD(self) -> None:
                self._answer("HEAD")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                event = http_event(method, self.path, dict(self.headers.items()), body)
                status, headers, payload = console.resolve(event)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return  # request lines would carry search terms (phone numbers, emails)

        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/"

    def resolve(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            answer = self.app.resolve(event, _LocalContext())  # type: ignore[arg-type]
        headers = [(name, str(value)) for name, value in (answer.get("headers") or {}).items()]
        headers += [("Set-Cookie", cookie) for cookie in answer.get("cookies") or []]
        raw = answer.get("body") or ""
        payload = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode("utf-8")
        return int(answer["statusCode"]), headers, payload

    def serve_forever(self) -> None:
        self.server.serve_forever()

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve in a background thread; yields the URL."""
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self.url
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join()


class _LocalContext:
    """The few Lambda context attributes Powertools may read."""

    function_name = "rung-console-local"
    aws_request_id = "local"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:rung-console-local"
    memory_limit_in_mb = 512
