"""`rung simulate` with the lender file's contact-preference columns: honoured by the gate
and shown per account."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rung.cli import main

LENDER_FILE = """\
account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state,contact_hours,do_not_contact_channels,preferred_channel
P-1,Ann,+12125550123,ann@example.com,100.00,USD,2026-11-25,en-US,US,NY,18:00-20:00,,
P-2,Bob,+14155550123,bob@example.com,100.00,USD,2026-12-02,en-US,US,CA,,sms,
P-3,Cy,+14155550124,cy@example.com,100.00,USD,2026-12-02,en-US,US,CA,,,sms
"""


def test_simulate_honours_and_shows_lender_file_preferences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(LENDER_FILE, encoding="utf-8")
    out = tmp_path / "out"
    # When the file is simulated for two weeks
    code = main(
        [
            "simulate",
            str(accounts),
            "--start",
            "2026-12-01T00:00:00Z",
            "--days",
            "14",
            "--out",
            str(out),
            "--engine",
            "fast",
        ]
    )
    text = capsys.readouterr().out
    with (out / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    sent = [r for r in rows if r["decision"] == "SENT"]
    # Then each account's preferences are shown with their source
    assert code == 0
    assert "    prefers hours 18:00-20:00 — lender file, 2026-12-01T00:00Z" in text
    assert "    prefers no sms — lender file" in text
    assert "    prefers only sms — lender file" in text
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Contact preferences: hours 18:00-20:00 — lender file, 2026-12-01T00:00Z" in page
    # And P-1 hears only between 18:00 and 20:00 local, P-2 gets no text, P-3 no email
    p1 = [r["at_local"][11:16] for r in sent if r["account_id"] == "P-1"]
    assert p1 and all("18:00" <= hhmm < "20:00" for hhmm in p1)
    assert {r["channel"] for r in sent if r["account_id"] == "P-2"} == {"email"}
    assert {r["channel"] for r in sent if r["account_id"] == "P-3"} == {"sms"}
    excluded = [r for r in rows if r["reason"] == "channel_excluded"]
    assert {(r["account_id"], r["channel"]) for r in excluded} == {("P-2", "sms"), ("P-3", "email")}
