"""`rung when --account`: the gate's answer for a stored account, with the contact
preferences it holds (source and time), read from the accounts table (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from functions.adapters.dynamo import DynamoAccountStore
from functions.core.models import Account, Channel, ContactPreference
from rung.cli import main
from tests.integration.test_port_contracts import TABLES, create_tables

REGION = "us-east-1"
FILED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REPLIED = datetime(2026, 12, 2, 23, 5, tzinfo=UTC)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoAccountStore]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client)
        yield DynamoAccountStore(TABLES["accounts"], client=client)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["when", *argv, "--accounts-table", TABLES["accounts"], "--region", REGION])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored(store: DynamoAccountStore, *preferences: ContactPreference) -> None:
    store.put_many(
        [
            Account(
                lender_id="demo",
                account_id="D-1",
                phone="+12125550123",
                email="d1@example.com",
                amount_due=Decimal("10.00"),
                currency="USD",
                due_date=date(2026, 11, 25),
                locale="en-US",
                country="US",
                state="NY",
                contact_preferences=preferences,
            )
        ]
    )


def test_when_account_shows_preferences_with_source_and_time_and_defers(
    store: DynamoAccountStore, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the lender file's 18:00-20:00 and no texts, then the borrower's "text me only"
    stored(
        store,
        ContactPreference(not_before=time(18), not_after=time(20), source="lender_file", at=FILED),
        ContactPreference(channel=Channel.SMS, excluded=True, source="lender_file", at=FILED),
        ContactPreference(channel=Channel.SMS, preferred=True, at=REPLIED),
    )
    # When asked about texts at noon New York time
    code, out, _ = run(capsys, "--account", "D-1", "--at", "2026-12-03T17:00:00Z", "--json")
    answer = json.loads(out)
    # Then the hours defer it to 18:00, and every preference is listed with source and time;
    # the lender file's "no sms" is set aside, since the borrower asked for texts only
    assert code == 0
    assert (answer["allowed"], answer["reason"]) == (False, "preferred_hours")
    assert answer["next_allowed_at"] == "2026-12-03T23:00:00Z"
    assert [(p["source"], p["at"], p["binding"]) for p in answer["preferences"]] == [
        ("lender_file", "2026-12-01T09:00:00Z", True),
        ("lender_file", "2026-12-01T09:00:00Z", False),
        ("reply", "2026-12-02T23:05:00Z", False),
    ]
    assert answer["preferences"][0]["said"].startswith("hours 18:00-20:00 — lender file")
    # And for email, the borrower's "text me only" suppresses
    _, out, _ = run(capsys, "--account", "D-1", "--channel", "email", "--json")
    email = json.loads(out)
    assert (email["allowed"], email["reason"]) == (False, "channel_excluded")
    assert email["detail"].endswith("— reply, 2026-12-02T23:05Z")


def test_when_account_names_the_holiday(
    store: DynamoAccountStore, capsys: pytest.CaptureFixture[str]
) -> None:
    stored(store)
    code, out, _ = run(capsys, "--account", "D-1", "--at", "2026-12-25T16:00:00Z")
    assert code == 0
    assert "allowed   no (holiday: America/New_York local Fri 11:00; 2026-12-25 Christmas" in out
    assert "next      2026-12-26T13:00:00Z" in out


def test_when_unknown_account_exits_2_with_a_message(
    store: DynamoAccountStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--account", "NOPE")
    assert code == 2
    assert "no account 'NOPE' of lender demo" in err
