"""The console application through its resolver, with built HTTP API events over moto tables:
who may do what, four eyes, CSRF, security headers, masking, and the audit of every action."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from moto import mock_aws

from functions.adapters.dynamo import DynamoAccountStore
from functions.console.app import create_app
from functions.console.identity import ConsoleUser
from functions.console.services import ConsoleServices
from functions.console.wiring import aws_services
from functions.core.clock import FixedClock
from functions.core.models import Account, Channel, Suppression, SuppressionSource, TemplateStatus
from functions.core.shipped import SHIPPED_ROOT
from functions.settings import ConsoleSettings
from rung.commands.local_table import create_local_table
from rung.console_local import LOCAL_USERS, http_event

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
SECRET = b"k" * 32
PHONE, EMAIL = "+14155550123", "jane.doe@example.com"
TABLES = {
    "accounts_table": ("rung-accounts", None),
    "suppressions_table": ("rung-suppressions", None),
    "ledger_table": ("rung-ledger", "sk"),
    "audit_table": ("rung-audit", "sk"),
    "templates_table": ("rung-templates", "sk"),
    "uploads_table": ("rung-uploads", None),
    "reviews_table": ("rung-reviews", None),
}
SMS_EN = (SHIPPED_ROOT / "templates" / "messages" / "reminder_day1" / "sms.en-US.txt").read_text(
    encoding="utf-8"
)
KEY = {"template": "reminder_day1", "channel": "sms", "locale": "en-US"}


@dataclass
class Browser:
    """One person's cookies: what a browser would send back."""

    app: Any
    user: str | None
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> Any:
        body = urlencode(fields or {}).encode()
        headers = {
            "host": "console.test",
            "cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if self.user:
            headers["x-test-user"] = self.user
        answer = self.app.resolve(http_event(method, path, headers, body), None)
        for cookie in answer.get("cookies") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";")[0]
        return answer

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str], *, csrf: str | None = None) -> Any:
        if csrf is None:
            self.get("/templates")  # a page first, as a person opens the form
            csrf = self.cookies["__Host-rung_csrf"]
        return self.request("POST", path, {**fields, "csrf": csrf})


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleServices]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for table, range_key in TABLES.values():
            create_local_table(client, table, range_key=range_key)
        client.update_table(
            TableName="rung-accounts",
            AttributeDefinitions=[{"AttributeName": "phone", "AttributeType": "S"}],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": "by_phone",
                        "KeySchema": [{"AttributeName": "phone", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                }
            ],
        )
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="uploads")
        settings = ConsoleSettings(
            **{name: table for name, (table, _) in TABLES.items()},
            account_retention_days=400,
            audit_retention_days=400,
            uploads_bucket="uploads",
            lender_ids="demo",
        )
        built = aws_services(settings, clock=FixedClock(NOW), client=client)
        DynamoAccountStore("rung-accounts", client=client).put_many(
            [
                Account(
                    lender_id="demo",
                    account_id="D-1001",
                    phone=PHONE,
                    email=EMAIL,
                    amount_due=Decimal("245.50"),
                    currency="USD",
                    due_date=date(2026, 11, 25),
                    locale="en-US",
                    first_name="Jane",
                )
            ]
        )
        yield built


@pytest.fixture
def app(services: ConsoleServices) -> Any:
    def identify(event: Any) -> ConsoleUser | None:
        return LOCAL_USERS.get(event.headers.get("x-test-user") or "")

    return create_app(services, identify, SECRET)


def as_user(app: Any, name: str | None) -> Browser:
    return Browser(app, name)


def test_a_stranger_is_sent_to_sign_in_and_cannot_post(app: Any) -> None:
    page = as_user(app, None).get("/accounts?q=D-1001")
    assert page["statusCode"] == 302
    assert page["headers"]["Location"] == "/auth/login?next=%2Faccounts%3Fq%3DD-1001"
    refused = as_user(app, None).request("POST", "/channels/pause", {"channel": "sms"})
    assert refused["statusCode"] == 401


def test_every_response_carries_the_security_headers(app: Any) -> None:
    for answer in (
        as_user(app, "vic").get("/templates"),
        as_user(app, "vic").get("/no-such-page"),
        as_user(app, None).get("/templates"),
        as_user(app, "vic").post("/channels/pause", {"channel": "sms", "reason": "x"}),
    ):
        headers = answer["headers"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["Cache-Control"] == "no-store"


def test_the_csrf_cookie_is_host_only_secure_and_http_only(app: Any) -> None:
    answer = as_user(app, "ana").get("/templates")
    [cookie] = answer["cookies"]
    assert cookie.startswith("__Host-rung_csrf=")
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= {
        part.strip() for part in cookie.split(";")
    }


def test_a_post_without_the_session_token_changes_nothing(
    app: Any, services: ConsoleServices
) -> None:
    ada = as_user(app, "ada")
    ada.get("/channels")
    fields = {"channel": "sms", "reason": "carrier outage"}
    assert ada.request("POST", "/channels/pause", fields)["statusCode"] == 403
    assert ada.post("/channels/pause", fields, csrf="forged.token")["statusCode"] == 403
    # A token issued to another user is not this user's
    bo = as_user(app, "bo")
    bo.get("/channels")
    ada.cookies["__Host-rung_csrf"] = bo.cookies["__Host-rung_csrf"]
    assert (
        ada.post("/channels/pause", fields, csrf=bo.cookies["__Host-rung_csrf"])["statusCode"]
        == 403
    )
    assert services.channels.paused(Channel.SMS) is None


def test_author_submits_cannot_approve_and_an_approver_puts_it_in_use(
    app: Any, services: ConsoleServices
) -> None:
    edited = SMS_EN.replace("{{ first_name }}", "{{ first_name }},", 1) + "\n"
    ana = as_user(app, "ana")
    submitted = ana.post("/templates/submit", {**KEY, "source": edited})
    assert submitted["statusCode"] == 303
    [draft] = services.templates.versions("reminder_day1")
    assert (draft.author, draft.status) == ("ana", TemplateStatus.DRAFT)
    decide = {**KEY, "version": draft.version, "decision": "approve"}
    # The author's group cannot approve at all
    assert ana.post("/approvals/decide", decide)["statusCode"] == 403
    # An admin may approve, but not a version they wrote (four eyes on the server)
    ada = as_user(app, "ada")
    ada_edit = edited + "\n"
    assert ada.post("/templates/submit", {**KEY, "source": ada_edit})["statusCode"] == 303
    ada_draft = next(v for v in services.templates.versions() if v.author == "ada")
    refused = ada.post("/approvals/decide", {**decide, "version": ada_draft.version})
    assert refused["statusCode"] == 403 and "someone else must approve" in refused["body"]
    # The approver approves ana's version: it is the version in use
    approved = as_user(app, "bo").post("/approvals/decide", decide)
    assert approved["statusCode"] == 303
    in_use = services.templates.newest_approved("reminder_day1", Channel.SMS, "en-US")
    assert in_use is not None and (in_use.version, in_use.approver) == (draft.version, "bo")
    log = [(a.username, a.verb, a.outcome) for a in services.log.recent(None)]
    assert ("bo", "approve", "done") in log
    assert ("ada", "approve", "refused") in log
    assert ("ana", "attempt", "refused") in log
    assert ("ana", "submit", "done") in log


def test_a_submission_with_lint_errors_is_refused_and_named(
    app: Any, services: ConsoleServices
) -> None:
    broken = SMS_EN.replace("{{ optout_instruction }}", "")
    answer = as_user(app, "ana").post("/templates/submit", {**KEY, "source": broken})
    assert answer["statusCode"] == 422
    assert "Fix the errors below" in answer["body"] and "(optout)" in answer["body"]
    assert services.templates.versions() == []


def test_the_live_check_returns_findings_and_a_preview_per_locale(app: Any) -> None:
    answer = as_user(app, "ana").post("/templates/check", {**KEY, "source": SMS_EN})
    assert answer["statusCode"] == 200
    body = answer["body"]
    assert "Lint clean" in body
    for locale in ("en-US", "es-US", "zh-CN"):
        assert f'aria-label="Preview {locale}"' in body
    assert re.search(r"GSM-7, \d+ units, \d+ segments?, about [\d.]+ USD", body)


def test_template_text_is_escaped_in_the_page(app: Any) -> None:
    hostile = SMS_EN + "<script>alert(1)</script>"
    body = as_user(app, "ana").post("/templates/edit", {**KEY, "source": hostile})["body"]
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_viewer_sees_masked_addresses_and_cannot_act(app: Any, services: ConsoleServices) -> None:
    vic = as_user(app, "vic")
    page = vic.get("/accounts/demo/D-1001")
    assert page["statusCode"] == 200
    assert PHONE not in page["body"] and EMAIL not in page["body"]
    assert "+1******0123" in page["body"] and "j***@example.com" in page["body"]
    assert '<form method="post" action="/suppressions/add"' not in vic.get("/suppressions")["body"]
    refused = vic.post(
        "/suppressions/add", {"channel": "sms", "address": PHONE, "reason": "asked by phone"}
    )
    assert refused["statusCode"] == 403
    assert services.suppressions.get(Channel.SMS, PHONE) is None
    assert as_user(app, "bo").get("/accounts/demo/D-1001")["body"].count(PHONE) == 1


def test_find_by_phone_opens_the_account(app: Any) -> None:
    found = as_user(app, "vic").get("/accounts?q=" + "(415) 555-0123")
    assert found["statusCode"] == 303
    assert found["headers"]["Location"] == "/accounts/demo/D-1001"


def test_a_borrower_opt_out_cannot_be_lifted_but_a_staff_suppression_can(
    app: Any, services: ConsoleServices
) -> None:
    services.suppressions.put(
        Suppression(channel=Channel.SMS, address=PHONE, source=SuppressionSource.REPLY, at=NOW)
    )
    ada = as_user(app, "ada")
    page = ada.get("/suppressions")["body"]
    assert "only the borrower can lift an opt-out" in page
    assert PHONE not in page and "+1******0123" in page
    lift = {"key": f"sms#{PHONE}", "reason": "borrower called"}
    refused = ada.post("/suppressions/lift", lift)
    assert refused["statusCode"] == 403
    assert services.suppressions.get(Channel.SMS, PHONE) is not None
    added = ada.post(
        "/suppressions/add", {"channel": "email", "address": EMAIL, "reason": "asked by letter"}
    )
    assert added["statusCode"] == 303
    stored = services.suppressions.get(Channel.EMAIL, EMAIL)
    assert stored is not None and stored.source is SuppressionSource.LENDER
    lifted = ada.post("/suppressions/lift", {"key": stored.key, "reason": "entered by mistake"})
    assert lifted["statusCode"] == 303
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None


def test_pausing_a_channel_needs_a_reason_and_records_who(
    app: Any, services: ConsoleServices
) -> None:
    ada = as_user(app, "ada")
    missing = ada.post("/channels/pause", {"channel": "email", "reason": " "})
    assert missing["statusCode"] == 400 and "reason: required" in missing["body"]
    assert (
        ada.post("/channels/pause", {"channel": "email", "reason": "bounce spike"})["statusCode"]
        == 303
    )
    pause = services.channels.paused(Channel.EMAIL)
    assert pause is not None and (pause.by, pause.reason) == ("ada", "bounce spike")
    assert (
        as_user(app, "bo").post("/channels/resume", {"channel": "email", "reason": "ok"})[
            "statusCode"
        ]
        == 403
    )
    assert services.channels.paused(Channel.EMAIL) is not None


def test_bad_input_is_a_clear_page_not_a_traceback(app: Any) -> None:
    answer = as_user(app, "ana").get(
        "/templates/edit?template=reminder_day1&channel=fax&locale=en-US"
    )
    assert answer["statusCode"] == 400
    assert "channel: &#39;fax&#39; is not one of sms, email, push" in answer["body"]
