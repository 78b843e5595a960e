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
import heapq
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, nullcontext
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from zoneinfo import ZoneInfo

import holidays

from functions.core.errors import ConfigError, FileRejected
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, LenderRow, RowResult, validate_lender_file
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account, AuditRecord, Channel, UploadRecord
from functions.core.payments_file import PaymentRow, PaymentsFile
from functions.core.profiles import Profile, ProfileBook, load_profiles
from functions.core.zones import candidate_zones
from functions.plan.planner import Demand, lay_out, plan
from functions.settings import PROJECT_ROOT
from rung.account_groups import AccountGroups
from rung.analytics_files import SECRET_BYTES
from rung.chunks import (
    CHUNK_ACCOUNTS,
    ChunkDone,
    ChunkJob,
    chunk_jobs,
    row_keys,
    run_chunks,
    worker_count,
)
from rung.commands.failure import CommandError
from rung.commands.options import MAX_DAYS, days, existing_file, instant, positive
from rung.commands.plan import sending_rates
from rung.encrypted_files import plaintext_path, read_key
from rung.engine import SimulationFailed, SimulationInput, read_replies, receipt_of
from rung.heap import large_heap
from rung.invariants import BlackoutCheck
from rung.progress import Progress
from rung.provider_limits import Outage
from rung.report import RejectedRow
from rung.response_model import load_response_model
from rung.run_outputs import PRINTED_ACCOUNTS, Part, RunContext, write_part, write_run

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
    parser.add_argument(
        "--workers",
        type=positive,
        default=None,
        help="processes running the fast engine's chunks (default: every core)",
    )
    parser.add_argument(
        "--chunk-accounts",
        type=positive,
        default=CHUNK_ACCOUNTS,
        help=f"accounts per chunk of the fast engine (default {CHUNK_ACCOUNTS:,}; each worker "
        "holds about 25 KB per account of its chunk)",
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
    start = args.start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    groups = AccountGroups()
    try:
        _refuse_output_folder(args.out)
        with large_heap():  # the accounts' groups are held to the end of the run
            report, rejected, demand = _validate(
                readable, lender, out, groups, start, args.days, quiet=args.json
            )
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
    if demand is not None:
        rates = _capacity(lender, sim)
        print(plan(demand, load_ladder(PROJECT_ROOT, lender.ladder), rates).verdict(), file=out)
    engine = args.engine
    if engine == "auto":
        small = report.rows <= FULL_ENGINE_MAX_ROWS
        engine = "full" if small and model is None else "fast"
    book = load_profiles(PROJECT_ROOT).for_lender(lender)
    context = RunContext(
        lender.prices,
        start,
        args.days,
        secret=secrets.token_bytes(SECRET_BYTES),
        payments=tuple(payments),
        lender=lender,
    )
    # The fast engine's parts and their merge hold large heaps: garbage is collected as
    # rarely as in the engine's run (rung.chunks collects each chunk's at its end). The full
    # engine's moto world makes cyclic garbage all along and keeps the default collection.
    heap = large_heap() if engine == "fast" else nullcontext()
    with tempfile.TemporaryDirectory(prefix="rung-simulate-") as scratch, heap:
        try:
            with Progress(args.days, start=start) as progress:
                parts, receipt = _parts(
                    args, engine, sim, readable, groups, context, Path(scratch), progress
                )
        except SimulationFailed as exc:
            # What would fail in AWS fails here: a defect to fix, not a result to report.
            raise CommandError(str(exc), command=COMMAND, exit_code=EXIT_FAILED) from exc
        summary = write_run(
            args.out,
            parts,
            context,
            receipt=receipt,
            allowed_window=_default_window(book),
            capacity_per_second=_capacity(lender, sim),
            rejected_rows=rejected,
        )
    if args.json:
        json.dump(summary, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_timeline(parts, summary["accounts"], out)
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


def _parts(
    args: argparse.Namespace,
    engine: str,
    sim: SimulationInput,
    readable: Path,
    groups: AccountGroups,
    context: RunContext,
    scratch: Path,
    progress: Progress,
) -> tuple[list[Part], dict[str, Any] | None]:
    """Run the simulation and write its parts: the full engine's run as one part; the fast
    engine's as chunks (rung.chunks) when no rate couples the accounts, else as one chunk.
    Returns the parts and the receipt for the whole file (None: the one part's own)."""
    _quiet_handlers()
    if engine == "full":
        from rung.engine_full import run_full

        result = run_full(sim, progress.update)
        book = load_profiles(PROJECT_ROOT).for_lender(context.lender)  # type: ignore[arg-type]
        entered = _entered(readable, context.lender)  # type: ignore[arg-type]
        part = write_part(
            scratch / "part",
            result,
            context,
            entered=entered,
            in_quiet_hours=quiet_hours_check(book, context.lender),  # type: ignore[arg-type]
            on_blackout_day=blackout_day_check(book, context.lender),  # type: ignore[arg-type]
        )
        return [part], None
    coupled = any(rate is not None for _, rate in sim.rates)
    jobs = None
    if not coupled and readable == sim.accounts_file:
        jobs = chunk_jobs(sim, readable, groups, context, scratch, size=args.chunk_accounts)
    if jobs is None:
        jobs = [ChunkJob(scratch, sim, context, readable)]
    done: list[ChunkDone] = []
    for finished in run_chunks(jobs, args.workers or worker_count(), progress.update):
        done.append(finished)
        if len(jobs) > 1:
            # Chunks run side by side, each over the whole period: the bar shows chunks done.
            share = sim.days * len(done) / len(jobs)
            progress.update(sim.start + timedelta(days=share), decisions=_decisions(done))
    uploads = [d.upload for d in done if d.upload is not None]
    return [d.part for d in done], receipt_of(merged_upload(uploads)) if uploads else {}


def _decisions(done: list[ChunkDone]) -> int:
    return sum(sum(d.part.tally.decisions.values()) for d in done)


def _entered(path: Path, lender: LenderConfig) -> list[LenderRow]:
    with path.open("rb") as stream:
        return [
            row.value
            for row in validate_lender_file(stream, lender, FileReport())
            if row.accepted and row.value is not None
        ]


def merged_upload(uploads: list[UploadRecord]) -> UploadRecord:
    """The accounts file as intake took it, from its chunks' shares."""
    counts = ("rows", "accepted", "rejected", "ladders_started")
    return uploads[0].model_copy(
        update={name: sum(getattr(u, name) for u in uploads) for name in counts}
    )


def _quiet_handlers() -> None:
    # The handlers emit metrics for CloudWatch (printed to stdout when enabled); a preview
    # prints its own summary. Their logs go to stderr (rung.lambda_logs).
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def quiet_hours_check(
    book: ProfileBook, lender: LenderConfig
) -> Callable[[AuditRecord, Account], bool]:
    """An independent re-check of every SENT record against the profile's local hours."""
    zones_of = _zones_of(book, lender)

    def in_quiet_hours(record: AuditRecord, account: Account) -> bool:
        zones = zones_of(account)
        window = book.profile_for(account).window
        return not zones or any(
            not window.start <= record.at_utc.astimezone(ZoneInfo(name)).time() < window.end
            for name in zones
        )

    return in_quiet_hours


def blackout_day_check(book: ProfileBook, lender: LenderConfig) -> BlackoutCheck:
    """An independent re-check of every SENT record against the profile's blackout days: the
    `holidays` library asked directly, the configured weekdays and dates read as written."""
    zones_of = _zones_of(book, lender)
    # A local date's verdict depends only on the profile (one name per book) and the date.
    verdicts: dict[tuple[str, date], str | None] = {}

    def on_blackout_day(record: AuditRecord, account: Account) -> str | None:
        profile = book.profile_for(account)
        for name in zones_of(account):
            day = record.at_utc.astimezone(ZoneInfo(name)).date()
            key = (profile.name, day)
            if key not in verdicts:
                verdicts[key] = _blackout(profile, day)
            if verdicts[key] is not None:
                return f"{verdicts[key]} in {name}"
        return None

    return on_blackout_day


def _blackout(profile: Profile, day: date) -> str | None:
    """The local date `day` in words when `profile` blocks it, else None."""
    calendars = (
        _library_calendars(profile.holidays.calendar, profile.holidays.subdivisions)
        if profile.holidays
        else ()
    )
    holiday = next((c[day] for c in calendars if day in c), None)
    weekday = day.strftime("%A").lower()
    worked = any(day in c.weekend_workdays for c in calendars)
    if holiday is not None:
        return f"{day} {holiday}"
    if day in profile.blackout_dates or (weekday in profile.blackout_weekdays and not worked):
        return f"{day} ({weekday}, a blackout day)"
    return None


def _zones_of(book: ProfileBook, lender: LenderConfig) -> Callable[[Account], tuple[str, ...]]:
    """The candidate zones of an account, worked out once per account of the run."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}

    def zones_of(account: Account) -> tuple[str, ...]:
        key = (account.lender_id, account.account_id)
        if key not in found:
            found[key] = candidate_zones(
                account, default_region=lender.default_region, atlas=book.atlas
            )
        return found[key]

    return zones_of


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
    path: Path,
    lender: LenderConfig,
    out: TextIO,
    groups: AccountGroups,
    start: datetime,
    days: int,
    *,
    quiet: bool,
) -> tuple[FileReport, list[RejectedRow], Demand | None]:
    """One pass over the file before the run: list the rows the schedule handler will reject,
    join rows that share an id or an address (`groups`), and — unless `quiet` — lay out the
    accepted accounts' messages for the capacity planner's verdict."""
    report = FileReport()
    rejected: list[RejectedRow] = []

    def accepted(stream: BinaryIO) -> Iterator[LenderRow]:
        for row in validate_lender_file(stream, lender, report):
            groups.add(row.row, row_keys(row))
            if row.accepted and row.value is not None:
                yield row.value
            else:
                rejected.append(_rejected(path, row))
                if not quiet:
                    print(
                        f"rejected row {row.row} [{row.account_id or '-'}]: {_errors(row)}",
                        file=out,
                    )

    with path.open("rb") as stream:
        if quiet:
            for _ in accepted(stream):
                pass
            return report, rejected, None
        ladder = load_ladder(PROJECT_ROOT, lender.ladder)
        book = load_profiles(PROJECT_ROOT).for_lender(lender)
        accounts = (row.to_account(lender) for row in accepted(stream))
        demand = lay_out(accounts, lender, ladder, book, start, start + timedelta(days=days))
    return report, rejected, demand


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


def _print_timeline(
    parts: list[Part], accounts: int, out: TextIO, limit: int = PRINTED_ACCOUNTS
) -> None:
    """What was sent when, for the first `limit` accounts (by id)."""
    first = heapq.merge(*(part.view.timeline for part in parts), key=lambda entry: entry[0])
    for account_id, preferences, sent in islice(first, limit):
        lines = [f"{account_id}: {len(sent)} sent"]
        lines.extend(f"    prefers {text}" for text in preferences)
        for record in sent:
            local = record.at_local[:16].replace("T", " ") or "?"
            lines.append(
                f"    {local} local  rung {record.rung + 1} {record.channel.value:<5}"
                f" {record.template_id}"
            )
        print("\n".join(lines), file=out)
    if accounts > limit:
        print(f"… and {accounts - limit} more accounts (see messages.csv)", file=out)


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
