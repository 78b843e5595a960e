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
from contextlib import ExitStack
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import holidays

from functions.core.errors import ConfigError, FileRejected
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, LenderRow, RowResult, validate_lender_file
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account, AuditRecord, Channel, Decision
from functions.core.payments_file import PaymentRow, PaymentsFile
from functions.core.preferences import describe
from functions.core.profiles import ProfileBook, load_profiles
from functions.core.zones import candidate_zones
from functions.plan.planner import plan
from functions.settings import PROJECT_ROOT
from rung.analytics_files import simulation_events, write_events
from rung.commands.failure import CommandError
from rung.commands.options import MAX_DAYS, days, existing_file, instant
from rung.commands.plan import plan_file, sending_rates
from rung.encrypted_files import plaintext_path, read_key
from rung.engine import SimulationFailed, SimulationInput, SimulationResult, read_replies
from rung.invariants import BlackoutCheck
from rung.progress import Progress
from rung.provider_limits import Outage
from rung.report import RejectedRow, write_outputs
from rung.response_model import load_response_model

EXIT_OK, EXIT_INVARIANT, EXIT_FAILED = 0, 3, 4
COMMAND = "rung simulate"
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
    parser.add_argument(
        "--response-model",
        type=Path,
        help="draw synthetic payments and STOP replies after every message sent (e.g. "
        "samples/response_model.yaml); every output says `synthetic`; runs the fast engine",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the response model's draws (default 0)"
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
    with ExitStack() as stack:
        try:
            lender = load_lender(PROJECT_ROOT, args.lender)
            key = read_key(args.pgp_key)
            plain = plaintext_path(existing_file(args.file), lender, key)
            readable = stack.enter_context(plain)
        except CommandError:
            raise
        except (ConfigError, FileRejected, OSError, ValueError) as exc:
            raise CommandError(str(exc), command=COMMAND) from exc
        return _run(args, lender, readable, key)


def _run(args: argparse.Namespace, lender: LenderConfig, readable: Path, pgp_key: str) -> int:
    out = sys.stdout
    try:
        _refuse_output_folder(args.out)
        entered: list[LenderRow] = []
        report, rejected = _validate(readable, lender, out, entered, quiet=args.json)
        replies = read_replies(existing_file(args.replies)) if args.replies else ()
        model = (
            load_response_model(existing_file(args.response_model)) if args.response_model else None
        )
        if model is not None and args.engine == "full":
            raise CommandError(
                "--response-model runs on the fast engine (its draws schedule payments and "
                "replies as the run goes): drop --engine full",
                command=COMMAND,
            )
        payments: list[PaymentRow] = []
        if args.payments is not None:
            rejected += _validate_payments(
                existing_file(args.payments), lender, out, payments, quiet=args.json
            )
    except CommandError:
        raise
    except (ConfigError, FileRejected, OSError, ValueError) as exc:
        raise CommandError(str(exc), command=COMMAND) from exc
    if report.file_error:
        raise CommandError(f"file rejected: {report.file_error}", command=COMMAND)

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
        response_model=model,
        seed=args.seed,
    )
    if not args.json:
        print(_plan_verdict(sim, readable, lender), file=out)
    engine = args.engine
    if engine == "auto":
        small = report.rows <= FULL_ENGINE_MAX_ROWS
        engine = "full" if small and model is None else "fast"
    try:
        with Progress(args.days, start=start) as progress:
            result = _engine(engine)(sim, progress.update)
    except SimulationFailed as exc:
        # What would fail in AWS fails here: a defect to fix, not a result to report.
        raise CommandError(str(exc), command=COMMAND, exit_code=EXIT_FAILED) from exc

    book = load_profiles(PROJECT_ROOT).for_lender(lender)
    summary = write_outputs(
        args.out,
        result,
        lender.prices,
        in_quiet_hours=quiet_hours_check(book, lender),
        on_blackout_day=blackout_day_check(book, lender),
        start=start,
        days=args.days,
        allowed_window=_default_window(book),
        capacity_per_second=_capacity(lender, sim),
        rejected_rows=rejected,
        payments=payments,
    )
    # The analytics record, as the stack keeps it (rung.analytics_files, `rung kpis OUT`).
    end = start + timedelta(days=args.days)
    write_events(
        args.out,
        simulation_events(
            result,
            lender,
            entered=entered,
            payments=[*payments, *_drawn_payments(result, entered)],
            start=start,
            end=end,
        ),
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
    # The handlers emit metrics for CloudWatch (printed to stdout when enabled); a preview
    # prints its own summary. Their logs go to stderr (rung.lambda_logs).
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    # Imported on demand: the full engine pulls in moto, which the fast path never needs.
    if name == "full":
        from rung.engine_full import run_full

        return run_full
    from rung.engine_fast import run_fast

    return run_fast


def quiet_hours_check(
    book: ProfileBook, lender: LenderConfig
) -> Callable[[AuditRecord, Account], bool]:
    """An independent re-check of every SENT record against the profile's local hours."""

    def in_quiet_hours(record: AuditRecord, account: Account) -> bool:
        zones = candidate_zones(account, default_region=lender.default_region, atlas=book.atlas)
        window = book.profile_for(account).window
        return not zones or any(
            not window.start <= record.at_utc.astimezone(ZoneInfo(name)).time() < window.end
            for name in zones
        )

    return in_quiet_hours


def blackout_day_check(book: ProfileBook, lender: LenderConfig) -> BlackoutCheck:
    """An independent re-check of every SENT record against the profile's blackout days: the
    `holidays` library asked directly, the configured weekdays and dates read as written."""

    def on_blackout_day(record: AuditRecord, account: Account) -> str | None:
        zones = candidate_zones(account, default_region=lender.default_region, atlas=book.atlas)
        profile = book.profile_for(account)
        calendars = (
            _library_calendars(profile.holidays.calendar, profile.holidays.subdivisions)
            if profile.holidays
            else ()
        )
        for name in zones:
            day = record.at_utc.astimezone(ZoneInfo(name)).date()
            holiday = next((c[day] for c in calendars if day in c), None)
            weekday = day.strftime("%A").lower()
            worked = any(day in c.weekend_workdays for c in calendars)
            if holiday is not None:
                return f"{day} {holiday} in {name}"
            if day in profile.blackout_dates or (
                weekday in profile.blackout_weekdays and not worked
            ):
                return f"{day} ({weekday}, a blackout day) in {name}"
        return None

    return on_blackout_day


@cache
def _library_calendars(
    country: str, subdivisions: tuple[str, ...]
) -> tuple[holidays.HolidayBase, ...]:
    return tuple(
        holidays.country_holidays(country, subdiv=subdivision)
        for subdivision in subdivisions or (None,)
    )


def _default_window(book: ProfileBook) -> tuple[time, time]:
    window = book.profiles[book.default].window
    return (window.start, window.end)


def _refuse_output_folder(out: Path) -> None:
    """`--out` names a folder; a file there would only fail once the whole run is done."""
    if out.exists() and not out.is_dir():
        raise CommandError(
            f"--out {out} is a file, not a folder: name a folder (it is created if missing)",
            command=COMMAND,
        )


def _validate(
    path: Path, lender: LenderConfig, out: TextIO, accepted: list[LenderRow], *, quiet: bool
) -> tuple[FileReport, list[RejectedRow]]:
    """List the rows the schedule handler will reject, before spending time on the run;
    the accepted ones are added to `accepted`."""
    report = FileReport()
    rejected: list[RejectedRow] = []
    with path.open("rb") as stream:
        for row in validate_lender_file(stream, lender, report):
            if row.accepted and row.value is not None:
                accepted.append(row.value)
            if not row.accepted:
                rejected.append(_rejected(path, row))
                if not quiet:
                    print(
                        f"rejected row {row.row} [{row.account_id or '-'}]: {_errors(row)}",
                        file=out,
                    )
    return report, rejected


def _drawn_payments(result: SimulationResult, entered: list[LenderRow]) -> list[PaymentRow]:
    """The response model's payments, as the payments files it delivered said them: the
    account's balance in full (rung.engine_fast)."""
    owed = {row.account_id: row.amount_due for row in entered}
    return [
        PaymentRow(account_id=account_id, paid_at=at, amount=owed[account_id])
        for kind, account_id, _channel, at in result.synthetic_responses
        if kind == "payment"
    ]


def _validate_payments(
    path: Path, lender: LenderConfig, out: TextIO, accepted: list[PaymentRow], *, quiet: bool
) -> list[RejectedRow]:
    """The payments file's bad rows, named as intake will reject them (they pay nothing);
    the good ones are added to `accepted`, for the report."""
    rejected: list[RejectedRow] = []
    with path.open("rb") as stream:
        for row in PaymentsFile(stream, lender).results():
            if row.value is not None:
                accepted.append(row.value)
            if not row.accepted:
                rejected.append(_rejected(path, row))
                if not quiet:
                    print(
                        f"rejected payment row {row.row} [{row.account_id or '-'}]: {_errors(row)}",
                        file=out,
                    )
    return rejected


def _errors(row: RowResult[Any]) -> str:
    return "; ".join(str(error) for error in row.errors)


def _rejected(path: Path, row: RowResult[Any]) -> RejectedRow:
    return RejectedRow(path.name, row.row, row.account_id, tuple(str(e) for e in row.errors))


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
    preferences = {a.account_id: a.contact_preferences for a in result.accounts}
    for account_id in accounts[:limit]:
        sent = by_account.get(account_id, [])
        lines = [f"{account_id}: {len(sent)} sent"]
        lines.extend(f"    prefers {describe(p)}" for p in preferences[account_id])
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
    print(
        f"wrote {out_dir / 'messages.csv'}, summary.json, report.html, events/ (rung kpis)",
        file=out,
    )
    if summary.get("synthetic"):
        print(
            "SYNTHETIC: payments and replies were drawn from the response model, not a lender "
            "(see synthetic_responses.csv)",
            file=out,
        )
