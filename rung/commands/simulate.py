"""`rung simulate FILE …` — preview a lender file's whole ladder on a virtual clock.

The same handlers and rules as on AWS. Writes OUT/messages.csv, OUT/summary.json and
OUT/report.html (docs/design.md) and prints, per account, what was sent when (local time).
Exit 0: done, every invariant held; 2: bad options or an unusable file;
3: an invariant was violated (a send in quiet hours, after an opt-out, or twice) or a ladder
failed. `--sms-rate`, `--email-rate` and `--provider-outage` make the simulated providers
refuse sends as real ones do (throttling above the rate, a 5xx during an outage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TextIO

from functions.core.errors import ConfigError, FileRejected
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, validate_lender_file
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account, AuditRecord, Channel, Decision
from functions.core.profiles import ProfileBook, load_profiles
from functions.core.quiet_hours import is_allowed
from functions.core.zones import candidate_zones
from functions.settings import PROJECT_ROOT
from rung.commands.options import MAX_DAYS, days, instant
from rung.commands.plan import plan_file, sending_rates
from rung.encrypted_files import plaintext_path, read_key
from rung.engine import SimulationFailed, SimulationInput, SimulationResult, read_replies
from rung.plan import plan
from rung.progress import Progress
from rung.provider_limits import Outage
from rung.report import write_outputs

EXIT_OK, EXIT_USAGE, EXIT_INVARIANT, EXIT_FAILED = 0, 2, 3, 4
# Above this many rows the full engine (moto + ASL, ≈ 5 ladders/s) would take minutes.
FULL_ENGINE_MAX_ROWS = 300


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="preview every message a lender file would produce, on a virtual clock",
        description="Run the ladder for every account of FILE locally: the same handlers and "
        "rules as on AWS, on a virtual clock. Writes messages.csv, summary.json, report.html.",
    )
    parser.add_argument("file", type=Path, help="lender file (accounts CSV)")
    parser.add_argument("--lender", default="demo", help="lender id (config/lenders/ID.yaml)")
    parser.add_argument("--replies", type=Path, help="scripted replies CSV: at,from,channel,text")
    parser.add_argument("--payments", type=Path, help="payments CSV: account_id,paid_at,amount")
    parser.add_argument(
        "--start", type=instant, help="virtual start, ISO UTC (default: today 00:00Z)"
    )
    parser.add_argument("--days", type=days, default=30, help=f"days to run (1–{MAX_DAYS})")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    parser.add_argument(
        "--engine",
        choices=("auto", "fast", "full"),
        default="auto",
        help=f"fast: in-memory; full: moto + the real ASL; auto: full up to "
        f"{FULL_ENGINE_MAX_ROWS} rows",
    )
    parser.add_argument(
        "--sms-rate",
        type=_rate,
        help="SMS per second the simulated SNS accepts (default: the lender's send_rates)",
    )
    parser.add_argument(
        "--email-rate",
        type=_rate,
        help="emails per second the simulated SES accepts (default: the lender's send_rates)",
    )
    parser.add_argument(
        "--provider-outage",
        type=_outage,
        action="append",
        default=[],
        metavar="CHANNEL:START/DURATION",
        help="the provider of CHANNEL fails from START for DURATION, ISO 8601 "
        "(e.g. sms:2026-12-02T14:00:00Z/PT2H); may repeat",
    )
    parser.add_argument(
        "--pgp-key",
        type=Path,
        help="our OpenPGP secret key, installed in the local world, for an encrypted FILE",
    )
    parser.add_argument("--json", action="store_true", help="print summary.json to stdout")
    parser.set_defaults(handler=run)


def _rate(text: str) -> int:
    try:
        rate = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a whole number of messages per second: {text!r}"
        ) from exc
    if rate < 1:
        raise argparse.ArgumentTypeError(f"a rate must be at least 1 per second, not {rate}")
    return rate


def _outage(text: str) -> Outage:
    try:
        return Outage.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """An encrypted file is uploaded as it is (the schedule function decrypts it with the key
    installed in the local world); this command reads a private plaintext copy beforehand."""
    try:
        lender = load_lender(PROJECT_ROOT, args.lender)
        key = read_key(args.pgp_key)
        with plaintext_path(args.file, lender, key) as readable:
            return _run(args, readable, key)
    except (ConfigError, FileRejected, OSError, ValueError) as exc:
        print(f"rung simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace, readable: Path, pgp_key: str) -> int:
    out = sys.stdout
    try:
        lender = load_lender(PROJECT_ROOT, args.lender)
        report = _validate(readable, lender, out, quiet=args.json)
        replies = read_replies(args.replies) if args.replies else ()
        if args.payments is not None and not args.payments.is_file():
            raise FileNotFoundError(f"payments file not found: {args.payments}")
    except (ConfigError, FileRejected, OSError, ValueError) as exc:
        print(f"rung simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if report.file_error:
        print(f"rung simulate: file rejected: {report.file_error}", file=sys.stderr)
        return EXIT_USAGE

    start = args.start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sim = SimulationInput(
        accounts_file=args.file,
        lender_id=args.lender,
        start=start,
        days=args.days,
        replies=replies,
        payments_file=args.payments,
        rates=(
            (Channel.SMS, args.sms_rate or lender.send_rates.sms_per_second),
            (Channel.EMAIL, args.email_rate or lender.send_rates.email_per_second),
        ),
        outages=tuple(args.provider_outage),
        pgp_key=pgp_key,
    )
    if not args.json:
        print(_plan_verdict(sim, readable, lender), file=out)
    engine = args.engine
    if engine == "auto":
        engine = "full" if report.rows <= FULL_ENGINE_MAX_ROWS else "fast"
    try:
        with Progress(args.days, start=start) as progress:
            result = _engine(engine)(sim, progress.update)
    except SimulationFailed as exc:
        # What would fail in AWS fails here: a defect to fix, not a result to report.
        print(f"rung simulate: {exc}", file=sys.stderr)
        return EXIT_FAILED

    book = load_profiles(PROJECT_ROOT).for_lender(lender)
    summary = write_outputs(
        args.out,
        result,
        lender.prices,
        in_quiet_hours=quiet_hours_check(book, lender),
        start=start,
        days=args.days,
        allowed_window=_default_window(book),
        capacity_per_second=_capacity(lender, sim),
    )
    if args.json:
        json.dump(summary, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_timeline(result, out)
        _print_summary(summary, args.out, engine, out)
    violated = sum(summary["invariants"].values()) + summary["ladders_failed"]
    if violated:
        print(
            f"rung simulate: {violated} invariant violation(s) or failed ladder(s) — "
            "see summary.json",
            file=sys.stderr,
        )
        return EXIT_INVARIANT
    return EXIT_OK


def _engine(name: str) -> Callable[..., SimulationResult]:
    # The handlers log and emit metrics for CloudWatch; a preview prints its own summary.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    # Imported on demand: the full engine pulls in moto, which the fast path never needs.
    if name == "full":
        from rung.engine_full import run_full

        return run_full
    from rung.engine_fast import run_fast

    return run_fast


def quiet_hours_check(
    book: ProfileBook, lender: LenderConfig
) -> Callable[[AuditRecord, Account], bool]:
    """An independent re-check of every SENT record against the profile's quiet hours."""

    def in_quiet_hours(record: AuditRecord, account: Account) -> bool:
        zones = candidate_zones(account, default_region=lender.default_region, atlas=book.atlas)
        return not zones or not is_allowed(record.at_utc, zones, book.profile_for(account))

    return in_quiet_hours


def _default_window(book: ProfileBook) -> tuple[time, time]:
    window = book.profiles[book.default].window
    return (window.start, window.end)


def _validate(path: Path, lender: LenderConfig, out: TextIO, *, quiet: bool) -> FileReport:
    """List the rows the schedule handler will reject, before spending time on the run."""
    report = FileReport()
    with path.open("rb") as stream:
        for row in validate_lender_file(stream, lender, report):
            if not row.accepted and not quiet:
                errors = "; ".join(str(error) for error in row.errors)
                print(f"rejected row {row.row} [{row.account_id or '-'}]: {errors}", file=out)
    return report


def _capacity(lender: LenderConfig, sim: SimulationInput) -> dict[Channel, int]:
    """Messages per second per channel: the lender's or the stack's rates, unless the run
    overrides them (`--sms-rate`, `--email-rate`)."""
    return sending_rates(lender) | {channel: r for channel, r in sim.rates if r is not None}


def _plan_verdict(sim: SimulationInput, readable: Path, lender: LenderConfig) -> str:
    """The capacity planner's one line for this run (`rung plan` has the details)."""
    rates = _capacity(lender, sim)
    _, demand = plan_file(readable, lender, sim.start, sim.days)
    return plan(demand, load_ladder(PROJECT_ROOT, lender.ladder), rates).verdict()


def _print_timeline(result: SimulationResult, out: TextIO, limit: int = 50) -> None:
    by_account: dict[str, list[AuditRecord]] = defaultdict(list)
    for record in result.records:
        if record.decision is Decision.SENT:
            by_account[record.account_id].append(record)
    accounts = sorted({a.account_id for a in result.accounts})
    for account_id in accounts[:limit]:
        sent = by_account.get(account_id, [])
        lines = [f"{account_id}: {len(sent)} sent"]
        for record in sent:
            local = record.at_local[:16].replace("T", " ") or "?"
            lines.append(
                f"    {local} local  rung {record.rung + 1} {record.channel.value:<5}"
                f" {record.template_id}"
            )
        print("\n".join(lines), file=out)
    if len(accounts) > limit:
        print(f"… and {len(accounts) - limit} more accounts (see messages.csv)", file=out)


def _print_summary(summary: dict[str, Any], out_dir: Path, engine: str, out: TextIO) -> None:
    decisions = summary.get("decisions", {})
    print(
        f"\n{summary['accounts']} accounts, engine {engine}: "
        + ", ".join(f"{count} {name.lower()}" for name, count in decisions.items())
        + f"; invariants {summary['invariants']}, ladders failed {summary['ladders_failed']}",
        file=out,
    )
    receipt = summary.get("receipt") or {}
    if receipt.get("to"):
        print(f"receipt to {', '.join(receipt['to'])}: {receipt['subject']}", file=out)
    print(f"wrote {out_dir / 'messages.csv'}, summary.json, report.html", file=out)
