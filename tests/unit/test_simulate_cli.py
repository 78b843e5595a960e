"""`rung simulate` as a user meets it: the sample files, bad options, bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rung.cli import main
from rung.report import CSV_COLUMNS

# The `rung` command on the operator's machine: run once, by `make test`, not again on the
# Lambda runtime (Makefile, test-runtime).
pytestmark = pytest.mark.operator_only

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BASE = ["simulate", str(SAMPLES / "accounts.csv"), "--start", "2026-12-01T00:00:00Z"]


def test_simulate_samples_writes_the_three_outputs_and_lists_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the sample file is previewed with its replies and payments on the fast engine
    code = main(
        [
            *BASE,
            "--replies",
            str(SAMPLES / "replies.csv"),
            "--payments",
            str(SAMPLES / "payments.csv"),
            "--days",
            "35",
            "--out",
            str(tmp_path),
            "--engine",
            "fast",
        ]
    )

    # Then it succeeds, names the rejected row, and prints each account's sends in local time
    out = capsys.readouterr().out
    assert code == 0
    assert "rejected row 8 [D-1007]: phone" in out
    assert "D-1002: 6 sent" in out
    assert "local  rung 1 sms   reminder_day1" in out
    # ... and writes messages.csv with the contract's columns, summary.json and report.html
    with (tmp_path / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert (summary["rows"], summary["rows_rejected"], summary["accounts"]) == (15, 1, 14)
    assert summary["invariants"] == {
        "sends_in_quiet_hours": 0,
        "sends_on_blackout_days": 0,
        "sends_after_opt_out": 0,
        "double_sends": 0,
    }
    assert len(rows) == sum(summary["decisions"].values())
    # ... where the borrower who texted "please stop texting me" gets no SMS after it
    stopped = [r for r in rows if r["account_id"] == "D-1003" and r["channel"] == "sms"]
    assert [r["decision"] for r in stopped if r["at_utc"] > "2026-12-03T01:20:00Z"] == [
        "SUPPRESSED",
        "SUPPRESSED",
    ]
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_simulate_json_prints_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*BASE, "--days", "3", "--out", str(tmp_path), "--engine", "fast", "--json"])

    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["accounts"] == 14


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "0"], "--days must be 1–366"),
        (["--days", "many"], "not a whole number of days"),
        (["--start", "2026-12-01T00:00:00"], "give a time zone"),
        (["--start", "tomorrow"], "not an ISO 8601 instant"),
        (["--engine", "warp"], "invalid choice"),
        (["--sms-rate", "0"], "at least 1 per second"),
        (["--email-rate", "fast"], "not a whole number of messages per second"),
        (
            ["--provider-outage", "fax:2026-12-02T14:00:00Z/PT2H"],
            "channel must be one of sms, email, push",
        ),
        (["--provider-outage", "sms:2026-12-02T14:00:00Z"], "expected CHANNEL:START/DURATION"),
        (["--provider-outage", "sms:2026-12-02T14:00:00/PT2H"], "give the start a time zone"),
        (["--provider-outage", "sms:noon/PT2H"], "start is not an ISO 8601 instant"),
        (["--provider-outage", "sms:2026-12-02T14:00:00Z/2h"], "duration is not ISO 8601"),
        (["--provider-outage", "sms:2026-12-02T14:00:00Z/PT0S"], "duration must be positive"),
    ],
)
def test_simulate_bad_option_exits_2_with_a_clear_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*BASE, *arguments]) == 2
    assert message in capsys.readouterr().err


def test_simulate_missing_or_unusable_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert "nope.csv" in capsys.readouterr().err

    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 8)
    assert main(["simulate", str(garbage), "--out", str(tmp_path)]) == 2
    assert "binary data" in capsys.readouterr().err


def test_simulate_bad_replies_file_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replies = tmp_path / "replies.csv"
    replies.write_text("at,from,channel,text\n2026-12-02T10:00:00Z,+12065550134,fax,hi\n")

    assert main([*BASE, "--replies", str(replies), "--out", str(tmp_path)]) == 2
    assert "replies.csv line 2" in capsys.readouterr().err


def _sms_rows(out: Path, account_id: str) -> list[dict[str, str]]:
    with (out / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["account_id"] == account_id]


def test_simulate_attorney_reply_stops_the_ladder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given D-1001 (WA) would be reminded throughout the month without any reply
    run = [*BASE, "--days", "35", "--engine", "fast"]
    assert main([*run, "--out", str(tmp_path / "plain")]) == 0
    reply_at = "2026-12-02T18:00:00Z"
    later = [r for r in _sms_rows(tmp_path / "plain", "D-1001") if r["at_utc"] > reply_at]
    assert any(r["decision"] == "SENT" for r in later)
    # When the borrower answers "talk to my attorney" after the first reminder
    replies = tmp_path / "replies.csv"
    replies.write_text(f"at,from,channel,text\n{reply_at},+12065550134,sms,talk to my attorney\n")
    assert main([*run, "--replies", str(replies), "--out", str(tmp_path / "lawyer")]) == 0
    capsys.readouterr()
    # Then nothing more is sent to that account: the ladder stopped at once
    after = [r for r in _sms_rows(tmp_path / "lawyer", "D-1001") if r["at_utc"] > reply_at]
    assert [r for r in after if r["decision"] == "SENT"] == []


def test_simulate_with_provider_limits_and_an_outage_reports_what_the_providers_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the sample file, 1 SMS and 1 email per second, SMS down for two hours and email
    # down for an hour, on mornings when rungs fall due
    code = main(
        [
            *BASE,
            "--days",
            "10",
            "--out",
            str(tmp_path),
            "--engine",
            "fast",
            "--json",
            "--sms-rate",
            "1",
            "--email-rate",
            "1",
            "--provider-outage",
            "sms:2026-12-02T17:00:00Z/PT2H",
            "--provider-outage",
            "email:2026-12-04T18:00:00Z/PT1H",
        ]
    )

    # Then the run succeeded with no failed ladder, never above the rates, and the rungs the
    # providers refused were deferred with the reason
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["ladders_failed"] == 0
    assert summary["peak_per_second"] == {"sms": 1, "email": 1, "push": 0}
    assert summary["deferred"]["by_reason"]["provider_unavailable"] > 0
    with (tmp_path / "messages.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    refused = {
        (r["channel"], r["at_utc"][:10]) for r in rows if r["reason"] == "provider_unavailable"
    }
    assert {("sms", "2026-12-02"), ("email", "2026-12-04")} <= refused
