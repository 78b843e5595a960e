"""A simulation's outputs, written from parts: one part per group of accounts run together.

`rung simulate` runs a large file as chunks of accounts that share nothing (rung.chunks);
each chunk's result becomes a `Part` — its decisions, events, experiment outcomes and drawn
responses written to disk in output order, and a `Tally` of the numbers summary.json and
report.html hold. `write_run` merges the parts: the files are merged in order as they stream
from disk, the tallies add up, and what comes out is byte for byte what one part holding the
whole run gives (tests/integration/test_chunked_preview.py). A run held in memory (the full
engine, a run on one chunk) is one part.

Memory: a part keeps on disk everything proportional to its decisions; the merge holds one
batch per part. The tallies hold counts (per second sent, per reason) and the first
`VIOLATIONS_LISTED` violations; the report view the first `TIMELINE_ACCOUNTS` accounts.
"""

from __future__ import annotations

import heapq
import json
import pickle
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from functions.core.csv_safety import SafeCsvWriter
from functions.core.lender_file import LenderRow
from functions.core.lenders import LenderConfig, UnitPrices
from functions.core.models import (
    AccountStatus,
    AuditRecord,
    Channel,
    Decision,
)
from functions.core.payments_file import PaymentRow
from functions.core.preferences import describe
from functions.core.segments import encoding_of
from rung.analytics_files import row_order, simulation_events, write_event_rows
from rung.engine import RecordKey, SimulationResult, record_key
from rung.experiment_report import EXPERIMENTS_CSV, outcomes_of, write_outcomes
from rung.invariants import INVARIANTS, BlackoutCheck, QuietHoursCheck, Violation, check_all
from rung.report import (
    COST_FORMULA,
    CSV_COLUMNS,
    CSV_ENCODING,
    MESSAGES_CSV,
    MONEY_PLACES,
    OPT_OUT_SOURCES,
    PAYMENT_CLAIM_INTENT,
    REJECTED_LISTED,
    REPORT_HTML,
    SUMMARY_JSON,
    SYNTHETIC_RESPONSES_CSV,
    VIOLATIONS_LISTED,
    RejectedRow,
    message_row,
    utc_z,
    violation_entry,
)
from rung.report_page import (
    TIMELINE_ACCOUNTS,
    ReplyRow,
    ReportView,
    SentCounts,
    payment_rows,
    render_page,
    reply_rows,
    timelines,
)
from rung.report_page import (
    PaymentRow as PaymentLine,
)

# Accounts whose sends `rung simulate` prints (the first, by id); the rest are in the files.
PRINTED_ACCOUNTS = 50
BATCH = 2_000  # items pickled together in a part's files (our choice: few, cheap loads)
MESSAGES, EVENTS, OUTCOMES, SYNTHETIC = "messages", "events", "outcomes", "synthetic"


@dataclass
class Ranked:
    """Counts by name, kept in the order the names first occur in the run's records (the
    order `Counter.most_common` breaks ties in), whichever part they occur in."""

    counts: Counter[str] = field(default_factory=Counter)
    first: dict[str, RecordKey] = field(default_factory=dict)

    def add(self, name: str, record: AuditRecord) -> None:
        """Count `record` under `name`; records come in output order (a run's do)."""
        self.counts[name] += 1
        if name not in self.first:
            self.first[name] = record_key(record)

    def merge(self, other: Ranked) -> None:
        self.counts.update(other.counts)
        for name, key in other.first.items():
            if name not in self.first or key < self.first[name]:
                self.first[name] = key

    def most_common(self) -> dict[str, int]:
        ordered = Counter(
            {name: self.counts[name] for name in sorted(self.first, key=self.first.__getitem__)}
        )
        return dict(ordered.most_common())


@dataclass
class Tally:
    """The numbers of summary.json for a part of a run; the parts of a run add up."""

    accounts: int = 0
    rows: int = 0
    rows_rejected: int = 0
    decisions: Counter[Decision] = field(default_factory=Counter)
    sent_by_channel: Counter[Channel] = field(default_factory=Counter)
    sent_by_day: Counter[tuple[str, Channel]] = field(default_factory=Counter)
    deferred_rungs: int = 0
    deferred: Ranked = field(default_factory=Ranked)
    suppressed: Ranked = field(default_factory=Ranked)
    per_second: Counter[tuple[Channel, datetime]] = field(default_factory=Counter)
    segments_by_encoding: Counter[str] = field(default_factory=Counter)
    executions: int = 0
    # Opt-outs as (at, key, channel, scope), in the order of the suppressions table.
    opt_outs: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    claimed_accounts: int = 0
    claim_replies: int = 0
    transitions: int = 0
    ladders_failed: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    listed: dict[str, list[tuple[RecordKey, Violation]]] = field(default_factory=dict)
    experiment_accounts: int = 0
    drawn: Counter[str] = field(default_factory=Counter)  # response model: payment, opt_out

    @classmethod
    def of(
        cls,
        result: SimulationResult,
        *,
        in_quiet_hours: QuietHoursCheck,
        on_blackout_day: BlackoutCheck,
    ) -> Tally:
        tally = cls(
            accounts=len(result.accounts),
            rows=result.rows,
            rows_rejected=result.rows_rejected,
            transitions=result.sfn_transitions,
            ladders_failed=result.ladders_failed,
        )
        deferred_rungs: set[tuple[str, str, str, int, Channel]] = set()
        executions: set[tuple[str, str, str]] = set()
        for record in result.records:
            decision = record.decision
            tally.decisions[decision] += 1
            executions.add((record.lender_id, record.account_id, record.cycle))
            if decision is Decision.SENT:
                tally.sent_by_channel[record.channel] += 1
                second = record.at_utc.replace(microsecond=0)
                tally.per_second[(record.channel, second)] += 1
                day = record.at_utc.astimezone(UTC).date().isoformat()
                tally.sent_by_day[(day, record.channel)] += 1
                if record.channel is Channel.SMS:
                    # The body is what went out; without one the encoding cannot be told.
                    encoding = encoding_of(record.body) if record.body else "unknown"
                    tally.segments_by_encoding[encoding] += record.segments
            elif decision is Decision.DEFERRED:
                tally.deferred.add(record.reason, record)
                deferred_rungs.add(
                    (record.lender_id, record.account_id, record.cycle, record.rung, record.channel)
                )
            elif decision is Decision.SUPPRESSED:
                tally.suppressed.add(record.reason, record)
        tally.deferred_rungs = len(deferred_rungs)
        tally.executions = len(executions)
        tally.opt_outs = [
            (s.at, s.key, s.channel.value, s.scope.value)
            for s in result.suppressions
            if s.source in OPT_OUT_SOURCES
        ]
        tally.claimed_accounts, tally.claim_replies = _payment_claims(result)
        violations = check_all(
            result.records, result.accounts, result.suppressions, in_quiet_hours, on_blackout_day
        )
        for name in INVARIANTS:
            tally.violations[name] = len(violations[name])
            tally.listed[name] = [
                (record_key(v.record), v) for v in violations[name][:VIOLATIONS_LISTED]
            ]
        tally.drawn = Counter(kind for kind, *_ in result.synthetic_responses)
        return tally

    def merge(self, other: Tally) -> None:
        for name in ("accounts", "rows", "rows_rejected", "deferred_rungs", "executions"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("claimed_accounts", "claim_replies", "transitions", "ladders_failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.experiment_accounts += other.experiment_accounts
        self.decisions.update(other.decisions)
        self.sent_by_channel.update(other.sent_by_channel)
        self.sent_by_day.update(other.sent_by_day)
        self.deferred.merge(other.deferred)
        self.suppressed.merge(other.suppressed)
        self.per_second.update(other.per_second)
        self.segments_by_encoding.update(other.segments_by_encoding)
        if self.opt_outs:  # parts of one run: in the order the suppressions table lists them
            self.opt_outs = sorted([*self.opt_outs, *other.opt_outs], key=lambda o: (o[0], o[1]))
        else:
            self.opt_outs = list(other.opt_outs)
        self.violations.update(other.violations)
        for name in INVARIANTS:
            merged = heapq.merge(
                self.listed.get(name, []), other.listed.get(name, []), key=lambda kv: kv[0]
            )
            self.listed[name] = list(merged)[:VIOLATIONS_LISTED]
        self.drawn.update(other.drawn)

    def summary(
        self, prices: UnitPrices, *, engine: str, file_error: str, receipt: dict[str, Any]
    ) -> dict[str, Any]:
        """Every number summary.json holds (`rung.report.summarize`)."""
        decisions = self.decisions
        segments = sum(self.segments_by_encoding.values())
        transitions = self.transitions
        sms_cost = prices.sms_segment * segments
        email_cost = prices.email * self.sent_by_channel[Channel.EMAIL]
        push_cost = prices.push * self.sent_by_channel[Channel.PUSH]
        sfn_cost = prices.sfn_transition * transitions
        days = sorted({day for day, _ in self.sent_by_day})
        return {
            "engine": engine,
            "file_error": file_error,
            "accounts": self.accounts,
            "rows": self.rows,
            "rows_rejected": self.rows_rejected,
            "receipt": receipt,
            "decisions": {decision.value: decisions[decision] for decision in Decision},
            "sent": {
                "total": decisions[Decision.SENT],
                "by_channel": _per_channel(self.sent_by_channel),
                "by_day_utc": {
                    day: {c.value: self.sent_by_day[(day, c)] for c in Channel} for day in days
                },
            },
            "deferred": {
                "decisions": decisions[Decision.DEFERRED],
                "rungs": self.deferred_rungs,
                "by_reason": self.deferred.most_common(),
            },
            # Counted from the sends: at most the configured rate when the providers enforce one.
            "peak_per_second": {
                channel.value: max(
                    (n for (c, _), n in self.per_second.items() if c is channel), default=0
                )
                for channel in Channel
            },
            # Ladders that ended in the ASL's Fail state: only a defect does that (must be 0).
            "ladders_failed": self.ladders_failed,
            "suppressed": {
                "total": decisions[Decision.SUPPRESSED],
                "by_reason": self.suppressed.most_common(),
            },
            "opt_outs": {
                "total": len(self.opt_outs),
                "by_channel": dict(Counter(channel for _, _, channel, _ in self.opt_outs)),
                "by_scope": dict(Counter(scope for _, _, _, scope in self.opt_outs)),
            },
            "payment_claims": {"accounts": self.claimed_accounts, "replies": self.claim_replies},
            "sms_segments": {
                "total": segments,
                "by_encoding": dict(sorted(self.segments_by_encoding.items())),
            },
            "estimated_cost": {
                "currency": prices.currency,
                "sms": _money(sms_cost),
                "email": _money(email_cost),
                "push": _money(push_cost),
                "step_functions": _money(sfn_cost),
                "total": _money(sms_cost + email_cost + push_cost + sfn_cost),
                "sfn_transitions": transitions,
                "ladder_executions": self.executions,
                "unit_prices": {
                    "sms_segment": str(prices.sms_segment),
                    "email": str(prices.email),
                    "push": str(prices.push),
                    "sfn_transition": str(prices.sfn_transition),
                },
                "formula": COST_FORMULA,
            },
            "invariants": {name: self.violations[name] for name in INVARIANTS},
            "invariant_violations": {
                name: [violation_entry(v) for _, v in self.listed.get(name, [])]
                for name in INVARIANTS
            },
        }


def _money(amount: Any) -> float:
    return float(amount.quantize(MONEY_PLACES))


def _per_channel(counts: Counter[Channel]) -> dict[str, int]:
    return {channel.value: counts[channel] for channel in Channel}


def _payment_claims(result: SimulationResult) -> tuple[int, int]:
    """Accounts that claimed to have paid (status, or a claim reply from their address)."""
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
    return len(claimed), len(claim_replies)


@dataclass
class RunContext:
    """What every part of one run is written with (picklable: parts run in other processes)."""

    prices: UnitPrices
    start: datetime
    days: int
    secret: bytes  # the run's pseudonym key (rung.analytics_files): one for all parts
    payments: tuple[PaymentRow, ...] = ()  # the payments file's accepted rows
    # The lender whose analytics events (events/) the run writes; None: no events.
    lender: LenderConfig | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass
class ViewPart:
    """A part's share of the report page: its first accounts, replies and payments."""

    sent: SentCounts
    shown: list[Any]  # AccountTimeline, the part's first TIMELINE_ACCOUNTS accounts by id
    replies: list[tuple[datetime, ReplyRow]]
    payments: dict[str, str]  # account id → final status, for the accounts paying
    # The part's first PRINTED_ACCOUNTS accounts by id: id, contact preferences, sends.
    timeline: list[tuple[str, list[str], list[AuditRecord]]]


@dataclass
class Part:
    """One part of a run: its files in `folder`, its tally and its share of the report."""

    folder: Path
    tally: Tally
    view: ViewPart
    engine: str
    file_error: str
    receipt: dict[str, Any]
    synthetic: bool


def write_part(
    folder: Path,
    result: SimulationResult,
    context: RunContext,
    *,
    entered: Sequence[LenderRow],
    in_quiet_hours: QuietHoursCheck,
    on_blackout_day: BlackoutCheck,
) -> Part:
    """Write a part's decisions, events, outcomes and drawn responses to `folder`, each in
    output order; return its tally and report share. `entered`: the accepted lender-file rows
    of its accounts."""
    folder.mkdir(parents=True, exist_ok=True)
    records = result.records
    _dump(folder / MESSAGES, zip(_message_keys(records), message_lines(records), strict=True))
    drawn = drawn_payments(result, entered)
    paying = {p.account_id for p in (*context.payments, *drawn)}
    lender = context.lender
    events = (
        simulation_events(
            result,
            lender,
            entered=entered,
            payments=[*_own(context.payments, result), *drawn],
            start=context.start,
            end=context.end,
            secret=context.secret,
        )
        if lender is not None
        else []
    )
    _dump(folder / EVENTS, ((row_order(row), row) for row in events))
    outcomes = outcomes_of(result.accounts, result.suppressions, result.synthetic)
    _dump(folder / OUTCOMES, ((o.account_id, o) for o in outcomes))
    _dump(
        folder / SYNTHETIC,
        (
            ((at, account_id, kind), (kind, account_id, channel, at))
            for kind, account_id, channel, at in result.synthetic_responses
        ),
    )
    tally = Tally.of(result, in_quiet_hours=in_quiet_hours, on_blackout_day=on_blackout_day)
    tally.experiment_accounts = len(outcomes)
    sent = SentCounts.of(result.records)
    status = {a.account_id: a.status.value for a in result.accounts if a.account_id in paying}
    first = sorted(result.accounts, key=lambda a: a.account_id)[:PRINTED_ACCOUNTS]
    first_ids = {a.account_id for a in first}
    sent_by_first: dict[str, list[AuditRecord]] = {a.account_id: [] for a in first}
    for record in result.records:
        if record.decision is Decision.SENT and record.account_id in first_ids:
            sent_by_first[record.account_id].append(record)
    view = ViewPart(
        sent=sent,
        shown=timelines(result),
        replies=[
            (reply.at, row)
            for (reply, _), row in zip(result.replies, reply_rows(result), strict=True)
        ],
        payments=status,
        timeline=[
            (
                a.account_id,
                [describe(p) for p in a.contact_preferences],
                sent_by_first[a.account_id],
            )
            for a in first
        ],
    )
    return Part(
        folder,
        tally,
        view,
        engine=result.engine,
        file_error=result.file_error,
        receipt=result.receipt,
        synthetic=result.synthetic,
    )


def _own(payments: Iterable[PaymentRow], result: SimulationResult) -> list[PaymentRow]:
    """The payments file's rows for this part's accounts (every row when it holds them all)."""
    ids = {a.account_id for a in result.accounts}
    return [p for p in payments if p.account_id in ids]


def drawn_payments(result: SimulationResult, entered: Sequence[LenderRow]) -> list[PaymentRow]:
    """The response model's payments, as the payments files it delivered said them: the
    account's balance in full (rung.engine_fast)."""
    owed = {row.account_id: row.amount_due for row in entered}
    return [
        PaymentRow(account_id=account_id, paid_at=at, amount=owed[account_id])
        for kind, account_id, _channel, at in result.synthetic_responses
        if kind == "payment"
    ]


class _RowText:
    """A csv writer's sink that keeps the last row written: a csv writer writes each row
    whole, in one call to `write`."""

    text = ""

    def write(self, text: str, /) -> int:
        self.text = text
        return len(text)


def message_lines(records: Iterable[AuditRecord]) -> Iterator[str]:
    """Each record's `messages.csv` line, neutralised (one writer for all of them)."""
    sink = _RowText()
    writer = SafeCsvWriter(sink)
    for record in records:
        writer.writerow(message_row(record))
        yield sink.text


def _message_keys(records: Iterable[AuditRecord]) -> Iterator[RecordKey]:
    """Each record's order; records at one instant share one object for it (a batch pickles
    it once). Orders are only compared: an instant's object is any equal to it."""
    same: dict[datetime, datetime] = {}
    for key in map(record_key, records):
        yield (same.setdefault(key[0], key[0]), *key[1:])


def _dump(path: Path, items: Iterable[tuple[Any, Any]]) -> None:
    with path.open("wb") as handle:
        batch: list[tuple[Any, Any]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= BATCH:
                pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
        if batch:
            pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _load(path: Path) -> Iterator[list[tuple[Any, Any]]]:
    """A part's file, batch by batch."""
    with path.open("rb") as handle:
        while True:
            try:
                # A file this run's own process wrote a moment ago, in its private folder.
                batch = pickle.load(handle)  # noqa: S301
            except EOFError:
                return
            if batch:
                yield batch


_ORDER, _VALUE = itemgetter(0), itemgetter(1)


def _merged_runs(parts: Sequence[Part], name: str) -> Iterator[list[Any]]:
    """The parts' `name` files merged in output order, as runs of values (each part's file
    is in that order). Each round holds one batch per part: every item up to the least of
    their last orders can go out, for no later item of any part comes before it; those items
    are sorted (stably, by order alone) and the part whose batch ran out loads its next.
    Orders tie only within a part (each names its account — an id, or its pseudonymous key —
    and no two parts share an account, rung.account_groups), where the stable sort keeps the
    part's own order, as one run of the whole file writes it."""
    streams = [_load(part.folder / name) for part in parts]
    if len(streams) == 1:  # one part: its file, as it is
        yield from (list(map(_VALUE, batch)) for batch in streams[0])
        return
    heads: dict[int, tuple[list[tuple[Any, Any]], int]] = {}
    for index, stream in enumerate(streams):
        batch = next(stream, None)
        if batch is not None:
            heads[index] = (batch, 0)
    while heads:
        bound = min(batch[-1][0] for batch, _ in heads.values())
        out: list[tuple[Any, Any]] = []
        for index, (batch, start) in list(heads.items()):
            cut = bisect_right(batch, bound, lo=start, key=_ORDER)
            out.extend(batch[start:cut])
            if cut < len(batch):
                heads[index] = (batch, cut)
            elif (following := next(streams[index], None)) is not None:
                heads[index] = (following, 0)
            else:
                del heads[index]
        out.sort(key=_ORDER)
        yield list(map(_VALUE, out))


def _merged(parts: Sequence[Part], name: str) -> Iterator[Any]:
    """The parts' `name` files merged in output order, value by value (`_merged_runs`)."""
    return chain.from_iterable(_merged_runs(parts, name))


def write_run(
    out_dir: Path,
    parts: Sequence[Part],
    context: RunContext,
    *,
    receipt: dict[str, Any] | None = None,
    allowed_window: tuple[time, time] | None = None,
    capacity_per_second: dict[Channel, int] | None = None,
    rejected_rows: Sequence[RejectedRow] = (),
) -> dict[str, Any]:
    """Write messages.csv, summary.json, report.html, events/, experiments.csv and (drawn
    responses) synthetic_responses.csv from the parts of one run; return the summary.
    `receipt`: the lender's receipt for the whole file, when the parts each hold a share."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    for part in parts:
        tally.merge(part.tally)
    with (out_dir / MESSAGES_CSV).open("w", encoding=CSV_ENCODING, newline="") as handle:
        SafeCsvWriter(handle).writerow(CSV_COLUMNS)
        for lines in _merged_runs(parts, MESSAGES):
            handle.write("".join(lines))
    if context.lender is not None:
        write_event_rows(out_dir, _merged(parts, EVENTS))
    synthetic = any(part.synthetic for part in parts)
    if tally.experiment_accounts:
        write_outcomes(out_dir / EXPERIMENTS_CSV, _merged(parts, OUTCOMES))
    first = parts[0]
    summary = tally.summary(
        context.prices,
        engine=first.engine,
        file_error=first.file_error,
        receipt=receipt if receipt is not None else first.receipt,
    )
    # Payments and replies drawn from a response model, not a lender's: said on every output.
    summary["synthetic"] = synthetic
    summary["experiment_accounts"] = tally.experiment_accounts
    if synthetic:
        _write_synthetic(out_dir / SYNTHETIC_RESPONSES_CSV, _merged(parts, SYNTHETIC))
        summary["synthetic_responses"] = {
            "payments": tally.drawn["payment"],
            "opt_outs": tally.drawn["opt_out"],
        }
    summary["period"] = {"start": utc_z(context.start), "days": context.days}
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
    view = report_view(parts, tally.accounts, context.payments)
    page = render_page(
        summary, view, start=context.start, days=context.days, allowed_window=allowed_window
    )
    (out_dir / REPORT_HTML).write_text(page, encoding="utf-8")
    return summary


def report_view(parts: Sequence[Part], accounts: int, payments: Sequence[PaymentRow]) -> ReportView:
    sent = SentCounts()
    status: dict[str, str] = {}
    for part in parts:
        sent.merge(part.view.sent)
        status.update(part.view.payments)
    shown = heapq.merge(*(part.view.shown for part in parts), key=lambda t: t.account_id)
    replies = heapq.merge(*(part.view.replies for part in parts), key=lambda r: r[0])
    return ReportView(
        sent,
        list(shown)[:TIMELINE_ACCOUNTS],
        [row for _, row in replies],
        [
            PaymentLine(line.account_id, line.paid_at, line.amount, status.get(line.account_id, ""))
            for line in payment_rows(_NO_ACCOUNTS, payments)
        ],
        accounts,
    )


_NO_ACCOUNTS = SimulationResult(records=[], accounts=[], suppressions=[])


def _write_synthetic(path: Path, rows: Iterable[tuple[str, str, Channel, datetime]]) -> None:
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = SafeCsvWriter(handle)
        writer.writerow(("synthetic", "kind", "account_id", "channel", "at_utc"))
        for kind, account_id, channel, at in rows:
            writer.writerow(("1", kind, account_id, channel.value, utc_z(at)))
