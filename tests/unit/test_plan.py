"""The capacity planner (functions.plan, `rung plan`): demand, capacity, spills, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.core.ladder import load_ladder
from functions.core.models import Channel
from functions.plan.planner import Demand, plan
from functions.settings import PROJECT_ROOT
from rung.cli import main

LADDER = load_ladder(PROJECT_ROOT, "default")
TEN = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York
SAMPLES = PROJECT_ROOT / "samples"


def _demand(sms: int, window: timedelta, email: int = 0) -> Demand:
    demand = Demand(accounts=max(sms, email))
    for _ in range(sms):
        demand.add(Channel.SMS, TEN, TEN + window, 0)
    for _ in range(email):
        demand.add(Channel.EMAIL, TEN, TEN + window, 1)
    return demand


def test_a_burst_that_fits_its_window_is_paced_without_spilling() -> None:
    # 10,000 SMS due at 10:00, 11 hours of window left, 3/s: 10,000 / 180 per minute ≈ 56 min
    result = plan(_demand(10_000, timedelta(hours=11)), LADDER, {Channel.SMS: 3, Channel.EMAIL: 14})

    assert result.fits and result.spilled == 0
    sms = result.channels[Channel.SMS]
    assert (sms.messages, sms.peak_demand_per_minute, sms.rate_to_avoid_spill) == (
        10_000,
        10_000,
        None,
    )
    (rung,) = [r for r in result.rungs if r.messages]
    assert rung.first_send == TEN
    assert rung.last_send == TEN + timedelta(minutes=10_000 // 180)
    assert result.verdict().startswith("plan: fits — 10,000 sms at 3/s")


def test_a_burst_larger_than_its_window_spills_and_names_the_rate_that_would_not() -> None:
    # 20,000 SMS due at 10:00 with one hour of window: 3/s sends 10,800 in that hour
    result = plan(_demand(20_000, timedelta(hours=1)), LADDER, {Channel.SMS: 3, Channel.EMAIL: 14})

    sms = result.channels[Channel.SMS]
    assert not result.fits
    assert sms.spilled == 20_000 - 10_800
    assert sms.rate_to_avoid_spill == 6  # 20,000 in 60 minutes needs 5.6/s
    avoided = plan(_demand(20_000, timedelta(hours=1)), LADDER, {Channel.SMS: 6, Channel.EMAIL: 14})
    assert avoided.fits
    assert "9,200 sms rung(s) spill (6/s would avoid it)" in result.verdict()


def test_start_executions_and_open_executions_follow_the_account_count() -> None:
    result = plan(
        _demand(0, timedelta(hours=1), email=3_000), LADDER, {Channel.SMS: 3, Channel.EMAIL: 14}
    )
    assert result.start_executions_seconds == 10.0  # StartExecution refills at 300/s
    assert (result.open_executions, result.open_executions_quota) == (3_000, 1_000_000)


def test_plan_cli_on_the_samples_fits_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["plan", str(SAMPLES / "accounts.csv"), "--start", "2026-12-01T00:00:00Z", "--json"]
    )

    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["fits"] is True and summary["spilled_rungs"] == 0
    assert (summary["rows"], summary["rejected"], summary["accounts"]) == (15, 1, 14)
    assert summary["channels"]["sms"]["rate_per_second"] == 3  # the stack default (cdk.json)
    assert [rung["rung"] for rung in summary["rungs"]] == [1, 2, 3, 4, 5, 6]
    assert summary["verdict"].startswith("plan: fits")


def test_plan_cli_exits_1_when_the_file_fits_only_by_spilling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 12,000 New York accounts whose first text falls due at 20:00 local, an hour
    # before the window closes (the file arrives then)
    rows = ["account_id,phone,amount_due,currency,due_date,country,state"]
    rows += [f"N{n},+1212555{n:04d},10.00,USD,2026-12-01,US,NY" for n in range(10_000)]
    rows += [f"M{n},+1917555{n:04d},10.00,USD,2026-12-01,US,NY" for n in range(2_000)]
    accounts = tmp_path / "late.csv"
    accounts.write_text("\n".join(rows) + "\n", encoding="utf-8")

    code = main(["plan", str(accounts), "--start", "2026-12-03T01:00:00Z"])

    out = capsys.readouterr().out
    assert code == 1
    assert "plan: fits only by spilling" in out and "4/s would avoid it" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "0"], "--days must be 1–366"),
        (["--start", "soon"], "not an ISO 8601 instant"),
    ],
)
def test_plan_cli_bad_options_exit_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(SAMPLES / "accounts.csv"), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_plan_cli_unusable_file_or_lender_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert main(["plan", str(SAMPLES / "accounts.csv"), "--lender", "nobody"]) == 2
    assert "unknown lender" in capsys.readouterr().err
