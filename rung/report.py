"""What `rung simulate` writes (docs/design.md): `messages.csv`, `summary.json`, `report.html`.

- `messages.csv` — one row per gate decision, columns `CSV_COLUMNS` in that order. UTF-8 with
  a byte-order mark, so Excel opens Chinese bodies correctly (without it, Excel reads the file
  in the machine's ANSI code page); every cell is neutralised against formula injection,
  because bodies and names come from lender files. `rung` is the 1-based rung number of the
  ladder (rung 1 = the ladder's first rung), which is what an operator reads in ladders/*.yaml;
  `at_utc` is ISO 8601 UTC ending in `Z`.
- `summary.json` — the numbers (see `summarize`), including the invariant counters
  (docs/design.md, Invariants), computed by `rung.invariants` from the records, not taken from the
  gate.
- `report.html` — one self-contained page for non-engineers (`rung.report_page`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from functions.core.lenders import UnitPrices
from functions.core.models import (
    AuditRecord,
    Channel,
    SuppressionSource,
)
from functions.core.payments_file import PaymentRow
from rung.engine import SimulationResult
from rung.invariants import BlackoutCheck, QuietHoursCheck, Violation
from rung.report_page import rung_number

CSV_COLUMNS = (
    "account_id",
    "rung",
    "channel",
    "template_id",
    "template_version",
    "decision",
    "reason",
    "at_utc",
    "at_local",
    "profile",
    "address_masked",
    "segments",
    "body",
    # Champion/challenger (functions.core.experiments): empty outside any experiment.
    "experiment",
    "variant",
)
# Excel detects UTF-8 only by the byte-order mark (Chinese bodies and names otherwise garble).
CSV_ENCODING = "utf-8-sig"
# Enough to act on a non-zero invariant counter without bloating summary.json.
VIOLATIONS_LISTED = 20
# Opt-outs are the borrower's own instructions; bounces and lender blocks are counted apart.
OPT_OUT_SOURCES = frozenset({SuppressionSource.REPLY, SuppressionSource.UNSUBSCRIBE})
PAYMENT_CLAIM_INTENT = "payment_claim"
COST_FORMULA = (
    "sfn_transitions = every state the ladders entered + every retry of a Task, counted by "
    "the engine as Step Functions bills them (rungs skipped inside one invocation add none; "
    "deferrals, retries and pause rechecks add theirs); "
    "cost = sms_segments × sms_segment + emails_sent × email + pushes_sent × push "
    "+ sfn_transitions × sfn_transition"
)
MONEY_PLACES = Decimal("0.000001")

# Rejected input rows listed in summary.json and on the page (all are counted).
REJECTED_LISTED = 200

MESSAGES_CSV = "messages.csv"
SUMMARY_JSON = "summary.json"
REPORT_HTML = "report.html"
SYNTHETIC_RESPONSES_CSV = "synthetic_responses.csv"


@dataclass(frozen=True)
class RejectedRow:
    """A row of an input file (accounts or payments) the run did not take, and why."""

    file: str
    row: int
    account_id: str
    errors: tuple[str, ...]


def utc_z(instant: datetime) -> str:
    """ISO 8601 in UTC with a trailing `Z` (an audit time without a zone is a bug upstream)."""
    if instant.tzinfo is None:
        raise ValueError(f"audit time {instant.isoformat()} has no time zone; expected UTC")
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_row(record: AuditRecord) -> tuple[str, ...]:
    """One `messages.csv` row, in `CSV_COLUMNS` order (neutralised when written)."""
    return (
        record.account_id,
        str(rung_number(record)),
        record.channel.value,
        record.template_id,
        record.template_version,
        record.decision.value,
        record.reason,
        utc_z(record.at_utc),
        record.at_local,
        record.profile,
        record.address_masked,
        str(record.segments),
        record.body,
        record.experiment,
        record.variant,
    )


def violation_entry(violation: Violation) -> dict[str, object]:
    """A violating record as summary.json lists it: masked address only, never a full one."""
    record = violation.record
    return {
        "invariant": violation.invariant,
        "account_id": record.account_id,
        "cycle": record.cycle,
        "rung": rung_number(record),
        "channel": record.channel.value,
        "decision": record.decision.value,
        "at_utc": utc_z(record.at_utc),
        "at_local": record.at_local,
        "profile": record.profile,
        "address_masked": record.address_masked,
        "detail": violation.detail,
    }


def summarize(
    result: SimulationResult,
    prices: UnitPrices,
    *,
    in_quiet_hours: QuietHoursCheck,
    on_blackout_day: BlackoutCheck,
) -> dict[str, Any]:
    """Every number summary.json holds; the invariant counters are computed independently."""
    from rung.run_outputs import Tally

    tally = Tally.of(result, in_quiet_hours=in_quiet_hours, on_blackout_day=on_blackout_day)
    return tally.summary(
        prices, engine=result.engine, file_error=result.file_error, receipt=result.receipt
    )


def write_outputs(
    out_dir: Path,
    result: SimulationResult,
    prices: UnitPrices,
    *,
    in_quiet_hours: QuietHoursCheck,
    on_blackout_day: BlackoutCheck,
    start: datetime,
    days: int,
    allowed_window: tuple[time, time] | None = None,
    capacity_per_second: Mapping[Channel, int] | None = None,
    rejected_rows: Sequence[RejectedRow] = (),
    payments: Sequence[PaymentRow] = (),
) -> dict[str, Any]:
    """Write messages.csv, summary.json and report.html into `out_dir`; return the summary.

    `capacity_per_second`: what each channel's provider accepts (the pacing rates), reported
    and drawn against the busiest minute of each day; unknown channels are null.

    `allowed_window` (local start, end) only shades the time-of-day chart: pass the window of
    the profile in use (e.g. the `US` profile's) — the invariants use `in_quiet_hours` and
    `on_blackout_day`. `rejected_rows`: the input rows the run did not take (the first
    `REJECTED_LISTED` are listed in summary.json and on the page). `payments`: the payments
    file's accepted rows, listed on the page.
    """
    from rung.run_outputs import RunContext, write_part, write_run

    context = RunContext(prices, start, days, secret=b"", payments=tuple(payments))
    with tempfile.TemporaryDirectory(prefix="rung-part-") as folder:
        part = write_part(
            Path(folder),
            result,
            context,
            entered=(),
            in_quiet_hours=in_quiet_hours,
            on_blackout_day=on_blackout_day,
        )
        return write_run(
            out_dir,
            [part],
            context,
            allowed_window=allowed_window,
            capacity_per_second=dict(capacity_per_second or {}),
            rejected_rows=rejected_rows,
        )
