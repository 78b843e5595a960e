"""`rung reply TEXT --json`: the keys it always had, plus why and how the reply was read."""

from __future__ import annotations

import json

import pytest

from rung.cli import main


def reply(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["reply", *args, "--json"]) == 0
    answer: dict[str, object] = json.loads(capsys.readouterr().out)
    return answer


def test_reply_cli_compound_spanish_reply(capsys: pytest.CaptureFixture[str]) -> None:
    answer = reply(capsys, "Ya pagué, no me manden más mensajes")
    assert {k: answer[k] for k in ("intent", "scope", "channel", "also")} == {
        "intent": "opt_out",
        "scope": "channel",
        "channel": "sms",
        "also": ["payment_claim"],
    }
    assert answer["normalised"] == "ya pague, no me manden mas mensajes"
    assert str(answer["rule"]).startswith("phrase:") and answer["rules_version"]


def test_reply_cli_legal_intent_and_promise(capsys: pytest.CaptureFixture[str]) -> None:
    assert reply(capsys, "找我律師")["intent"] == "attorney"
    promise = reply(capsys, "下週一還", "--today", "2026-12-01")
    assert (promise["intent"], promise["promised_on"]) == ("promise_to_pay", "2026-12-07")


def test_reply_cli_preference(capsys: pytest.CaptureFixture[str]) -> None:
    answer = reply(capsys, "email only please")
    assert answer["intent"] == "contact_preference"
    assert answer["preference"] == {"channel": "sms", "excluded": True}


def test_reply_cli_bad_date_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reply", "STOP", "--today", "Friday"]) == 2
    assert "--today" in capsys.readouterr().err
