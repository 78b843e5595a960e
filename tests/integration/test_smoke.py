"""`rung smoke` against the local world (the stack's resources and handlers on moto), and the
command against moto's server. moto produces no SES or SMS events, so one test plays AWS's
simulators: it publishes the events they document (delivery, bounce, complaint, SMS success
and failure) for what the stack sent. The run against a real deployment needs credentials:
`RUNG_SMOKE_STACK=Rung pytest tests/integration/test_smoke.py -k real`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.core.approval import approve_lint_clean
from functions.core.lenders import load_lender
from functions.settings import PROJECT_ROOT
from rung import cli
from rung.localworld import LocalWorld
from rung.preflight import Check
from rung.smoke import BORROWERS, Deployment, Smoke, SmokeRun

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws"
START = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 10:00 in Washington
SIMULATED_OUTCOME = {
    "sms-delivered": ("TEXT_DELIVERED", "DELIVERED"),
    "sms-failed": ("TEXT_CARRIER_UNREACHABLE", "CARRIER_UNREACHABLE"),
}


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    with LocalWorld(START, lender_ids=("smoke",)) as local:
        approve_lint_clean(
            local.services.templates,
            PROJECT_ROOT / "templates" / "messages",
            load_lender(PROJECT_ROOT, "smoke"),
            START,
        )
        yield local


def _deployment(world: LocalWorld) -> Deployment:
    settings = world.settings
    return Deployment(
        bucket=world.resources.bucket,
        accounts_table=settings.accounts_table,
        ledger_table=settings.ledger_table,
        audit_table=settings.audit_table,
        suppressions_table=settings.suppressions_table,
    )


def _virtual_sleep(world: LocalWorld, simulators: bool) -> Any:
    """Sleep on the world's clock; with `simulators`, AWS's simulators answer what was sent."""
    answered: set[str] = set()

    def sleep(seconds: float) -> None:
        world.clock.run_until(world.clock.now() + timedelta(seconds=seconds))
        if simulators:
            _answer(world, answered)

    return sleep


def _fixture_message(name: str) -> dict[str, Any]:
    envelope = json.loads((FIXTURES / f"{name}.json").read_text())
    message: dict[str, Any] = json.loads(envelope["Records"][0]["Sns"]["Message"])
    return message


def _answer(world: LocalWorld, answered: set[str]) -> None:
    """The events AWS's mailbox simulator and SMS simulator send for each new message."""
    topic = world.resources.ses_feedback_topic_arn
    sns = world.client("sns")
    by_address = {b.address: b.name for b in BORROWERS}
    for sms in world.sent_sms():
        if sms.message_id in answered:
            continue
        answered.add(sms.message_id)
        event = _fixture_message("sms_delivery_event")
        event_type, status = SIMULATED_OUTCOME[by_address[sms.to]]
        event |= {
            "messageId": sms.message_id,
            "destinationPhoneNumber": sms.to,
            "eventType": event_type,
            "messageStatus": status,
        }
        sns.publish(TopicArn=topic, Message=json.dumps(event))
    for email in world.sent_emails():
        if email.message_id in answered:
            continue
        answered.add(email.message_id)
        [to] = email.to
        kind = by_address[to]
        if kind == "email-bounce":
            event = _fixture_message("ses_event_bounce")
            event["bounce"]["bouncedRecipients"] = [{"emailAddress": to}]
        elif kind == "email-complaint":
            event = _fixture_message("ses_event_complaint")
            event["complaint"]["complainedRecipients"] = [{"emailAddress": to}]
        else:
            event = _fixture_message("ses_delivery")
            event["delivery"]["recipients"] = [to]
        event["mail"]["messageId"] = email.message_id
        sns.publish(TopicArn=topic, Message=json.dumps(event))


def _lines(checks: list[Check]) -> list[str]:
    return [f"{'PASS' if c.ok else 'FAIL'} {c.name}" for c in checks]


def test_smoke_file_addresses_only_aws_simulators() -> None:
    rows = SmokeRun(START).lender_file().decode().splitlines()
    addresses = {cell for row in rows[1:] for cell in row.split(",")[1:3] if cell}
    assert addresses == {
        "+14254147755",
        "+14254147167",
        "success@simulator.amazonses.com",
        "bounce@simulator.amazonses.com",
        "complaint@simulator.amazonses.com",
    }
    assert rows[1].startswith("smoke-20261201T180000-sms-delivered,")


def test_smoke_passes_every_step_when_the_simulators_answer(world: LocalWorld) -> None:
    # Given the deployed handlers, and AWS's simulators answering every message sent
    smoke = Smoke(
        world.client,
        _deployment(world),
        now=world.clock.now,
        sleep=_virtual_sleep(world, simulators=True),
    )
    # When the smoke test uploads its file and polls
    checks = smoke.run(timeout=timedelta(minutes=15), interval=timedelta(seconds=20))
    # Then every step passes: accepted, SENT, receipt noted, bounce and complaint suppressed
    assert [c for c in checks if not c.ok] == []
    assert len(checks) == 1 + 3 * len(BORROWERS) + 2
    # and it finished once the email rung (minute 3) was answered, not at the timeout
    assert world.clock.now() < START + timedelta(minutes=5)
    assert len(world.sent_sms()) == 2 and len(world.sent_emails()) == 3


def test_smoke_reports_missing_receipts_and_suppressions_at_the_timeout(
    world: LocalWorld,
) -> None:
    # Given a deployment whose sends work but from which no event ever comes back (the SMS
    # configuration set has lost its event destination; SES events are not simulated)
    for configuration_set in world.sms_voice.configuration_sets.values():
        configuration_set.destinations.clear()
    smoke = Smoke(
        world.client,
        _deployment(world),
        now=world.clock.now,
        sleep=_virtual_sleep(world, simulators=False),
    )
    checks = smoke.run(timeout=timedelta(minutes=10), interval=timedelta(seconds=20))
    lines = _lines(checks)
    # Then what moto models passes and the event-driven steps fail with their fixes
    assert "PASS sms-delivered: sms SENT (ledger and audit)" in lines
    assert "PASS email-bounce: email SENT (ledger and audit)" in lines
    assert "FAIL sms-delivered: receipt on the ledger (a delivered SMS event)" in lines
    assert "FAIL email-bounce: address suppressed (bounce)" in lines
    receipt = next(c for c in checks if c.name.startswith("sms-failed: receipt"))
    assert receipt.detail == "receipt: none yet" and "configuration set" in receipt.fix
    assert world.clock.now() >= START + timedelta(minutes=10)


def test_smoke_outside_daytime_shows_the_deferral(world: LocalWorld) -> None:
    # Given it is 22:00 in Washington (quiet hours)
    world.clock.run_until(START + timedelta(hours=12))
    smoke = Smoke(
        world.client,
        _deployment(world),
        now=world.clock.now,
        sleep=_virtual_sleep(world, simulators=True),
    )
    checks = smoke.run(timeout=timedelta(minutes=5), interval=timedelta(seconds=30))
    sent = next(c for c in checks if c.name == "sms-delivered: sms SENT (ledger and audit)")
    assert not sent.ok and "DEFERRED quiet_hours" in sent.detail


def test_smoke_cli_over_moto_server_uploads_and_reports_each_step(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack whose bucket and tables exist but whose functions never run
    aws = {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}
    boto3.client("s3", **aws).create_bucket(Bucket="uploads")
    dynamodb = boto3.client("dynamodb", **aws)
    for table in ("accounts", "ledger", "audit", "suppressions"):
        keys = [("pk", "HASH")] + ([("sk", "RANGE")] if table in ("ledger", "audit") else [])
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
    outputs = {
        "UploadsBucketName": "uploads",
        "AccountsTableName": "accounts",
        "LedgerTableName": "ledger",
        "AuditTableName": "audit",
        "SuppressionsTableName": "suppressions",
    }
    boto3.client("cloudformation", **aws).create_stack(
        StackName="Rung",
        TemplateBody=json.dumps(
            {
                "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()},
            }
        ),
    )
    # When the smoke test runs with no time to wait
    code = cli.main(["smoke", "--endpoint-url", moto_endpoint, "--timeout", "0"])
    out = capsys.readouterr().out
    # Then the file is in the bucket and each unmet step is a FAIL line with its fix
    assert code == 1
    assert "PASS  upload s3://uploads/uploads/smoke/smoke-" in out
    assert "FAIL  sms-delivered: accepted by the schedule function: not stored" in out
    keys = boto3.client("s3", **aws).list_objects_v2(Bucket="uploads")["Contents"]
    assert [k["Key"].split("/")[1] for k in keys] == ["smoke"]


def test_smoke_cli_without_the_stack_exits_2(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["smoke", "--endpoint-url", moto_endpoint, "--stack", "Nowhere"])
    captured = capsys.readouterr()
    assert code == 2
    assert "stack Nowhere is not deployed" in captured.err and "Traceback" not in captured.err


@pytest.mark.skipif(
    not os.environ.get("RUNG_SMOKE_STACK"),
    reason="needs AWS credentials and a deployed stack: set RUNG_SMOKE_STACK",
)
def test_smoke_against_a_real_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["smoke", "--stack", os.environ["RUNG_SMOKE_STACK"]])
    assert code == 0, capsys.readouterr().out
