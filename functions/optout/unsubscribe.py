"""Unsubscribe Lambda (Function URL): RFC 8058 one-click unsubscribe for reminder emails.

POST with body `List-Unsubscribe=One-Click` (sent by the mail client, or by the button of our
confirmation page) unsubscribes. GET only shows that page: link scanners and previews fetch
GET, so GET alone must never unsubscribe. Any invalid, forged or expired token gets the same
generic 400 page, which says nothing about any account.

The Function URL's event is read directly (method, query, body): Powertools' HTTP resolver did
the same for two routes, and its import (its routing, validation and async machinery) was a
fifth of this function's cold start (docs/decisions.md, "Cold start").
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.bootstrap import Services, unsubscribe_services
from functions.core.errors import ConfigError
from functions.core.feedback import Feedback
from functions.core.masking import mask_email
from functions.core.replies import load_reply_rules
from functions.core.unsubscribe import (
    QUERY_PARAMETER,
    InvalidUnsubscribeToken,
    UnsubscribeClaims,
    verify_token,
)
from functions.observability import logger, metrics
from functions.settings import UnsubscribeSettings

ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058 §3.1: the POST body
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">{body}</body></html>"""


Response = dict[str, Any]  # what a Function URL returns: statusCode, headers, body
_NOT_FOUND: Response = {
    "statusCode": 404,
    "headers": {"Content-Type": "application/json"},
    "body": json.dumps({"statusCode": 404, "message": "Not found"}),
}


@dataclass(frozen=True)
class Request:
    """What this function reads of a Function URL event (payload format 2.0)."""

    method: str
    path: str
    token: str
    content_type: str
    body: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        http = event.get("requestContext", {}).get("http", {})
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body).decode()
            except (binascii.Error, UnicodeDecodeError):
                body = ""  # not a one-click body: the generic page
        return cls(
            method=str(http.get("method", "")).upper(),
            path=event.get("rawPath") or http.get("path") or "/",
            token=(event.get("queryStringParameters") or {}).get(QUERY_PARAMETER, ""),
            content_type=headers.get("content-type", ""),
            body=body,
        )


def _page(status: int, title: str, body: str) -> Response:
    return {
        "statusCode": status,
        "headers": {**_HEADERS, "Content-Type": "text/html; charset=utf-8"},
        "body": _PAGE.format(title=html.escape(title), body=body),
    }


def _invalid() -> Response:
    # One page for every failure (malformed, forged, expired, missing body): reveals nothing.
    return _page(
        400,
        "Link not valid",
        "<h1>This link is not valid</h1><p>Please use the unsubscribe link in a recent "
        "email, or reply to that email with the word STOP.</p>",
    )


def _claims(services: Services[UnsubscribeSettings], request: Request) -> UnsubscribeClaims | None:
    rules = load_reply_rules(services.settings.config_root)
    try:
        return verify_token(
            request.token,
            services.unsubscribe_key(),
            now=services.clock.now(),
            max_age=rules.unsubscribe.max_age,
        )
    except InvalidUnsubscribeToken as exc:
        logger.info("unsubscribe token refused", extra={"problem": exc.problem.value})
        metrics.add_metric(
            name=f"UnsubscribeToken{exc.problem.value.title()}", unit=MetricUnit.Count, value=1
        )
        return None


def _company(services: Services[UnsubscribeSettings], claims: UnsubscribeClaims) -> str:
    try:
        return services.lenders.get(claims.lender_id).company_name
    except ConfigError:
        return "the sender"  # a lender offboarded since the email went out: still unsubscribe


def _is_one_click(request: Request) -> bool:
    """RFC 8058: the body is `List-Unsubscribe=One-Click`, form-urlencoded or multipart."""
    body, content_type = request.body, request.content_type
    if content_type.startswith("multipart/form-data"):
        raw = f"Content-Type: {content_type}\r\n\r\n{body}".encode()
        message = BytesParser(policy=policy.default).parsebytes(raw)
        if not isinstance(message, EmailMessage):
            return False
        return any(
            part.get_param("name", header="content-disposition") == ONE_CLICK[0]
            and str(part.get_content()).strip() == ONE_CLICK[1]
            for part in message.iter_parts()
        )
    return ONE_CLICK[1] in parse_qs(body).get(ONE_CLICK[0], [])


def confirmation_page(services: Services[UnsubscribeSettings], request: Request) -> Response:
    claims = _claims(services, request)
    if claims is None:
        return _invalid()
    metrics.add_metric(name="UnsubscribePageShown", unit=MetricUnit.Count, value=1)
    company = html.escape(_company(services, claims))
    token = html.escape(request.token)
    return _page(
        200,
        "Unsubscribe",
        f"<h1>Unsubscribe</h1><p>Stop reminder emails from {company} to "
        f"{html.escape(mask_email(claims.address))}?</p>"
        f'<form method="post" action="?{QUERY_PARAMETER}={token}">'
        f'<input type="hidden" name="{ONE_CLICK[0]}" value="{ONE_CLICK[1]}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


def one_click(services: Services[UnsubscribeSettings], request: Request) -> Response:
    claims = _claims(services, request)
    if claims is None:
        return _invalid()
    if not _is_one_click(request):
        metrics.add_metric(name="UnsubscribeNotOneClick", unit=MetricUnit.Count, value=1)
        return _invalid()
    config_root = services.settings.config_root
    rules = load_reply_rules(config_root)
    feedback = Feedback(ports=services, rules=rules, config_root=config_root)
    outcome = feedback.on_unsubscribe(claims, at=services.clock.now())
    logger.info("unsubscribed", extra=outcome.model_dump(mode="json", exclude_defaults=True))
    for name in outcome.metrics:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    company = html.escape(_company(services, claims))
    return _page(
        200,
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p>{company} will send no more reminder emails "
        "to this address.</p>",
    )


ROUTES = {("GET", "/"): confirmation_page, ("POST", "/"): one_click}


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    services: Services[UnsubscribeSettings] | None = None,
) -> dict[str, Any]:
    services = services or unsubscribe_services()
    request = Request.from_event(event)
    route = ROUTES.get((request.method, request.path))
    return _NOT_FOUND if route is None else route(services, request)
