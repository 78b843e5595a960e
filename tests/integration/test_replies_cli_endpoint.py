"""`rung replies review|resolve` against a real HTTP endpoint (moto's server on loopback): a
borrower's attorney reply goes through the inbound handler's core onto DynamoDB, then ops
list it (masked) and resolve it by name, as they would against AWS."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import boto3
import pytest

from functions.adapters.dynamo import (
    DynamoAccountStore,
    DynamoDecisionLog,
    DynamoReviewQueue,
    DynamoSuppressionStore,
)
from functions.bootstrap import memory_services
from functions.core.feedback import Feedback
from functions.core.models import Account, AccountStatus, Channel
from functions.core.replies import load_reply_rules
from functions.optout.aws_events import InboundSms, sms_reply
from functions.settings import PROJECT_ROOT, Settings
from rung.cli import main
from tests.integration.test_port_contracts import TABLES, create_tables

PHONE = "+14155550123"
AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_replies_review_and_resolve_over_an_endpoint(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    create_tables(client)
    accounts = DynamoAccountStore(TABLES["accounts"], client=client)
    accounts.put_many(
        [
            Account(
                lender_id="demo",
                account_id="A-1",
                phone=PHONE,
                amount_due=Decimal("10.00"),
                currency="USD",
                due_date=date(2026, 11, 30),
                locale="en-US",
            )
        ]
    )
    # Given a borrower texted that counsel represents them (effects written to the endpoint)
    services = memory_services(Settings(config_root=PROJECT_ROOT))
    ports = services.__class__(
        **{
            **services.__dict__,
            "accounts": accounts,
            "suppressions": DynamoSuppressionStore(TABLES["suppressions"], client=client),
            "reviews": DynamoReviewQueue(TABLES["reviews"], client=client, retention_days=400),
            "decisions": DynamoDecisionLog(TABLES["audit"], retention_days=400, client=client),
        }
    )
    feedback = Feedback(ports=ports, rules=load_reply_rules(PROJECT_ROOT), config_root=PROJECT_ROOT)
    sms = InboundSms(
        originationNumber=PHONE,
        destinationNumber="+18005550100",
        messageBody="My lawyer is Sam Lee, 415-555-0199",
        inboundMessageId="in-1",
    )
    feedback.on_reply(sms_reply(sms), at=AT, now=AT)
    where = [
        "--endpoint-url",
        moto_endpoint,
        "--region",
        "us-east-1",
        *("--reviews-table", TABLES["reviews"], "--accounts-table", TABLES["accounts"]),
        *("--suppressions-table", TABLES["suppressions"], "--audit-table", TABLES["audit"]),
    ]

    # When ops list the queue, Then they see it with the sender and numbers masked
    code, out, _ = _cli(capsys, "replies", "review", "--json", *where)
    assert code == 0
    [item] = json.loads(out)
    assert (item["intent"], item["why"], item["accounts"]) == ("attorney", "legal", ["demo#A-1"])
    assert PHONE not in out and "415-555-0199" not in out
    assert item["address_masked"].endswith("0123")

    # When someone tries to lift the status without a reason, it is refused
    code, _, err = _cli(
        capsys, "replies", "resolve", item["review_id"], "--as", "lift", "--by", "Ana", *where
    )
    assert code == 2 and "reason" in err
    assert (acct := accounts.get("demo", "A-1")) is not None
    assert acct.status is AccountStatus.ATTORNEY

    # When a named reviewer lifts it with a reason
    code, out, _ = _cli(
        capsys,
        "replies",
        "resolve",
        item["review_id"],
        "--as",
        "lift",
        "--by",
        "Ana",
        "--reason",
        "attorney confirmed they no longer act",
        "--json",
        *where,
    )
    # Then the account is ACTIVE again, the queue is empty and the log names Ana
    assert code == 0 and json.loads(out)["changed"] == ["demo#A-1"]
    assert (acct := accounts.get("demo", "A-1")) is not None
    assert acct.status is AccountStatus.ACTIVE
    code, out, _ = _cli(capsys, "replies", "review", "--json", *where)
    assert json.loads(out) == []
    logged = DynamoDecisionLog(TABLES["audit"], retention_days=400, client=client).history(
        Channel.SMS, PHONE
    )
    assert [(d.event, d.by) for d in logged if d.by == "Ana"] == [
        ("review_resolved", "Ana"),
        ("status", "Ana"),
    ]


def test_replies_resolve_without_intent_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "replies", "resolve", "sms-1")
    assert code == 2 and "--as" in err
