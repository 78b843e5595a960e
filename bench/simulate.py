"""Benchmark: the fast simulator on a generated file, against `rung validate` on the same file.

Issue target: 10 000 accounts × 30 days in well under a minute on a 2-core machine.
Reported as account-rungs per second and as a ratio to validating the same file in the
same run (validation is the floor: the simulator validates every row and then does more).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# The handlers' CloudWatch logs and metrics are not part of a preview.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from bench.ingest import write_file
from functions.core.lender_file import FileReport, validate_lender_file
from functions.core.lenders import load_lender
from functions.settings import PROJECT_ROOT
from rung.engine import SimulationInput
from rung.engine_fast import run_fast

START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 30
TARGET_SECONDS = 60


def run(quick: bool = False) -> str:
    rows = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accounts.csv"
        write_file(path, rows)
        lender = load_lender(PROJECT_ROOT, "demo")

        began = time.perf_counter()
        report = FileReport()
        with path.open("rb") as stream:
            for _ in validate_lender_file(stream, lender, report):
                pass
        validate_s = time.perf_counter() - began

        began = time.perf_counter()
        result = run_fast(
            SimulationInput(accounts_file=path, lender_id="demo", start=START, days=DAYS)
        )
        simulate_s = time.perf_counter() - began

    decisions = len(result.records)
    account_rungs = len({(r.account_id, r.rung) for r in result.records})
    verdict = "meets" if simulate_s < TARGET_SECONDS else "MISSES"
    return "\n".join(
        [
            "## Simulator (fast engine)",
            "",
            f"`rung simulate --engine fast` on a generated {rows:,}-row file, {DAYS} virtual "
            "days (bench/simulate.py).",
            "",
            "| measure | value |",
            "| --- | ---: |",
            f"| accounts accepted | {report.accepted:,} |",
            f"| gate decisions recorded | {decisions:,} |",
            f"| account-rungs decided | {account_rungs:,} |",
            f"| validate the file (baseline) | {validate_s:.2f} s |",
            f"| simulate {DAYS} days | {simulate_s:.2f} s |",
            f"| account-rungs per second | {account_rungs / simulate_s:,.0f} |",
            f"| decisions per second | {decisions / simulate_s:,.0f} |",
            f"| simulate ÷ validate | {simulate_s / validate_s:.1f}× |",
            "",
            f"Target: {rows:,} accounts × {DAYS} days well under {TARGET_SECONDS} s — "
            f"{verdict} it.",
        ]
    )


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
