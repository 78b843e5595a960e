"""IAM for the console Lambda: every AWS call its pages make, checked against the console's role
as the CDK app synthesizes it (the local world's evaluator, rung/access), while people sign in
with Cognito ID tokens and use every page and action."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import boto3
import jwt
import pytest
from moto import mock_aws

from functions.adapters.dynamo import (
    DynamoAccountStore,
    DynamoExperimentTally,
    DynamoReviewQueue,
    DynamoUploadStore,
)
from functions.console import handler as console_handler
from functions.console.cognito import SESSION_COOKIE
from functions.core.models import Account, Channel, ReviewItem, UploadKind, UploadRecord
from functions.core.shipped import SHIPPED_ROOT
from functions.plan.stored import StoredPlan, plan_key
from functions.settings import ConsoleLambdaSettings
from infra.components.console import HANDLER
from rung.access import stack as stack_access
from rung.access.enforcer import AccessEnforcer
from rung.access.requests import Where
from rung.access.template import Physical, synthesized_template
from rung.commands.local_table import create_local_table
from rung.console_local import http_event
from tests.integration.test_console_handler import TABLES
from tests.unit.test_console_cognito import CONFIG, JwksServer, id_token

pytestmark = pytest.mark.slow

REGION, ACCOUNT = "us-east-1", "123456789012"
PHONE, EMAIL = "+14155550123", "jane.doe@example.com"
SMS_EN = (SHIPPED_ROOT / "templates" / "messages" / "reminder_day1" / "sms.en-US.txt").read_text(
    encoding="utf-8"
)
KEY = {"template": "reminder_day1", "channel": "sms", "locale": "en-US"}
GROUPS = {"vic": ["viewer"], "ana": ["author"], "bo": ["approver"], "ada": ["admin"]}


@dataclass
class Person:
    """One browser: an ID token from Cognito and the cookies the console sets."""

    app: Any
    name: str
    cookies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        claims = {"cognito:username": self.name, "cognito:groups": GROUPS[self.name]}
        self.cookies[SESSION_COOKIE] = id_token(**claims)

    def request(self, method: str, path: str, fields: dict[str, str] | None = None) -> Any:
        headers = {
            "host": "console.example",
            "content-type": "application/x-www-form-urlencoded",
            "cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        body = urlencode(fields or {}).encode()
        answer = self.app.resolve(http_event(method, path, headers, body), None)
        for cookie in answer.get("cookies") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";")[0]
        assert answer["statusCode"] < 500, answer.get("body")
        return answer

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str]) -> Any:
        if "__Host-rung_csrf" not in self.cookies:
            self.get("/templates")
        return self.request("POST", path, {**fields, "csrf": self.cookies["__Host-rung_csrf"]})


def console_variables(template: dict[str, Any]) -> dict[str, str]:
    """The console function's literal environment values, as the stack sets them."""
    (variables,) = [
        resource["Properties"]["Environment"]["Variables"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler") == HANDLER
    ]
    return {name: value for name, value in variables.items() if isinstance(value, str)}


@dataclass(frozen=True)
class Checked:
    enforcer: AccessEnforcer
    app: Any


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Checked]:
    template = synthesized_template()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    jwks = JwksServer()
    with mock_aws(), ExitStack() as stack:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for variable, (table, range_key) in TABLES.items():
            create_local_table(dynamodb, table, range_key=range_key)
            monkeypatch.setenv(variable, table)
        for index, attribute in (("by_phone", "phone"), ("by_email", "email")):
            dynamodb.update_table(
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
        # A local KMS key for each of the stack's keys; the bucket encrypted as the stack's is
        crypto = stack_access.encryption(template)
        kms = boto3.client("kms", region_name=REGION)
        created = {}
        for logical_id in crypto.keys:
            key = kms.create_key(Description=logical_id)["KeyMetadata"]
            created[logical_id] = Physical(ref=key["KeyId"], attributes={"Arn": key["Arn"]})
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="uploads")
        bucket_key = created[crypto.bucket_key["RUNG_UPLOADS_BUCKET"]]
        s3.put_bucket_encryption(
            Bucket="uploads",
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": bucket_key.attributes["Arn"],
                        }
                    }
                ]
            },
        )
        # The analytics record: its bucket (encrypted as the stack's is), the Glue table over
        # its events and the workgroup whose results go beside them
        analytics = console_variables(template)
        analytics_key = created[crypto.bucket_key["RUNG_ANALYTICS_BUCKET"]]
        s3.create_bucket(Bucket="analytics")
        s3.put_bucket_encryption(
            Bucket="analytics",
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": analytics_key.attributes["Arn"],
                        }
                    }
                ]
            },
        )
        glue = boto3.client("glue", region_name=REGION)
        glue.create_database(DatabaseInput={"Name": analytics["RUNG_ANALYTICS_DATABASE"]})
        glue.create_table(
            DatabaseName=analytics["RUNG_ANALYTICS_DATABASE"],
            TableInput={
                "Name": "events",
                "StorageDescriptor": {"Location": "s3://analytics/events/"},
            },
        )
        results = analytics["RUNG_ANALYTICS_RESULTS_PREFIX"]
        boto3.client("athena", region_name=REGION).create_work_group(
            Name="rung-kpis",
            Configuration={"ResultConfiguration": {"OutputLocation": f"s3://analytics/{results}"}},
        )
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="console-session", SecretString="s" * 64
        )["ARN"]
        environment = {
            "RUNG_UPLOADS_BUCKET": "uploads",
            "RUNG_ACCOUNT_RETENTION_DAYS": "400",
            "RUNG_AUDIT_RETENTION_DAYS": "400",
            "RUNG_LENDER_IDS": "demo",
            "RUNG_SESSION_SECRET_ARN": secret,
            "RUNG_ANALYTICS_WORKGROUP": "rung-kpis",
            "RUNG_ANALYTICS_BUCKET": "analytics",
            **{
                name: analytics[name]
                for name in (
                    "RUNG_ANALYTICS_DATABASE",
                    "RUNG_ANALYTICS_RESULTS_PREFIX",
                    "RUNG_REPORT_WAIT_SECONDS",
                    "RUNG_REPORT_FRESH_MINUTES",
                )
            },
        }
        for name, value in {
            **environment,
            "RUNG_USER_POOL_ID": CONFIG.user_pool_id,
            "RUNG_USER_POOL_CLIENT_ID": CONFIG.client_id,
            "RUNG_USER_POOL_DOMAIN": CONFIG.domain,
            "RUNG_CONSOLE_URL": CONFIG.console_url,
        }.items():
            monkeypatch.setenv(name, value)
        DynamoAccountStore("rung-accounts", client=dynamodb).put_many(
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
        # The demo experiment's tallies (config/experiments/demo.yaml): a challenger stopped
        tally = DynamoExperimentTally("rung-accounts", client=dynamodb)
        for variant, counter, times in (
            ("current", "accounts", 3),
            ("email-first", "accounts", 2),
            ("email-first", "complaints", 1),
        ):
            for _ in range(times):
                tally.add("demo", "email-first-2026q4", variant, counter)
        tally.stop("demo", "email-first-2026q4", "email-first", "complaint_rate 1/2 >= 0.001")
        # A file with rejected rows (its report under rejects/) and a reply held for review
        report = "rejects/demo/accounts-1.csv"
        s3.put_object(Bucket="uploads", Key=report, Body=b"row,account_id,errors\n2,D-9,phone\n")
        DynamoUploadStore("rung-uploads", client=dynamodb).begin(
            UploadRecord(
                key="uploads/demo/accounts-1.csv",
                etag="e1",
                lender_id="demo",
                kind=UploadKind.ACCOUNTS,
                received_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
                finished=True,
                rows=2,
                accepted=1,
                rejected=1,
                report_key=report,
            )
        )
        # The plan function stored the file's capacity plan beside it
        s3.put_object(
            Bucket="uploads",
            Key=plan_key("uploads/demo/accounts-1.csv"),
            Body=StoredPlan(
                key="uploads/demo/accounts-1.csv",
                lender_id="demo",
                start="2026-12-01T09:00Z",
                days=35,
                computed_at=datetime(2026, 12, 1, 9, 2, tzinfo=UTC),
                error="file rejected: the file has a header but no rows",
            )
            .model_dump_json()
            .encode(),
        )
        DynamoReviewQueue("rung-reviews", retention_days=400, client=dynamodb).open(
            ReviewItem(
                review_id="r-1",
                at=datetime(2026, 12, 1, 10, tzinfo=UTC),
                channel=Channel.SMS,
                address=PHONE,
                text="my lawyer handles this now",
                intent="other",
                why="low_confidence",
                accounts=("demo#D-1001",),
            )
        )
        local = stack_access.LocalResources(
            region=REGION,
            account=ACCOUNT,
            stack_name=stack_access.stack_name(),
            environment={
                **environment,
                **{variable: table for variable, (table, _) in TABLES.items()},
            },
            functions={
                HANDLER: (
                    "rung-console",
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rung-console",
                )
            },
            state_machine_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rung-ladder",
            created=created,
        )
        where = Where(
            region=REGION,
            account=ACCOUNT,
            secret_arn=lambda name: name,
            email_identity=lambda address: address,
            sms_identity=lambda identity: identity,
            query_place=lambda workgroup: stack_access.query_place(workgroup, REGION, ACCOUNT),
            query_workgroup=lambda query: stack_access.query_workgroup(query, REGION, ACCOUNT),
        )
        enforcer = stack_access.enforcer(template, local, where, {"console": HANDLER})
        enforcer.install(stack)
        with enforcer.invocation(HANDLER):
            app = console_handler.build_console(
                ConsoleLambdaSettings.from_environment(), jwt.PyJWKClient(jwks.url)
            )
        yield Checked(enforcer, app)
    jwks.close()


def test_every_call_of_every_page_and_action_is_allowed_by_the_console_role(
    checked: Checked,
) -> None:
    enforcer, app = checked.enforcer, checked.app
    with enforcer.invocation(HANDLER):
        vic, ana, bo, ada = (Person(app, name) for name in ("vic", "ana", "bo", "ada"))
        for page in ("/", "/templates", "/approvals", "/replies", "/suppressions", "/uploads"):
            vic.get(page)
        for page in ("/channels", "/activity"):
            vic.get(page)
        # Accounts: by id, phone and email, and the timeline
        assert ana.get("/accounts?q=D-1001")["statusCode"] in (200, 303)
        assert ana.get("/accounts?q=" + PHONE)["statusCode"] == 303
        assert ana.get("/accounts?q=" + EMAIL)["statusCode"] == 303
        assert vic.get("/accounts/demo/D-1001")["statusCode"] == 200
        # Templates: submit, approve (four eyes)
        edited = SMS_EN.replace("{{ first_name }}", "{{ first_name }},", 1) + "\n"
        assert ana.post("/templates/submit", {**KEY, "source": edited})["statusCode"] == 303
        [version] = [
            line.split('value="', 1)[1].split('"', 1)[0]
            for line in bo.get("/approvals")["body"].splitlines()
            if 'name="version"' in line
        ][:1]
        decide = {**KEY, "version": version, "decision": "approve"}
        assert bo.post("/approvals/decide", decide)["statusCode"] == 303
        # Suppressions: add, lift; channels: pause, resume
        added = {"channel": "email", "address": EMAIL, "reason": "asked by letter"}
        assert ada.post("/suppressions/add", added)["statusCode"] == 303
        lift = {"key": f"email#{EMAIL}", "reason": "entered by mistake"}
        assert ada.post("/suppressions/lift", lift)["statusCode"] == 303
        pause = {"channel": "email", "reason": "bounce spike"}
        assert ada.post("/channels/pause", pause)["statusCode"] == 303
        assert ada.post("/channels/resume", {**pause, "reason": "fixed"})["statusCode"] == 303
        # A reject report downloaded; a held reply resolved as a lawyer's (the account's status)
        assert ana.get("/uploads/report?key=rejects/demo/accounts-1.csv")["statusCode"] == 200
        resolved = {"review_id": "r-1", "resolved_as": "attorney", "reason": "lawyer named"}
        assert bo.post("/replies/resolve", resolved)["statusCode"] == 303
        # Outcomes: the KPIs run on Athena (their batch item kept beside the results), the
        # experiments read their tallies from the accounts table, the plan page reads the
        # stored plan
        for page in ("/kpis", "/experiments", "/plan"):
            assert vic.get(page)["statusCode"] == 200
        assert "Computed at" in vic.get("/kpis")["body"]
        assert "accounts-1.csv (lender demo), could not be planned" in vic.get("/plan")["body"]
        experiments = vic.get("/experiments")["body"]
        assert '<td data-label="Accounts">3</td>' in experiments
        assert "stopped: complaint_rate 1/2 &gt;= 0.001" in experiments

    assert enforcer.take_denials() == []
    # ... and every grant of the role was needed by some call (no permission to spare)
    console = enforcer.principals["console"]
    calls = [call for call in enforcer.calls if call.principal == "console"]
    for grant in console.grants:
        needed = [
            call
            for call in calls
            if not console.allows(
                call.action, call.resource, without=grant.origin, context=dict(call.context)
            )
        ]
        assert needed, f"no console call needs {grant.written}"
