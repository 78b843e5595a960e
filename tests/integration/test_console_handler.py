"""The console Lambda as deployed: its environment, its session key in Secrets Manager, the
tables on moto, sign-in routes and pages behind a Cognito ID token (signed here by a local key
served as the pool's JWKS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import jwt
import pytest
from moto import mock_aws

from functions.console import handler as console_handler
from functions.console.cognito import SESSION_COOKIE
from functions.core.errors import ConfigError
from functions.kpis.queries import KPI_QUERIES
from functions.settings import ConsoleLambdaSettings
from rung.commands.local_table import create_local_table
from rung.console_local import http_event
from tests.unit.test_console_cognito import CONFIG, JwksServer, id_token

TABLES = {
    "RUNG_ACCOUNTS_TABLE": ("rung-accounts", None),
    "RUNG_SUPPRESSIONS_TABLE": ("rung-suppressions", None),
    "RUNG_LEDGER_TABLE": ("rung-ledger", "sk"),
    "RUNG_AUDIT_TABLE": ("rung-audit", "sk"),
    "RUNG_TEMPLATES_TABLE": ("rung-templates", "sk"),
    "RUNG_UPLOADS_TABLE": ("rung-uploads", None),
    "RUNG_REVIEWS_TABLE": ("rung-reviews", None),
}


@dataclass(frozen=True)
class Deployed:
    settings: ConsoleLambdaSettings
    jwks: JwksServer


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """The console's environment as the stack sets it, over moto's tables and secret."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Rung",
    }.items():
        monkeypatch.setenv(name, value)
    jwks = JwksServer()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for variable, (table, range_key) in TABLES.items():
            create_local_table(client, table, range_key=range_key)
            monkeypatch.setenv(variable, table)
        for bucket in ("uploads", "analytics"):
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
        boto3.client("athena", region_name="us-east-1").create_work_group(Name="rung-kpis")
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="console-session", SecretString="s" * 64
        )
        for name, value in {
            "RUNG_UPLOADS_BUCKET": "uploads",
            "RUNG_ACCOUNT_RETENTION_DAYS": "400",
            "RUNG_AUDIT_RETENTION_DAYS": "400",
            "RUNG_LENDER_IDS": "demo",
            "RUNG_USER_POOL_ID": CONFIG.user_pool_id,
            "RUNG_USER_POOL_CLIENT_ID": CONFIG.client_id,
            "RUNG_USER_POOL_DOMAIN": CONFIG.domain,
            "RUNG_CONSOLE_URL": CONFIG.console_url,
            "RUNG_SESSION_SECRET_ARN": secret["ARN"],
            "RUNG_ANALYTICS_WORKGROUP": "rung-kpis",
            "RUNG_ANALYTICS_DATABASE": "rung_analytics",
            "RUNG_ANALYTICS_BUCKET": "analytics",
            "RUNG_ANALYTICS_RESULTS_PREFIX": "athena-results/",
            "RUNG_REPORT_WAIT_SECONDS": "7",
            "RUNG_REPORT_FRESH_MINUTES": "60",
        }.items():
            monkeypatch.setenv(name, value)
        console_handler.console_app.cache_clear()
        try:
            yield Deployed(ConsoleLambdaSettings.from_environment(), jwks)
        finally:
            console_handler.console_app.cache_clear()
            jwks.close()


class Context:
    function_name = "console"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:console"
    aws_request_id = "request-1"


def get(app_or_handler: Any, path: str, cookies: dict[str, str] | None = None) -> Any:
    cookie = "; ".join(f"{name}={value}" for name, value in (cookies or {}).items())
    event = http_event("GET", path, {"host": "console.example", "cookie": cookie}, b"")
    if callable(app_or_handler):
        return app_or_handler(event, Context())
    return app_or_handler.resolve(event, None)


def test_handler_sends_a_visitor_without_session_to_sign_in_then_to_cognito(
    deployed: Deployed,
) -> None:
    page = get(console_handler.handler, "/accounts")

    assert page["statusCode"] == 302
    assert page["headers"]["Location"] == "/auth/login?next=%2Faccounts"
    login = get(console_handler.handler, page["headers"]["Location"])
    assert login["statusCode"] == 302
    cognito = urlsplit(login["headers"]["Location"])
    assert (cognito.netloc, cognito.path) == (CONFIG.domain, "/oauth2/authorize")
    # The application's security headers apply to the sign-in routes too
    assert "frame-ancestors 'none'" in login["headers"]["Content-Security-Policy"]


def test_signed_in_person_sees_pages_their_group_allows(deployed: Deployed) -> None:
    app = console_handler.build_console(deployed.settings, jwt.PyJWKClient(deployed.jwks.url))
    author = id_token(**{"cognito:username": "ana", "cognito:groups": ["author"]})

    page = get(app, "/templates", {SESSION_COOKIE: author})

    assert page["statusCode"] == 200
    assert "ana" in page["body"]


def test_the_kpis_page_runs_the_queries_in_the_configured_workgroup(deployed: Deployed) -> None:
    app = console_handler.build_console(deployed.settings, jwt.PyJWKClient(deployed.jwks.url))
    viewer = id_token(**{"cognito:username": "vic", "cognito:groups": ["viewer"]})

    page = get(app, "/kpis", {SESSION_COOKIE: viewer})

    assert page["statusCode"] == 200 and "Source: athena" in page["body"]
    athena = boto3.client("athena", region_name="us-east-1")
    started = athena.list_query_executions(WorkGroup="rung-kpis")["QueryExecutionIds"]
    assert len(started) == len(KPI_QUERIES)
    batch = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket="analytics", Key="athena-results/console/kpis.json"
    )
    assert set(json.loads(batch["Body"].read())["executions"]) == set(KPI_QUERIES)


def test_forged_session_is_treated_as_no_session(deployed: Deployed) -> None:
    app = console_handler.build_console(deployed.settings, jwt.PyJWKClient(deployed.jwks.url))
    forged = id_token(aud="another-client", **{"cognito:groups": ["admin"]})

    page = get(app, "/templates", {SESSION_COOKIE: forged})

    assert page["statusCode"] == 302
    assert page["headers"]["Location"].startswith("/auth/login")


def test_cold_start_names_a_missing_setting(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNG_USER_POOL_CLIENT_ID")

    with pytest.raises(ConfigError, match="RUNG_USER_POOL_CLIENT_ID"):
        get(console_handler.handler, "/")
