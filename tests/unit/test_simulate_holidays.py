"""`rung simulate` across 25 December and 1 January: the default ladder's rungs that fall on
a public holiday wait for the next working day, and the `sends_on_blackout_days` invariant
(checked from the sends, with the `holidays` library asked directly) stays 0."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from functions.core.lenders import load_lender
from functions.core.models import Account, AuditRecord, Channel, Decision
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT
from rung.cli import main
from rung.commands.simulate import blackout_day_check

LENDER_FILE = """\
account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state
X-1,Ann,+12125550123,ann@example.com,100.00,USD,2026-11-25,en-US,US,NY
X-2,Bob,+14155550123,bob@example.com,100.00,USD,2026-12-02,en-US,US,CA
X-3,Cai,+8613800138000,cai@example.com,100.00,CNY,2026-12-18,zh-CN,CN,
"""


def test_default_ladder_over_christmas_and_new_year_defers_holiday_rungs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given accounts whose day-30 notices fall on 25 December (New York) and 1 January
    # (Los Angeles), and whose day-14 rung falls on 1 January in Shanghai
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(LENDER_FILE, encoding="utf-8")
    out = tmp_path / "out"
    # When forty days from 1 December are simulated
    code = main(
        [
            "simulate",
            str(accounts),
            "--start",
            "2026-12-01T00:00:00Z",
            "--days",
            "40",
            "--out",
            str(out),
            "--engine",
            "fast",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    with (out / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Then the run is clean and summary.json carries the invariant, 0
    assert code == 0
    assert summary["invariants"]["sends_on_blackout_days"] == 0
    # And each holiday rung was deferred with reason `holiday`, then sent the next day
    held = {
        (r["account_id"], r["rung"]): r["at_local"][:10] for r in rows if r["reason"] == "holiday"
    }
    assert held == {
        ("X-1", "6"): "2026-12-25",
        ("X-2", "6"): "2027-01-01",
        ("X-3", "4"): "2027-01-01",
    }
    sent = {
        (r["account_id"], r["rung"]): r["at_local"][:10] for r in rows if r["decision"] == "SENT"
    }
    assert sent[("X-1", "6")] == "2026-12-26"
    assert sent[("X-2", "6")] == "2027-01-02"
    assert sent[("X-3", "4")] == "2027-01-02"
    # And nothing at all is sent on 1 January, in any zone
    assert not [r for r in rows if r["decision"] == "SENT" and r["at_local"][5:10] == "01-01"]
    assert ("X-3", "3") in sent and sent[("X-3", "3")] == "2026-12-25"  # not a holiday in China


def test_blackout_invariant_check_catches_a_send_on_a_local_holiday() -> None:
    # Given a send at 26 December 02:00 UTC, which is still Christmas Day in Los Angeles
    lender = load_lender(PROJECT_ROOT, "demo")
    check = blackout_day_check(load_profiles(PROJECT_ROOT).for_lender(lender), lender)
    borrower = Account(
        lender_id="demo",
        account_id="X-2",
        phone="+14155550123",
        amount_due=Decimal("1"),
        currency="USD",
        due_date=date(2026, 12, 1),
        locale="en-US",
        country="US",
        state="CA",
    )

    def sent_at(at: datetime) -> AuditRecord:
        return AuditRecord(
            lender_id="demo",
            account_id="X-2",
            cycle="c",
            rung=5,
            channel=Channel.SMS,
            decision=Decision.SENT,
            at_utc=at,
        )

    # Then the check names the day and the zone; a day later it is clean
    found = check(sent_at(datetime(2026, 12, 26, 2, 0, tzinfo=UTC)), borrower)
    assert found == "2026-12-25 Christmas Day in America/Los_Angeles"
    assert check(sent_at(datetime(2026, 12, 27, 2, 0, tzinfo=UTC)), borrower) is None
