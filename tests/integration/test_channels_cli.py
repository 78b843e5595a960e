"""`rung channels` against a real HTTP endpoint (moto's server on loopback)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from rung.cli import main

TABLE = "rung-suppressions"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("dynamodb", endpoint_url=url).create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    try:
        yield url
    finally:
        # The server shares moto's in-process state: leave none behind for the next test.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        server.stop()


def _status(endpoint: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["channels", "status", "--json", "--table", TABLE, "--endpoint-url", endpoint]) == 0
    return json.loads(capsys.readouterr().out)


def test_channels_pause_and_resume_email(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Given both channels open
    assert _status(endpoint, capsys) == {"sms": None, "email": None}

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
    assert _status(endpoint, capsys) == {"sms": None, "email": None}


def test_channels_pause_needs_a_name(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["channels", "pause", "email", "--table", TABLE, "--endpoint-url", endpoint]) == 2
    assert "--by NAME" in capsys.readouterr().err
