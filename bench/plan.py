"""Benchmark: `rung plan` on a 1,000,000-account file, against validating the same file.

The planner validates every row (the same rules as `rung validate`), lays out each accepted
account's ladder and paces each channel per minute; the layout is memoised per (due date,
zone, window), so the planner should cost little more than validation itself.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import cpu_clock
from bench.ingest import write_file
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, validate_lender_file
from functions.core.lenders import load_lender
from functions.plan.planner import plan
from functions.settings import PROJECT_ROOT
from rung.commands.plan import plan_file, sending_rates

START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 35
ROWS = 1_000_000
# The figures this section replaced (same file and days), for comparison.
BEFORE = {
    "accepted": "998,897",
    "messages": "2,889,820",
    "validate": "245.5 s",
    "plan": "218.6 s",
    "ratio": "0.89×",
    "rate": "4,569",
}
BEFORE_SOURCE = (
    "`make bench` of 2026-12-01, while the test suite ran on the same two cores (validation "
    "then ran at a fifth of its unloaded speed), before validation's batched duplicate check "
    "and short paths of 2026-12-02; compare the ratio, not the seconds."
)


def run(quick: bool = False) -> str:
    rows = 20_000 if quick else ROWS
    lender = load_lender(PROJECT_ROOT, "demo")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accounts.csv"
        write_file(path, rows)

        # CPU time of this process (bench/harness.py): other work on the machine does not
        # move it much.
        with cpu_clock() as validating:
            report = FileReport()
            with path.open("rb") as stream:
                for _ in validate_lender_file(stream, lender, report):
                    pass
        validate_s = validating.cpu

        with cpu_clock() as planning:
            planned_report, demand = plan_file(path, lender, START, DAYS)
            result = plan(demand, load_ladder(PROJECT_ROOT, lender.ladder), sending_rates(lender))
        plan_s = planning.cpu

    return "\n".join(
        [
            "## Capacity planner (`rung plan`)",
            "",
            f"`rung plan` on a generated {rows:,}-row file, {DAYS} days from "
            f"{START:%Y-%m-%d} (bench/plan.py), one process.",
            "",
            "| measure | value | before |",
            "| --- | ---: | ---: |",
            f"| accounts accepted | {planned_report.accepted:,} | {BEFORE['accepted']} |",
            f"| messages planned | {sum(c.messages for c in result.channels.values()):,} | "
            f"{BEFORE['messages']} |",
            f"| validate the file (baseline), CPU | {validate_s:.1f} s | {BEFORE['validate']} |",
            f"| plan the file, CPU | {plan_s:.1f} s | {BEFORE['plan']} |",
            f"| plan ÷ validate | {plan_s / validate_s:.2f}× | {BEFORE['ratio']} |",
            f"| accounts planned per CPU second | {planned_report.accepted / plan_s:,.0f} | "
            f"{BEFORE['rate']} |",
            "",
            f"Before: {BEFORE_SOURCE}",
            "",
            f"Verdict: {result.verdict()}",
        ]
    )


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
