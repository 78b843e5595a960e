"""`rung erase` refuses bad input before any AWS call: exit 2, one clear line (or JSON)."""

from __future__ import annotations

import json

import pytest

from rung.cli import main


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--address", "2125550123", "--by", "Ana"], "E.164"),
        (["--account", "A1", "--by", "Ana"], "--lender"),
        (["--account", "A1", "--lender", "Demo Bank", "--by", "Ana"], "--lender"),
        (["--address", "+12125550123", "--lender", "demo", "--by", "Ana"], "--lender goes with"),
        (["--address", "+12125550123", "--by", "  "], "--by NAME"),
    ],
)
def test_erase_refuses_bad_input_with_exit_2(
    arguments: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["erase", *arguments, "--json"]) == 2
    out = capsys.readouterr().out
    error = json.loads(out)
    assert says in json.dumps(error)
    assert "Traceback" not in out


def test_erase_needs_one_of_account_or_address(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["erase", "--by", "Ana"]) == 2
    assert "--account" in capsys.readouterr().err
