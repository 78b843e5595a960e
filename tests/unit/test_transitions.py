"""The cost estimate counts Step Functions transitions as Step Functions bills them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from functions.core.models import Decision
from rung.engine import SimulationInput
from rung.engine_fast import run_fast

HEADER = "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state\n"


def test_rungs_skipped_inside_one_invocation_add_no_transitions(tmp_path: Path) -> None:
    # Given a file that arrives on day 14 past due (11:00 in New York): rungs 1-3 have passed
    accounts = tmp_path / "late.csv"
    accounts.write_text(
        HEADER + "L1,Lee,+12125550123,lee@example.com,50.00,USD,2026-11-02,en-US,US,NY\n",
        encoding="utf-8",
    )
    start = datetime(2026, 11, 16, 16, 0, tzinfo=UTC)

    # When the ladder runs to its end
    result = run_fast(SimulationInput(accounts, "demo", start, days=20))

    # Then three rungs were skipped and three sent, each in its own loop
    decisions = [(r.rung, r.decision, r.reason) for r in result.records]
    assert decisions == [
        (0, Decision.SUPPRESSED, "missed_before_upload"),
        (1, Decision.SUPPRESSED, "missed_before_upload"),
        (2, Decision.SUPPRESSED, "missed_before_upload"),
        (3, Decision.SENT, ""),
        (4, Decision.SENT, ""),
        (5, Decision.SENT, ""),
    ]
    # ... billed as 3 loops of WaitForRung → SendRung → RungsLeft, and LadderDone: the three
    #     skips, decided inside the first loop's invocation, add nothing
    assert result.sfn_transitions == 3 * 3 + 1
