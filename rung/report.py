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

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from functions.core.csv_safety import SafeCsvWriter
from functions.core.lenders import UnitPrices
from functions.core.models import (
    AccountStatus,
    AuditRecord,
    Channel,
    Decision,
    SuppressionSource,
)
from functions.core.payments_file import PaymentRow
from functions.core.segments import encoding_of
from rung.engine import SimulationResult
from rung.experiment_report import EXPERIMENTS_CSV, outcomes_of, write_outcomes
from rung.invariants import INVARIANTS, BlackoutCheck, QuietHoursCheck, Violation, check_all
from rung.report_page import render_report, rung_number

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


def write_messages_csv(path: Path, records: Iterable[AuditRecord]) -> int:
    """Write every gate decision to `path`; returns the number of rows (header excluded)."""
    count = 0
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        # Bodies, ids and names come from lender files: every cell is neutralised.
        writer = SafeCsvWriter(handle)
        writer.writerow(CSV_COLUMNS)
        for record in records:
            writer.writerow(message_row(record))
            count += 1
    return count


def _money(amount: Decimal) -> float:
    return float(amount.quantize(MONEY_PLACES))


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


def _payment_claims(result: SimulationResult) -> dict[str, int]:
    by_address: dict[tuple[Channel, str], set[str]] = {}
    for account in result.accounts:
        for channel in Channel:
            address = account.address(channel)
            if address:
                by_address.setdefault((channel, address.lower()), set()).add(account.key)
    claimed = {
        account.key
        for account in result.accounts
        if account.status is AccountStatus.PAYMENT_CLAIMED
    }
    claim_replies = [reply for reply, intent in result.replies if intent == PAYMENT_CLAIM_INTENT]
    for reply in claim_replies:
        claimed |= by_address.get((reply.channel, reply.sender.lower()), set())
    return {"accounts": len(claimed), "replies": len(claim_replies)}


def _per_channel(counts: Counter[Channel]) -> dict[str, int]:
    return {channel.value: counts[channel] for channel in Channel}


def summarize(
    result: SimulationResult,
    prices: UnitPrices,
    *,
    in_quiet_hours: QuietHoursCheck,
    on_blackout_day: BlackoutCheck,
) -> dict[str, Any]:
    """Every number summary.json holds; the invariant counters are computed independently."""
    records = result.records
    decisions: Counter[Decision] = Counter()
    sent_by_channel: Counter[Channel] = Counter()
    by_day: dict[str, Counter[Channel]] = {}
    deferred_rungs: set[tuple[str, str, str, int, Channel]] = set()
    deferred_by_reason: Counter[str] = Counter()
    per_second: Counter[tuple[Channel, datetime]] = Counter()
    suppressed_by_reason: Counter[str] = Counter()
    segments_by_encoding: Counter[str] = Counter()
    executions: set[tuple[str, str, str]] = set()
    for record in records:  # one pass: 10 000 accounts make ~70 000 records
        decision = record.decision
        decisions[decision] += 1
        executions.add((record.lender_id, record.account_id, record.cycle))
        if decision is Decision.SENT:
            sent_by_channel[record.channel] += 1
            per_second[(record.channel, record.at_utc.replace(microsecond=0))] += 1
            day = record.at_utc.astimezone(UTC).date().isoformat()
            by_day.setdefault(day, Counter())[record.channel] += 1
            if record.channel is Channel.SMS:
                # The body is what went out; without one the encoding cannot be told.
                encoding = encoding_of(record.body) if record.body else "unknown"
                segments_by_encoding[encoding] += record.segments
        elif decision is Decision.DEFERRED:
            deferred_by_reason[record.reason] += 1
            deferred_rungs.add(
                (record.lender_id, record.account_id, record.cycle, record.rung, record.channel)
            )
        elif decision is Decision.SUPPRESSED:
            suppressed_by_reason[record.reason] += 1

    opt_outs = [s for s in result.suppressions if s.source in OPT_OUT_SOURCES]
    segments = sum(segments_by_encoding.values())
    transitions = result.sfn_transitions
    sms_cost = prices.sms_segment * segments
    email_cost = prices.email * sent_by_channel[Channel.EMAIL]
    push_cost = prices.push * sent_by_channel[Channel.PUSH]
    sfn_cost = prices.sfn_transition * transitions
    violations = check_all(
        records, result.accounts, result.suppressions, in_quiet_hours, on_blackout_day
    )
    return {
        "engine": result.engine,
        "file_error": result.file_error,
        "accounts": len(result.accounts),
        "rows": result.rows,
        "rows_rejected": result.rows_rejected,
        "receipt": result.receipt,
        "decisions": {decision.value: decisions[decision] for decision in Decision},
        "sent": {
            "total": decisions[Decision.SENT],
            "by_channel": _per_channel(sent_by_channel),
            "by_day_utc": {day: _per_channel(by_day[day]) for day in sorted(by_day)},
        },
        "deferred": {
            "decisions": decisions[Decision.DEFERRED],
            "rungs": len(deferred_rungs),
            "by_reason": dict(deferred_by_reason.most_common()),
        },
        # Counted from the sends: at most the configured rate when the providers enforce one.
        "peak_per_second": {
            channel.value: max((n for (c, _), n in per_second.items() if c is channel), default=0)
            for channel in Channel
        },
        # Ladders that ended in the ASL's Fail state: only a defect does that (must be 0).
        "ladders_failed": result.ladders_failed,
        "suppressed": {
            "total": decisions[Decision.SUPPRESSED],
            "by_reason": dict(suppressed_by_reason.most_common()),
        },
        "opt_outs": {
            "total": len(opt_outs),
            "by_channel": dict(Counter(s.channel.value for s in opt_outs)),
            "by_scope": dict(Counter(s.scope.value for s in opt_outs)),
        },
        "payment_claims": _payment_claims(result),
        "sms_segments": {
            "total": segments,
            "by_encoding": dict(sorted(segments_by_encoding.items())),
        },
        "estimated_cost": {
            "currency": prices.currency,
            "sms": _money(sms_cost),
            "email": _money(email_cost),
            "push": _money(push_cost),
            "step_functions": _money(sfn_cost),
            "total": _money(sms_cost + email_cost + push_cost + sfn_cost),
            "sfn_transitions": transitions,
            "ladder_executions": len(executions),
            "unit_prices": {
                "sms_segment": str(prices.sms_segment),
                "email": str(prices.email),
                "push": str(prices.push),
                "sfn_transition": str(prices.sfn_transition),
            },
            "formula": COST_FORMULA,
        },
        "invariants": {name: len(violations[name]) for name in INVARIANTS},
        "invariant_violations": {
            name: [violation_entry(v) for v in violations[name][:VIOLATIONS_LISTED]]
            for name in INVARIANTS
        },
    }


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
    out_dir.mkdir(parents=True, exist_ok=True)
    write_messages_csv(out_dir / MESSAGES_CSV, result.records)
    summary = summarize(
        result, prices, in_quiet_hours=in_quiet_hours, on_blackout_day=on_blackout_day
    )
    # Payments and replies drawn from a response model, not a lender's: said on every output.
    summary["synthetic"] = result.synthetic
    outcomes = outcomes_of(result.accounts, result.suppressions, result.synthetic)
    if outcomes:
        write_outcomes(out_dir / EXPERIMENTS_CSV, outcomes)
    summary["experiment_accounts"] = len(outcomes)
    summary["period"] = {"start": utc_z(start), "days": days}
    summary["capacity_per_second"] = {
        channel.value: (capacity_per_second or {}).get(channel) for channel in Channel
    }
    summary["rejected_rows"] = {
        "total": len(rejected_rows),
        "listed": [
            {**asdict(row), "errors": list(row.errors)} for row in rejected_rows[:REJECTED_LISTED]
        ],
    }
    (out_dir / SUMMARY_JSON).write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    page = render_report(
        summary,
        result,
        start=start,
        days=days,
        allowed_window=allowed_window,
        payments=payments,
    )
    (out_dir / REPORT_HTML).write_text(page, encoding="utf-8")
    return summary
