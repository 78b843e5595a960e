"""Unsubscribe Lambda (Function URL): RFC 8058 one-click unsubscribe for reminder emails.

POST with body `List-Unsubscribe=One-Click` (sent by the mail client, or by the button of our
confirmation page) unsubscribes. GET only shows that page: link scanners and previews fetch
GET, so GET alone must never unsubscribe. Any invalid, forged or expired token gets the same
generic 400 page, which says nothing about any account.
"""

from __future__ import annotations

import html
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
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

app = LambdaFunctionUrlResolver()

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


def _page(status: int, title: str, body: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=_PAGE.format(title=html.escape(title), body=body),
        headers=_HEADERS,
    )


def _invalid() -> Response[str]:
    # One page for every failure (malformed, forged, expired, missing body): reveals nothing.
    return _page(
        400,
        "Link not valid",
        "<h1>This link is not valid</h1><p>Please use the unsubscribe link in a recent "
        "email, or reply to that email with the word STOP.</p>",
    )


def _claims() -> UnsubscribeClaims | None:
    services: Services[UnsubscribeSettings] = app.context["services"]
    token = app.current_event.get_query_string_value(QUERY_PARAMETER, "") or ""
    rules = load_reply_rules(services.settings.config_root)
    try:
        return verify_token(
            token, app.context["key"], now=services.clock.now(), max_age=rules.unsubscribe.max_age
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


def _is_one_click() -> bool:
    """RFC 8058: the body is `List-Unsubscribe=One-Click`, form-urlencoded or multipart."""
    event = app.current_event
    body = event.decoded_body or ""
    content_type = event.headers.get("content-type", "")
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


@app.get("/")
def confirmation_page() -> Response[str]:
    claims = _claims()
    if claims is None:
        return _invalid()
    metrics.add_metric(name="UnsubscribePageShown", unit=MetricUnit.Count, value=1)
    services: Services[UnsubscribeSettings] = app.context["services"]
    company = html.escape(_company(services, claims))
    token = html.escape(app.current_event.get_query_string_value(QUERY_PARAMETER, "") or "")
    return _page(
        200,
        "Unsubscribe",
        f"<h1>Unsubscribe</h1><p>Stop reminder emails from {company} to "
        f"{html.escape(mask_email(claims.address))}?</p>"
        f'<form method="post" action="?{QUERY_PARAMETER}={token}">'
        f'<input type="hidden" name="{ONE_CLICK[0]}" value="{ONE_CLICK[1]}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@app.post("/")
def one_click() -> Response[str]:
    claims = _claims()
    if claims is None:
        return _invalid()
    if not _is_one_click():
        metrics.add_metric(name="UnsubscribeNotOneClick", unit=MetricUnit.Count, value=1)
        return _invalid()
    services: Services[UnsubscribeSettings] = app.context["services"]
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


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    services: Services[UnsubscribeSettings] | None = None,
) -> dict[str, Any]:
    services = services or unsubscribe_services()
    # Powertools leaves Router.append_context and clear_context unannotated.
    app.append_context(services=services, key=services.unsubscribe_key())  # type: ignore[no-untyped-call]
    try:
        return app.resolve(event, context)
    finally:
        app.clear_context()  # type: ignore[no-untyped-call]
