"""The console application through its resolver, with built HTTP API events over moto tables:
who may do what, four eyes, CSRF, security headers, masking, and the audit of every action."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from markupsafe import escape
from moto import mock_aws

from functions.adapters.dynamo import DynamoAccountStore, DynamoExperimentTally
from functions.console.app import create_app
from functions.console.identity import ConsoleUser
from functions.console.pages import (
    KPI_DEFINITIONS,
    KPI_TABLES,
    REPORT_COMMANDS,
    number,
    percent,
    points,
)
from functions.console.services import ConsoleServices, ReportUnavailable
from functions.console.wiring import aws_services
from functions.core.clock import FixedClock
from functions.core.models import Account, Channel, Suppression, SuppressionSource, TemplateStatus
from functions.core.shipped import SHIPPED_ROOT
from functions.settings import ConsoleSettings
from rung.cli import main
from rung.commands.local_table import create_local_table
from rung.console_local import LOCAL_USERS, demo_input, http_event
from rung.console_reports import LocalReports, write_run_outputs
from rung.engine_fast import run_fast
from rung.experiment_report import EXPERIMENTS_CSV, Outcome, write_outcomes

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
        for index, attribute in (("by_phone", "phone"), ("by_email", "email")):
            client.update_table(
                TableName="rung-accounts",
                AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"}],
                GlobalSecondaryIndexUpdates=[
                    {
                        "Create": {
                            "IndexName": index,
                            "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
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
    edited = SMS_EN.replace("a reminder that", "a friendly reminder that", 1)
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


@pytest.mark.parametrize(
    "query", ["D-1001", "(415) 555-0123", "+14155550123", "Jane.Doe@Example.com"]
)
def test_find_by_id_phone_or_email_opens_the_account(app: Any, query: str) -> None:
    found = as_user(app, "vic").get("/accounts?" + urlencode({"q": query}))
    assert found["statusCode"] == 303
    assert found["headers"]["Location"] == "/accounts/demo/D-1001"


def test_no_match_says_so(app: Any) -> None:
    page = as_user(app, "vic").get("/accounts?q=nobody%40example.com")
    assert page["statusCode"] == 200 and "No account matches." in page["body"]


def test_a_viewer_cannot_download_a_reject_report(app: Any, services: ConsoleServices) -> None:
    answer = as_user(app, "vic").get("/uploads/report?key=rejects/demo/x.csv")
    assert answer["statusCode"] == 403
    [refusal] = services.log.recent(None)
    assert (refusal.username, refusal.action, refusal.outcome) == (
        "vic",
        "see_addresses",
        "refused",
    )


def test_comments_are_recorded_with_addresses_masked(app: Any, services: ConsoleServices) -> None:
    reason = f"borrower at {PHONE} asked to wait"
    as_user(app, "ada").post("/channels/pause", {"channel": "sms", "reason": reason})
    [action] = services.log.recent(None)
    assert PHONE not in action.comment and "+1******0123" in action.comment


def test_a_pause_reason_is_stored_and_shown_with_addresses_masked(
    app: Any, services: ConsoleServices
) -> None:
    reason = f"borrower {EMAIL} at {PHONE} complained"
    as_user(app, "ada").post("/channels/pause", {"channel": "sms", "reason": reason})
    pause = services.channels.paused(Channel.SMS)
    assert pause is not None
    assert PHONE not in pause.reason and EMAIL not in pause.reason
    assert "+1******0123" in pause.reason
    page = as_user(app, "vic").get("/channels")["body"]
    assert "paused" in page and PHONE not in page and EMAIL not in page
    assert "+1******0123" in page


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


# -- outcomes: KPIs, experiments, capacity plan --------------------------------------------------

SAMPLES = SHIPPED_ROOT / "samples"
DEMO_START = "2026-12-01T00:00:00Z"
EXPERIMENT = "email-first-2026q4"
NOBODY = ConsoleUser("nobody", frozenset())  # signed in, in no group: may view nothing


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples simulated (fast engine), plus experiment outcomes of known counts."""
    out = tmp_path_factory.mktemp("console-outcomes") / "run"
    simulate = [
        "simulate", str(SAMPLES / "accounts.csv"), "--payments", str(SAMPLES / "payments.csv"),
        "--replies", str(SAMPLES / "replies.csv"), "--start", DEMO_START,
        "--days", "35", "--out", str(out), "--engine", "fast", "--json",
    ]  # fmt: skip
    with redirect_stdout(io.StringIO()):
        assert main(simulate) == 0
    rows = [
        Outcome(f"{variant}-{i}", EXPERIMENT, variant, "hash", i < cured, False, False)
        for variant, (accounts, cured) in {"current": (40, 8), "email-first": (30, 9)}.items()
        for i in range(accounts)
    ]
    write_outcomes(out / EXPERIMENTS_CSV, rows)
    return out


def cli_json(args: list[str]) -> Any:
    out = io.StringIO()
    with redirect_stdout(out):
        main(args)
    return json.loads(out.getvalue())


@pytest.fixture
def reports(services: ConsoleServices, run_folder: Path) -> LocalReports:
    return LocalReports(
        folder=run_folder,
        lender_id="demo",
        tally=DynamoExperimentTally(
            "rung-accounts", client=boto3.client("dynamodb", region_name="us-east-1")
        ),
        upload=SAMPLES / "accounts.csv",
        start=datetime(2026, 12, 1, tzinfo=UTC),
        days=35,
    )


@pytest.fixture
def outcomes_app(services: ConsoleServices, reports: LocalReports) -> Any:
    def identify(event: Any) -> ConsoleUser | None:
        name = event.headers.get("x-test-user") or ""
        return NOBODY if name == "nobody" else LOCAL_USERS.get(name)

    return create_app(replace(services, reports=reports), identify, SECRET)


@pytest.mark.parametrize("path", ["/kpis", "/experiments", "/plan"])
def test_outcome_pages_need_a_group_that_may_view(
    outcomes_app: Any, services: ConsoleServices, path: str
) -> None:
    assert as_user(outcomes_app, None).get(path)["statusCode"] == 302
    refused = as_user(outcomes_app, "nobody").get(path)
    assert refused["statusCode"] == 403
    assert "Your groups do not allow this (view)" in refused["body"]
    assert services.log.recent(1)[0].outcome == "refused"
    for user in ("vic", "ana", "bo", "ada"):
        page = as_user(outcomes_app, user).get(path)
        assert page["statusCode"] == 200
        assert page["headers"]["Content-Security-Policy"].startswith("default-src 'none'")
        assert f'href="{path}" aria-current="page"' in page["body"]


def test_kpis_page_shows_the_cli_figures_with_their_definitions(
    outcomes_app: Any, reports: LocalReports, run_folder: Path
) -> None:
    expected = cli_json(["kpis", str(run_folder), "--json"])
    assert reports.kpis() == expected
    body = as_user(outcomes_app, "vic").get("/kpis")["body"]
    for key, label, meaning in KPI_DEFINITIONS:
        shown = percent(expected[key]) if key == "cure_rate" else number(expected[key])
        block = re.search(rf'data-kpi="{key}">(.*?)</div>', body, re.S)
        assert block is not None, key
        assert label in block.group(1) and f"<strong>{shown}</strong>" in block.group(1)
        assert str(escape(meaning.split("(")[0].strip())) in block.group(1)
    for key, _, _ in KPI_TABLES:
        rows = re.search(rf'aria-labelledby="t-{key}">(.*?)</table>', body, re.S)
        assert rows is not None and rows.group(1).count("<tr>") == 1 + len(expected[key]), key


def test_experiments_page_shows_intervals_sample_size_and_guardrail_stops(
    outcomes_app: Any, reports: LocalReports, run_folder: Path
) -> None:
    reports.tally.stop("demo", EXPERIMENT, "email-first", "opt_out_rate 3/30 >= 0.02")
    expected = cli_json(["experiments", "report", str(run_folder), "--json"])
    got = reports.experiments()
    stops = [[v.pop("stopped") for v in e["variants"]] for e in got["experiments"]]
    assert got == expected
    assert stops == [["", "opt_out_rate 3/30 >= 0.02"]]
    body = as_user(outcomes_app, "vic").get("/experiments")["body"]
    [experiment] = expected["experiments"]
    _, challenger = experiment["variants"]
    row = re.search(r'data-variant="email-first">(.*?)</tr>', body, re.S)
    assert row is not None
    low, _ = challenger["difference_ci"]
    assert f'{points(challenger["difference"])} <span class="muted">({points(low)} to' in row.group(
        1
    )
    assert f"{percent(challenger['cure_rate'])} <span" in row.group(1)
    assert "stopped: opt_out_rate 3/30 &gt;= 0.02" in row.group(1)
    assert number(challenger["accounts_still_needed"]) in row.group(1)
    first = re.search(r'data-variant="current">(.*?)</tr>', body, re.S)
    assert first is not None and "taking accounts" in first.group(1)
    assert f"each variant needs {number(experiment['accounts_needed_per_arm'])} accounts" in body


def test_plan_page_shows_the_planners_verdict_for_the_latest_upload(
    outcomes_app: Any, reports: LocalReports
) -> None:
    plan_args = ["plan", str(SAMPLES / "accounts.csv"), "--start", DEMO_START, "--days", "35"]
    expected = cli_json([*plan_args, "--json"])
    got = dict(reports.plan())
    assert (got.pop("file"), got.pop("start"), got.pop("days")) == (
        "accounts.csv",
        "2026-12-01T00:00Z",
        35,
    )
    assert got == expected
    body = as_user(outcomes_app, "vic").get("/plan")["body"]
    assert (
        f'data-testid="plan-state">{"Fits" if expected["fits"] else "Fits only by spilling"}<'
        in body
    )
    assert expected["verdict"] in body
    for name, channel in expected["channels"].items():
        row = re.search(rf'data-channel="{name}">(.*?)</tr>', body, re.S)
        assert row is not None
        assert number(channel["capacity_per_minute"]) in row.group(1)
        assert number(channel["peak_demand_per_minute"]) in row.group(1)


def test_without_a_report_source_the_pages_name_the_command(app: Any) -> None:
    for path, command in REPORT_COMMANDS.items():
        body = as_user(app, "vic").get(f"/{path}")["body"]
        assert "This console does not compute these figures." in body
        assert f"<code>{command}</code>" in body


def test_a_report_that_cannot_be_made_says_why(
    app: Any, services: ConsoleServices, tmp_path: Path
) -> None:
    empty = LocalReports(
        folder=tmp_path,
        lender_id="demo",
        tally=DynamoExperimentTally("rung-accounts"),
        upload=tmp_path / "missing.csv",
        start=NOW,
        days=35,
    )
    outcomes = create_app(replace(services, reports=empty), lambda e: LOCAL_USERS["vic"], SECRET)
    kpis = as_user(outcomes, "vic").get("/kpis")
    assert kpis["statusCode"] == 200 and "no analytics events" in kpis["body"]
    assert (
        "No account has joined a running experiment yet."
        in as_user(outcomes, "vic").get("/experiments")["body"]
    )
    assert "missing.csv" in as_user(outcomes, "vic").get("/plan")["body"]


def test_the_demo_run_outputs_give_the_kpis_rung_simulate_gives(
    run_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `rung console` writes its run's outputs itself (write_run_outputs); the KPIs read from
    # them are those of `rung simulate --out` on the same input (account keys differ: each run
    # draws its own key, and the KPIs only count them)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    sim = demo_input()
    write_run_outputs(tmp_path, sim, run_fast(sim))
    assert cli_json(["kpis", str(tmp_path), "--json"]) == cli_json(
        ["kpis", str(run_folder), "--json"]
    )


@dataclass
class PlanOnly:
    """An OutcomeReports whose plan is given: for the verdicts the samples never reach."""

    summary: dict[str, Any]

    def kpis(self) -> dict[str, Any]:
        raise ReportUnavailable("not asked")

    def experiments(self) -> dict[str, Any]:
        raise ReportUnavailable("not asked")

    def plan(self) -> dict[str, Any]:
        return self.summary


@pytest.mark.parametrize(
    ("change", "state"),
    [
        ({"fits": False, "spilled_rungs": 7}, "Fits only by spilling"),
        ({"fits": False, "open_executions": 1_000_001}, "Does not fit"),
    ],
)
def test_the_plan_page_names_each_verdict(
    services: ConsoleServices, reports: LocalReports, change: dict[str, Any], state: str
) -> None:
    summary = {**reports.plan(), **change}
    app = create_app(
        replace(services, reports=PlanOnly(summary)), lambda e: LOCAL_USERS["vic"], SECRET
    )
    body = as_user(app, "vic").get("/plan")["body"]
    assert f'data-testid="plan-state">{state}<' in body
