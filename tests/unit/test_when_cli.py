"""`rung when`: profile, candidate zones and why, allowed now, next allowed instant."""

from __future__ import annotations

import json

import pytest

from rung.cli import main

CONTRACT = ("profile", "zones", "allowed", "next_allowed_at")


def contract(out: str) -> dict[str, object]:
    """The four keys every version of `rung when --json` carries (later keys are additive)."""
    answer = json.loads(out)
    return {key: answer[key] for key in CONTRACT}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["when", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_when_json_cfpb_example_not_allowed_yet(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a New York number with a California address at 10:30 EDT (07:30 PDT), DST day
    code, out, _ = run(
        capsys,
        "--phone",
        "+12125550123",
        "--country",
        "US",
        "--state",
        "CA",
        "--at",
        "2026-03-08T14:30:00Z",
        "--json",
    )
    # Then the contract's four keys say: not yet, from 08:00 Pacific (11:00 Eastern)
    assert code == 0
    assert contract(out) == {
        "profile": "US",
        "zones": ["America/Los_Angeles", "America/New_York"],
        "allowed": False,
        "next_allowed_at": "2026-03-08T15:00:00Z",
    }


def test_when_json_allowed_now_points_at_now(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--phone", "+8613800138000", "--at", "2026-06-10T04:00:00+00:00", "--json"
    )
    assert code == 0
    assert contract(out) == {
        "profile": "CN",
        "zones": ["Asia/Shanghai"],
        "allowed": True,
        "next_allowed_at": "2026-06-10T04:00:00Z",
    }


def test_when_json_state_selects_profile(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        capsys,
        "--phone",
        "+16175550123",
        "--state",
        "MA",
        "--tz",
        "America/New_York",
        "--at",
        "2026-06-10T16:00:00Z",
        "--json",
    )
    assert json.loads(out)["profile"] == "US-MA"


def test_when_json_unknown_jurisdiction_uses_strictest_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "--phone", "+33612345678", "--at", "2026-06-10T10:00:00Z", "--json")
    answer = json.loads(out)
    assert (answer["profile"], answer["zones"], answer["allowed"]) == (
        "DEFAULT",
        ["Europe/Paris"],
        True,
    )


def test_when_json_no_zone_is_never_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    # International freephone: no zone anywhere ⇒ fail closed, no next instant
    _, out, _ = run(capsys, "--phone", "+80012345678", "--at", "2026-06-10T16:00:00Z", "--json")
    assert contract(out) == {
        "profile": "DEFAULT",
        "zones": [],
        "allowed": False,
        "next_allowed_at": None,
    }


def test_when_human_output_names_zone_and_next_instant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--phone", "+12125550123", "--at", "2026-06-11T02:00:00Z")
    assert code == 0
    assert "allowed   no (quiet hours in America/New_York)" in out
    assert "next      2026-06-11T12:00:00Z" in out
    assert "Thu 2026-06-11 08:00 EDT" in out


def test_when_foreign_phone_with_us_state_waits_for_new_york(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a Chinese mobile with a New York address at 07:00 EST (20:00 in Shanghai)
    code, out, _ = run(
        capsys,
        "--phone",
        "+8613800138000",
        "--state",
        "NY",
        "--at",
        "2026-12-01T12:00:00Z",
        "--json",
    )
    answer = json.loads(out)
    # Then not yet: the next instant is 19:00 in New York, 08:00 in Shanghai (the overlap)
    assert code == 0
    assert contract(out) == {
        "profile": "US",
        "zones": ["America/New_York", "Asia/Shanghai"],
        "allowed": False,
        "next_allowed_at": "2026-12-02T00:00:00Z",
    }
    assert answer["zone_sources"] == {
        "America/New_York": ["US state NY"],
        "Asia/Shanghai": ["phone"],
    }
    assert answer["notes"] == []


def test_when_split_area_code_names_both_zones_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 850 spans Eastern and Central: at 08:30 EST it is 07:30 in Pensacola
    _, out, _ = run(capsys, "--phone", "+18505550100", "--at", "2026-12-01T13:30:00Z", "--json")
    answer = json.loads(out)
    assert set(answer["zones"]) == {"America/New_York", "America/Chicago"}
    assert answer["allowed"] is False
    assert answer["next_allowed_at"] == "2026-12-01T14:00:00Z"
    assert answer["zone_sources"]["America/Chicago"] == ["phone area code 850 spans zones"]


def test_when_toll_free_with_address_uses_the_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(
        capsys,
        "--phone",
        "+18005550100",
        "--country",
        "US",
        "--state",
        "CA",
        "--at",
        "2026-12-01T20:00:00Z",
        "--json",
    )
    answer = json.loads(out)
    assert contract(out) == {
        "profile": "US",
        "zones": ["America/Los_Angeles"],
        "allowed": True,
        "next_allowed_at": "2026-12-01T20:00:00Z",
    }
    assert "toll-free" in answer["notes"][0]


def test_when_human_output_says_why_each_zone(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--phone", "+8613800138000", "--state", "NY", "--at", "2026-12-01T12:00:00Z"
    )
    assert code == 0
    assert "from US state NY" in out
    assert "allowed   no (quiet hours in America/New_York)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--phone", "+1212"], "phone"),
        (["--phone", "+12125550123", "--tz", "Mars/Base"], "Mars/Base"),
        (["--phone", "+12125550123", "--at", "tomorrow"], "--at"),
        (["--phone", "+12125550123", "--at", "2026-06-10T10:00"], "no UTC offset"),
        (["--phone", "+12125550123", "--country", "US", "--state", "ZZ"], "state"),
    ],
)
def test_when_invalid_input_exits_2_with_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # In words on stderr
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err and err.startswith("rung when: ")
    # ... and with --json, the same error as one JSON object on stdout
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 2
    answer = json.loads(out)
    assert answer["command"] == "rung when" and message in answer["error"]


def test_when_names_the_holiday_that_defers(capsys: pytest.CaptureFixture[str]) -> None:
    # Given China's National Day, 10:00 in Shanghai
    argv = ("--phone", "+8613800138000", "--country", "CN", "--at", "2026-10-01T02:00:00Z")
    code, out, _ = run(capsys, *argv, "--json")
    answer = json.loads(out)
    # Then it is not allowed, and the answer names the holiday and the zone whose date it is
    assert code == 0
    assert (answer["allowed"], answer["reason"]) == (False, "holiday")
    assert answer["holiday"] == {
        "name": "National Day",
        "date": "2026-10-01",
        "zone": "Asia/Shanghai",
        "calendar": "CN",
    }
    # And the human output says it too
    _, text, _ = run(capsys, *argv)
    assert "holiday   National Day (2026-10-01, CN calendar)" in text


def test_when_holiday_is_judged_on_the_local_date(capsys: pytest.CaptureFixture[str]) -> None:
    # Given 26 December 02:00 UTC: still Christmas evening (18:00) in Los Angeles
    _, out, _ = run(capsys, "--phone", "+14155550123", "--at", "2026-12-26T02:00:00Z", "--json")
    answer = json.loads(out)
    assert (answer["allowed"], answer["reason"]) == (False, "holiday")
    assert answer["holiday"]["name"] == "Christmas Day"
    assert answer["next_allowed_at"] == "2026-12-26T16:00:00Z"  # 08:00 PST on the 26th


def test_when_allowed_names_no_holiday(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--phone", "+14155550123", "--at", "2026-12-28T18:00:00Z", "--json")
    answer = json.loads(out)
    assert (answer["allowed"], answer["reason"], answer["holiday"]) == (True, None, None)
