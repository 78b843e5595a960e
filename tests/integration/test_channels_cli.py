"""`rung channels` against a real HTTP endpoint (moto's server on loopback)."""

from __future__ import annotations

import json

import boto3
import pytest

from rung.cli import main

TABLE = "rung-suppressions"


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    boto3.client("dynamodb", endpoint_url=moto_endpoint).create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return moto_endpoint


def _status(endpoint: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["channels", "status", "--json", "--table", TABLE, "--endpoint-url", endpoint]) == 0
    return json.loads(capsys.readouterr().out)


def test_channels_pause_and_resume_email(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Given both channels open
    assert _status(endpoint, capsys) == {"sms": None, "email": None, "push": None}

    # When ops pause email by hand, saying who and why
    assert (
        main(
            [
                "channels",
                "pause",
                "email",
                "--by",
                "ana",
                "--reason",
                "DMARC broke",
                "--table",
                TABLE,
                "--endpoint-url",
                endpoint,
            ]
        )
        == 0
    )
    capsys.readouterr()

    # Then email is paused with that record, SMS is open
    state = _status(endpoint, capsys)
    assert state["sms"] is None
    paused = state["email"]
    assert isinstance(paused, dict)
    assert (paused["by"], paused["reason"]) == ("ana", "DMARC broke")

    # When they resume it, it is open again
    assert main(["channels", "resume", "email", "--table", TABLE, "--endpoint-url", endpoint]) == 0
    capsys.readouterr()
    assert _status(endpoint, capsys) == {"sms": None, "email": None, "push": None}


def test_channels_pause_needs_a_name(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["channels", "pause", "email", "--table", TABLE, "--endpoint-url", endpoint]) == 2
    assert "--by NAME" in capsys.readouterr().err
