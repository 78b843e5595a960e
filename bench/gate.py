"""Gate benchmark: decisions per second of the pure core, and the send handler's cold import.

Inputs are realistic and mixed: US (several states, multi-zone ones too), CN, GB, IN and
unknown jurisdictions; mostly ACTIVE accounts, some blocked or on payment hold, some opted
out; short contact histories; instants spread over a year so quiet hours, DST days and caps
all occur. `python -m bench.gate [--quick]` prints the Markdown section.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.harness import alternate, python_child
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.policy import ContactHistory, GateInput, decide
from functions.core.profiles import load_profiles

ROOT = Path(__file__).resolve().parent.parent
TARGET_PER_SECOND = 20_000
TARGET_IMPORT_MS = 300
HANDLER = "functions.send.handler"
# (phone prefix, digits after it, country, state, lender zone)
PLACES = [
    ("+1212555", 4, "US", "NY", None),
    ("+1415555", 4, "US", "CA", None),
    ("+1212555", 4, "US", "CA", None),  # the CFPB case: Eastern number, Pacific address
    ("+1617555", 4, "US", "MA", None),
    ("+1206555", 4, "US", "WA", None),
    ("+1305555", 4, "US", "FL", None),  # multi-zone state
    ("+1312555", 4, "US", None, "America/Chicago"),
    ("+86138", 8, "CN", None, None),
    ("+86139", 8, None, None, "Asia/Shanghai"),
    ("+4420794", 5, "GB", None, None),
    ("+9198", 8, "IN", None, None),
    ("+3361234", 4, None, None, None),  # no profile: strictest default
]
STATUSES = [AccountStatus.ACTIVE] * 17 + [
    AccountStatus.PAID,
    AccountStatus.PAYMENT_CLAIMED,
    AccountStatus.DISPUTED,
]


def _inputs(count: int, rng: random.Random) -> list[GateInput]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    inputs = []
    for index in range(count):
        prefix, digits, country, state, zone = rng.choice(PLACES)
        phone = prefix + "".join(rng.choice("0123456789") for _ in range(digits))
        now = start + timedelta(seconds=rng.randrange(365 * 86400))
        status = rng.choice(STATUSES)
        account = Account(
            lender_id="demo",
            account_id=f"A{index}",
            phone=phone,
            email=f"b{index}@example.com",
            amount_due=Decimal("100"),
            currency="USD",
            due_date=date(2026, 1, 1),
            locale="en-US",
            country=country,
            state=state,
            timezone=zone,
            status=status,
            status_changed_at=now - timedelta(days=rng.randrange(8))
            if status is AccountStatus.PAYMENT_CLAIMED
            else None,
        )
        attempts = tuple(
            now - timedelta(hours=rng.randrange(1, 24 * 9)) for _ in range(rng.randrange(4))
        )
        channel = rng.choice(list(Channel))
        opted_out = rng.random() < 0.05
        suppressions = (
            (
                Suppression(
                    channel=Channel.SMS,
                    address=phone,
                    scope=SuppressionScope.ADDRESS,
                    source=SuppressionSource.REPLY,
                    at=now,
                ),
            )
            if opted_out
            else ()
        )
        inputs.append(
            GateInput(
                account=account,
                channel=channel,
                now=now,
                suppressions=suppressions,
                template_version=None if rng.random() < 0.02 else "v1",
                history=ContactHistory(
                    ladder_channel=attempts, ladder_all=attempts, address=attempts
                ),
            )
        )
    return inputs


def _valid(inputs: list[GateInput], book: object) -> list[GateInput]:
    """Keep inputs whose random phone number is a real, valid number (the file validator
    would reject the others at ingest)."""
    from functions.core.zones import InvalidLocation

    kept = []
    for gate in inputs:
        try:
            book.atlas.candidates(gate.account.phone, None, None, None, None)  # type: ignore[attr-defined]
        except InvalidLocation:
            continue
        kept.append(gate)
    return kept


def measure_gate(quick: bool) -> dict[str, object]:
    book = load_profiles(ROOT)
    rng = random.Random(20261129)
    accounts = 2_000 if quick else 20_000
    cold_inputs = _valid(_inputs(accounts, rng), book)
    # First decision per account: zone lookups not cached yet (the profile book is loaded).
    # CPU time of this process (time.process_time): "one core", even on a busy machine.
    began = time.process_time()
    verdicts = Counter(decide(gate, book).verdict.value for gate in cold_inputs)
    cold_rate = len(cold_inputs) / (time.process_time() - began)
    # Steady state: the same accounts again at other instants (ladders revisit accounts).
    rounds = 2 if quick else 5
    warm = [
        gate.model_copy(update={"now": gate.now + timedelta(days=3, minutes=17 * i)})
        for i in range(rounds)
        for gate in cold_inputs
    ]
    rates = []
    for _ in range(3):
        began = time.process_time()
        for gate in warm:
            decide(gate, book)
        rates.append(len(warm) / (time.process_time() - began))
    # Baseline in the same run: validating one GateInput (what every caller pays anyway).
    raw = [gate.model_dump() for gate in cold_inputs[:2000]]
    began = time.process_time()
    for item in raw:
        GateInput.model_validate(item)
    validate_rate = len(raw) / (time.process_time() - began)
    return {
        "accounts": len(cold_inputs),
        "decisions": len(warm),
        "cold_rate": cold_rate,
        "warm_rate": statistics.median(rates),
        "validate_rate": validate_rate,
        "verdicts": verdicts,
    }


# A fresh process: load config/profiles.yaml, the state table and zone1970.tab, then decide once.
FIRST_DECISION = """
import random, time
from bench.gate import ROOT, _inputs
from functions.core.policy import decide
from functions.core.profiles import load_profiles
gate = _inputs(1, random.Random(7))[0]
began = time.process_time()
decide(gate, load_profiles(ROOT))
print(time.process_time() - began)
"""


def measure_import(runs: int) -> dict[str, object]:
    """The handler's import in fresh interpreters against `import boto3` alone, alternating
    (bench/harness.py): median CPU ms of each."""
    compared = alternate(
        lambda: python_child("-c", "import boto3", env=_env()),
        lambda: python_child("-c", f"import {HANDLER}", env=_env()),
        runs,
    )
    first = python_child("-c", FIRST_DECISION, env=_env())
    profile = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {HANDLER}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    )
    return {
        "module": HANDLER,
        "median_ms": compared.subject_cpu * 1000,
        "boto3_ms": compared.baseline_cpu * 1000,
        "ratio": compared.ratio,
        "first_ms": float(first.stdout.strip()) * 1000,
        "top": _top_imports(profile.stderr),
    }


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "TZ": "UTC", "PYTHONDONTWRITEBYTECODE": "1"}


def _top_imports(report: str, count: int = 8) -> list[tuple[str, float]]:
    """Import time per top-level package: the sum of its modules' own (self) times."""
    totals: dict[str, float] = {}
    for line in report.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        self_us = fields[0].strip()
        package = fields[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def run(quick: bool = False) -> str:
    gate = measure_gate(quick)
    imports = measure_import(3 if quick else 7)
    verdicts: Counter[str] = gate["verdicts"]  # type: ignore[assignment]
    total = sum(verdicts.values())
    mix = ", ".join(f"{name} {count / total:.0%}" for name, count in sorted(verdicts.items()))
    warm, cold, validate = (
        float(gate[key])  # type: ignore[arg-type]
        for key in ("warm_rate", "cold_rate", "validate_rate")
    )
    top = "\n".join(f"| `{name}` | {ms:.0f} |" for name, ms in imports["top"])  # type: ignore[attr-defined]
    return f"""## Compliance gate (`bench/gate.py`)

Pure core, one process, CPU time of one core (`time.process_time`). {gate["accounts"]:,}
accounts with mixed locations (US states incl. multi-zone ones and the CFPB
Eastern-number/Pacific-address case, CN, GB, IN, unknown), statuses, opt-outs and contact
histories; instants spread over 2026 (quiet hours, DST days and caps all occur). Verdict mix: {mix}.

| measure | result | target |
| --- | ---: | ---: |
| decisions/s, steady state ({gate["decisions"]:,}, median of 3) | {warm:,.0f} | \
≥ {TARGET_PER_SECOND:,} |
| decisions/s, first decision per account (zone lookup uncached) | {cold:,.0f} | — |
| one decision ÷ validating its `GateInput` (same run), time ratio | {validate / warm:.2f}× | — |
| cold import of `{imports["module"]}`, median CPU ms | {imports["median_ms"]:.0f} | \
≤ {TARGET_IMPORT_MS} |
| `import boto3` alone, median CPU ms (alternating) | {imports["boto3_ms"]:.0f} | — |
| handler import ÷ `import boto3` | {imports["ratio"]:.2f}× | — |
| fresh process: load profiles + first decision, CPU ms | {imports["first_ms"]:.0f} | — |

Caches: candidate zones per (phone, address, lender zone) and allowed UTC intervals per
(zone, window, local date) are memoised; profile windows are precomputed once per profile.

Cold import by top-level package (sum of self times, `python -X importtime`, one run):

| package | ms |
| --- | ---: |
{top}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(run(quick=parser.parse_args(argv).quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
