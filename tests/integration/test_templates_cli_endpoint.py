"""`rung templates push|approve|list` against a real HTTP endpoint (moto's server on loopback),
the way an operator tries the four-eyes flow before pointing it at AWS."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from functions.core.templates import content_hash
from rung.cli import main

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "messages" / "reminder_day1"


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
    try:
        yield url
    finally:
        # The server shares moto's in-process state: leave none behind for the next test.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        server.stop()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_templates_four_eyes_flow_over_an_endpoint(
    endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (TEMPLATE / "sms.en-US.txt").read_text(encoding="utf-8")
    version = content_hash(source)
    where = ["--endpoint-url", endpoint, "--table", "rung-templates"]

    # Given the author pushes the template folder (the table is created on the local endpoint)
    code, _ = _cli(
        capsys, "templates", "push", str(TEMPLATE), "--author", "ana", "--create-table", *where
    )
    assert code == 0

    # When the author tries to approve their own words, it is refused
    ref = f"reminder_day1@{version}"
    code, _ = _cli(
        capsys,
        "templates",
        "approve",
        ref,
        "--channel",
        "sms",
        "--locale",
        "en-US",
        "--by",
        "ana",
        *where,
    )
    assert code != 0

    # When a second person approves that exact version
    code, _ = _cli(
        capsys,
        "templates",
        "approve",
        ref,
        "--channel",
        "sms",
        "--locale",
        "en-US",
        "--by",
        "bo",
        *where,
    )
    assert code == 0

    # Then the list shows who approved which content hash
    code, out = _cli(capsys, "templates", "list", "reminder_day1", "--json", *where)
    assert code == 0
    versions = json.loads(out)
    rows = versions if isinstance(versions, list) else versions["versions"]
    approved = [v for v in rows if v["status"] == "APPROVED"]
    assert [(v["locale"], v["version"], v["author"], v["approver"]) for v in approved] == [
        ("en-US", version, "ana", "bo")
    ]
