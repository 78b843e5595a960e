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


def test_channels_names_a_missing_table_and_how_to_create_it(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local endpoint without the table
    where = ["--table", TABLE, "--endpoint-url", moto_endpoint]

    # When status is asked / Then the error names the table and the way out
    assert main(["channels", "status", *where]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rung channels: table {TABLE} does not exist at {moto_endpoint}")
    assert "--create-table" in err


def test_channels_create_table_twice_is_fine(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--table", TABLE, "--endpoint-url", moto_endpoint, "--create-table"]
    # When the table is created with the first command, and the same command runs again
    assert main(["channels", "pause", "sms", "--by", "ana", *where]) == 0
    assert main(["channels", "status", "--json", *where]) == 0
    # Then the second found the table (and the pause) instead of failing
    out = capsys.readouterr().out.splitlines()[-1]
    assert json.loads(out)["sms"]["by"] == "ana"


def test_channels_create_table_is_for_local_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["channels", "status", "--table", TABLE, "--create-table"]) == 2
    assert "on AWS the stack owns the table rung-suppressions" in capsys.readouterr().err
