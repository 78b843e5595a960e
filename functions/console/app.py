"""The ops console: server-rendered pages on Powertools' API Gateway HTTP API resolver.

The same resolver runs in the console Lambda (behind Cognito; `functions.console.handler`) and
under `rung console` (the local world). Every request is identified (`identify`), every action
is authorised here by the user's groups (`ConsoleUser.may`) and written to the console log with
the user's name; every non-GET carries the CSRF token of the user's session; every response
carries the security headers. Pages are Jinja2 with autoescaping; the one script only enhances
the template editor (live lint and preview) and every form works without it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from jinja2 import Environment, FileSystemLoader, select_autoescape

from functions.console import pages
from functions.console.identity import Action, ConsoleUser
from functions.console.pages import BadRequest, Forbidden
from functions.console.services import ConsoleServices

Identify = Callable[[APIGatewayProxyEventV2], ConsoleUser | None]

HERE = Path(__file__).parent
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# Paths served to anyone: the stylesheet and script, and the sign-in flow's own routes.
OPEN_PREFIXES = ("/static/", "/auth/")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csrf_cookie_name(secure_cookies: bool) -> str:
    # `__Host-` cookies must be Secure; over plain http (never in AWS) the prefix is dropped.
    return "__Host-rung_csrf" if secure_cookies else "rung_csrf"


def csrf_token(secret: bytes, username: str, nonce: str | None = None) -> str:
    """A token bound to the user: `nonce.HMAC(secret, nonce|username)`."""
    nonce = nonce or secrets.token_urlsafe(18)
    mac = hmac.new(secret, f"{nonce}|{username}".encode(), hashlib.sha256).hexdigest()
    return f"{nonce}.{mac}"


def csrf_valid(secret: bytes, username: str, token: str) -> bool:
    nonce, _, _ = token.partition(".")
    return bool(nonce) and hmac.compare_digest(token, csrf_token(secret, username, nonce))


def request_cookies(event: APIGatewayProxyEventV2) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in event.cookies or []:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name not in found:
                found[name] = value
    return found


def form_fields(event: APIGatewayProxyEventV2) -> dict[str, str]:
    """The urlencoded form, first value of each field."""
    parsed = parse_qs(event.decoded_body or "", keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def create_app(
    services: ConsoleServices,
    identify: Identify,
    csrf_secret: bytes,
    secure_cookies: bool = True,
    user_switch: Sequence[str] = (),
) -> APIGatewayHttpResolver:
    """The console application. `user_switch`: local demo users offered in an "acting as"
    form (only `rung console` passes them; its own route switches the user)."""
    if len(csrf_secret) < 32:
        raise ValueError("the CSRF secret must be at least 32 bytes")
    app = APIGatewayHttpResolver()
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(percent=pages.percent, points=pages.points, number=pages.number)
    cookie_name = csrf_cookie_name(secure_cookies)

    def guard(
        resolver: APIGatewayHttpResolver, next_middleware: Callable[..., Response[str]]
    ) -> Response[str]:
        event = resolver.current_event
        path = event.path
        method = event.request_context.http.method.upper()
        if path.startswith(OPEN_PREFIXES):
            return _secured(next_middleware(resolver))
        user = identify(event)
        if user is None:
            if method == "GET":
                target = path + (f"?{event.raw_query_string}" if event.raw_query_string else "")
                location = "/auth/login?" + urlencode({"next": target})
                return _secured(Response(302, headers={"Location": location}))
            return _secured(_plain(401, "Sign in first."))
        cookies = request_cookies(event)
        token = cookies.get(cookie_name, "")
        fresh = not csrf_valid(csrf_secret, user.username, token)
        if method not in ("GET", "HEAD"):
            sent = form_fields(event).get(CSRF_FIELD) or event.headers.get(CSRF_HEADER) or ""
            if fresh or not hmac.compare_digest(sent, token):
                return _secured(
                    _plain(403, "This form has expired: reload the page and try again.")
                )
        if fresh:
            token = csrf_token(csrf_secret, user.username)
        resolver.context.update(user=user, csrf=token)
        response = next_middleware(resolver)
        if fresh:
            response.cookies.append(
                Cookie(
                    cookie_name,
                    token,
                    path="/",
                    secure=secure_cookies,
                    http_only=True,
                    same_site=SameSite.STRICT_MODE,
                )
            )
        return _secured(response)

    app.use(middlewares=[guard])

    def render(name: str, status: int = 200, **context: Any) -> Response[str]:
        user: ConsoleUser = app.context["user"]
        body = environment.get_template(name).render(
            user=user,
            csrf=app.context["csrf"],
            csrf_field=CSRF_FIELD,
            may=user.may,
            Action=Action,
            path=app.current_event.path,
            user_switch=user_switch,
            **context,
        )
        return Response(status, "text/html; charset=utf-8", body)

    def current_user() -> ConsoleUser:
        user: ConsoleUser = app.context["user"]
        return user

    def require(action: Action) -> ConsoleUser:
        user = current_user()
        if not user.may(action):
            pages.audit_refusal(services, user, action, app.current_event.path)
            raise Forbidden(f"Your groups do not allow this ({action.value.replace('_', ' ')}).")
        return user

    def query() -> dict[str, str]:
        return dict(app.current_event.query_string_parameters or {})

    def redirect(location: str, **params: str) -> Response[str]:
        target = location + (f"?{urlencode(params)}" if params else "")
        return Response(303, headers={"Location": target})

    @app.exception_handler(Forbidden)  # type: ignore[untyped-decorator]
    def forbidden(exc: Forbidden) -> Response[str]:
        return _secured(render("error.html", 403, title="Not allowed", message=str(exc)))

    @app.exception_handler(BadRequest)  # type: ignore[untyped-decorator]
    def bad_request(exc: BadRequest) -> Response[str]:
        return _secured(render("error.html", 400, title="Cannot do that", message=str(exc)))

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        # Unknown paths never reach the middleware: nothing about the user is shown.
        return _secured(_plain(404, "There is no such page."))

    @app.get("/static/<name>")
    def static(name: str) -> Response[str]:
        if name not in STATIC:
            return _plain(404, "Not found.")
        body = (HERE / "static" / name).read_text(encoding="utf-8")
        return Response(200, STATIC[name], body, headers={"Cache-Control": "max-age=300"})

    @app.get("/")
    def home() -> Response[str]:
        return redirect("/templates")

    # -- templates ---------------------------------------------------------------------------

    @app.get("/templates")
    def templates_list() -> Response[str]:
        return render(
            "templates.html",
            rows=pages.template_rows(services),
            notice=pages.notice(query().get("notice", "")),
        )

    @app.get("/templates/edit")
    def template_edit() -> Response[str]:
        key = pages.template_key(query())
        source = pages.starting_source(services, key)
        check = pages.check(services, key, source)
        return render("template_edit.html", key=key, source=source, check=check)

    @app.post("/templates/edit")
    def template_recheck() -> Response[str]:
        require(Action.EDIT_TEMPLATES)
        form = form_fields(app.current_event)
        key = pages.template_key(form)
        source = pages.source_field(form)
        check = pages.check(services, key, source)
        return render("template_edit.html", key=key, source=source, check=check)

    @app.post("/templates/check")
    def template_check() -> Response[str]:
        require(Action.EDIT_TEMPLATES)
        form = form_fields(app.current_event)
        key = pages.template_key(form)
        check = pages.check(services, key, pages.source_field(form))
        return render("_check.html", key=key, check=check)

    @app.post("/templates/submit")
    def template_submit() -> Response[str]:
        user = require(Action.EDIT_TEMPLATES)
        form = form_fields(app.current_event)
        key = pages.template_key(form)
        source = pages.source_field(form)
        check = pages.check(services, key, source)
        if not check.ok:
            return render(
                "template_edit.html",
                422,
                key=key,
                source=source,
                check=check,
                refusal="Fix the errors below before submitting.",
            )
        created = pages.submit(services, user, key, source, form.get("comment", ""))
        return redirect("/approvals", notice="submitted" if created else "unchanged")

    @app.get("/approvals")
    def approvals() -> Response[str]:
        return render(
            "approvals.html",
            pending=pages.pending_approvals(services),
            notice=pages.notice(query().get("notice", "")),
        )

    @app.post("/approvals/decide")
    def approvals_decide() -> Response[str]:
        user = require(Action.APPROVE_TEMPLATES)
        form = form_fields(app.current_event)
        outcome = pages.decide(services, user, form)
        return redirect("/approvals", notice=outcome)

    # -- accounts ----------------------------------------------------------------------------

    @app.get("/accounts")
    def accounts() -> Response[str]:
        text = query().get("q", "").strip()
        found = pages.find_accounts(services, text) if text else None
        if found is not None and len(found) == 1:
            return redirect(f"/accounts/{quote(found[0].lender_id)}/{quote(found[0].account_id)}")
        return render("accounts.html", q=text, found=found, shown=pages.shown_account)

    @app.get("/accounts/<lender_id>/<account_id>")
    def account(lender_id: str, account_id: str) -> Response[str]:
        found = services.accounts.get(lender_id, account_id)
        if found is None or lender_id not in services.lender_ids:
            raise BadRequest(f"No account {account_id} for lender {lender_id}.")
        user = current_user()
        return render(
            "account.html",
            account=pages.shown_account(found, user),
            timeline=pages.timeline(services, found, user),
        )

    # -- replies, suppressions, uploads, channels, activity -------------------------------

    @app.get("/replies")
    def replies() -> Response[str]:
        return render(
            "replies.html",
            items=pages.review_items(services),
            resolutions=pages.RESOLUTION_CHOICES,
            notice=pages.notice(query().get("notice", "")),
        )

    @app.post("/replies/resolve")
    def replies_resolve() -> Response[str]:
        user = require(Action.REVIEW_REPLIES)
        pages.resolve_reply(services, user, form_fields(app.current_event))
        return redirect("/replies", notice="resolved")

    @app.get("/suppressions")
    def suppressions() -> Response[str]:
        text = query().get("q", "").strip()
        return render(
            "suppressions.html",
            q=text,
            rows=pages.suppression_rows(services, text),
            notice=pages.notice(query().get("notice", "")),
        )

    @app.post("/suppressions/add")
    def suppressions_add() -> Response[str]:
        user = require(Action.MANAGE_SUPPRESSIONS)
        pages.add_suppression(services, user, form_fields(app.current_event))
        return redirect("/suppressions", notice="suppressed")

    @app.post("/suppressions/lift")
    def suppressions_lift() -> Response[str]:
        user = require(Action.MANAGE_SUPPRESSIONS)
        pages.lift_suppression(services, user, form_fields(app.current_event))
        return redirect("/suppressions", notice="lifted")

    @app.get("/uploads")
    def uploads() -> Response[str]:
        return render("uploads.html", uploads=services.records.uploads())

    @app.get("/uploads/report")
    def upload_report() -> Response[str]:
        user = require(Action.SEE_ADDRESSES)
        key, body = pages.reject_report(services, user, query().get("key", ""))
        name = key.rpartition("/")[2] or "rejects.csv"
        return Response(
            200,
            "text/csv; charset=utf-8",
            body,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    @app.get("/channels")
    def channels() -> Response[str]:
        return render(
            "channels.html",
            states=pages.channel_states(services),
            notice=pages.notice(query().get("notice", "")),
        )

    @app.post("/channels/<verb>")
    def channels_change(verb: str) -> Response[str]:
        user = require(Action.PAUSE_CHANNELS)
        pages.change_channel(services, user, verb, form_fields(app.current_event))
        return redirect("/channels", notice="paused" if verb == "pause" else "resumed")

    @app.get("/activity")
    def activity() -> Response[str]:
        return render("activity.html", actions=services.log.recent(100))

    # -- outcomes: KPIs, experiments, capacity plan (read-only) ---------------------------------

    @app.get("/kpis")
    def kpis() -> Response[str]:
        require(Action.VIEW)
        return render(
            "kpis.html",
            definitions=pages.KPI_DEFINITIONS,
            tables=pages.KPI_TABLES,
            **pages.outcome_report(services, "kpis"),
        )

    @app.get("/experiments")
    def experiments() -> Response[str]:
        require(Action.VIEW)
        return render("experiments.html", **pages.outcome_report(services, "experiments"))

    @app.get("/plan")
    def capacity_plan() -> Response[str]:
        require(Action.VIEW)
        return render("plan.html", **pages.outcome_report(services, "plan"))

    return app


def _plain(status: int, text: str) -> Response[str]:
    return Response(status, "text/plain; charset=utf-8", text)


def _secured(response: Response[str]) -> Response[str]:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages show personal data: never kept by a browser or a proxy.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
