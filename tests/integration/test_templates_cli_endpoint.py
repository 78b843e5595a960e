"""`rung templates push|approve|list` against a real HTTP endpoint (moto's server on loopback),
the way an operator tries the four-eyes flow before pointing it at AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.core.templates import content_hash
from rung.cli import main

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "messages" / "reminder_day1"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_templates_four_eyes_flow_over_an_endpoint(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (TEMPLATE / "sms.en-US.txt").read_text(encoding="utf-8")
    version = content_hash(source)
    where = ["--endpoint-url", moto_endpoint, "--table", "rung-templates"]

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


def test_templates_create_table_twice_is_fine(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--endpoint-url", moto_endpoint, "--table", "rung-templates", "--create-table"]
    assert _cli(capsys, "templates", "list", *where)[0] == 0
    code, out = _cli(capsys, "templates", "list", *where)
    assert code == 0 and "0 version(s)" in out
