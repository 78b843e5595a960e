"""Benchmark: a lender-scale simulation — 100,000 accounts paced at 3 SMS per second.

A toll-free number sends 3 SMS/s; a morning's first rungs for 100,000 accounts would take
over nine hours at that rate. The run checks what the issue asks of it: every ladder ends
without failing, no second carries more messages than the providers accept, and rungs the
rate pushes back are deferred with a reason (`capacity`), not lost.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from bench.ingest import write_file
from functions.core.lenders import UnitPrices
from functions.core.models import Channel, Decision
from rung.engine import SimulationInput
from rung.engine_fast import run_fast
from rung.report import summarize

START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 30
SMS_RATE, EMAIL_RATE = 3, 14


def run(quick: bool = False) -> str:
    rows = 5_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accounts.csv"
        write_file(path, rows)
        sim = SimulationInput(
            accounts_file=path,
            lender_id="demo",
            start=START,
            days=DAYS,
            rates=((Channel.SMS, SMS_RATE), (Channel.EMAIL, EMAIL_RATE)),
        )
        began = time.perf_counter()
        result = run_fast(sim)
        simulate_s = time.perf_counter() - began

    # Only the counts are read here; quiet hours are checked by the simulator's own tests.
    summary = summarize(
        result,
        UnitPrices(),
        in_quiet_hours=lambda record, account: False,
        on_blackout_day=lambda record, account: None,
    )
    deferred = Counter(r.reason for r in result.records if r.decision is Decision.DEFERRED)
    sent = summary["sent"]["by_channel"]
    lines = [
        f"## Lender scale: {rows:,} accounts at {SMS_RATE} SMS/s (fast engine)",
        "",
        f"`rung simulate --engine fast --sms-rate {SMS_RATE} --email-rate {EMAIL_RATE}` on a "
        f"generated {rows:,}-row file, {DAYS} virtual days (bench/scale.py). The send step "
        "paces every message to a reserved slot; the simulated providers throttle above the "
        "rates.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| accounts | {summary['accounts']:,} |",
        f"| gate decisions recorded | {len(result.records):,} |",
        f"| SMS sent | {sent['sms']:,} |",
        f"| emails sent | {sent['email']:,} |",
        f"| ladders failed | {result.ladders_failed} |",
        f"| peak SMS in one second | {summary['peak_per_second']['sms']} |",
        f"| peak emails in one second | {summary['peak_per_second']['email']} |",
    ]
    lines += [f"| deferred `{reason}` | {count:,} |" for reason, count in deferred.most_common()]
    lines += [
        f"| simulate {DAYS} days | {simulate_s:.0f} s |",
        "",
        "Target: zero failed ladders and no second above the rate — "
        + (
            "meets it."
            if result.ladders_failed == 0
            and summary["peak_per_second"]["sms"] <= SMS_RATE
            and summary["peak_per_second"]["email"] <= EMAIL_RATE
            else "MISSES it."
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
