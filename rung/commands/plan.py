"""`rung plan FILE [--lender ID] [--start ISO] [--days N] [--json]` — will the file fit?

Lays out every accepted account's ladder from the start instant and paces each channel's
messages at its rate (the lender's `send_rates`, else the stack's `cdk.json` defaults), as the
send step will (functions.plan, which the plan function in AWS runs too). Reports demand
against capacity per channel, when each rung's first and last message go out, how many rungs
spill past their allowed window to a later one (and what rate would avoid that), the time to
start every ladder, open executions against the quota, peak Lambda concurrency, emails per day
(for the SES daily quota) and the cost.

Exit 0: the file fits; 1: it fits only by spilling (or exceeds the open-executions quota);
2: a bad file or bad options.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from functions.core.channels import CHANNELS
from functions.core.errors import ConfigError, FileRejected
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account, Channel
from functions.plan import report as plan_report
from functions.plan.planner import Demand, plan
from functions.plan.report import PLAN_DAYS, lay_out_file, plan_accounts, plan_summary
from functions.settings import PROJECT_ROOT
from infra.paths import CDK_JSON
from rung.commands.failure import CommandError
from rung.commands.options import days, existing_file, instant

EXIT_FITS, EXIT_SPILLS = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="capacity planner: will a lender file's messages fit the providers' rates?",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="lender file (accounts CSV)")
    parser.add_argument("--lender", default="demo", help="lender id (config/lenders/ID.yaml)")
    parser.add_argument(
        "--start", type=instant, help="when the file arrives, ISO UTC (default: now)"
    )
    parser.add_argument(
        "--days", type=days, default=PLAN_DAYS, help=f"days to plan (default {PLAN_DAYS})"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    start = args.start or datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        lender = load_lender(PROJECT_ROOT, args.lender)
        report, demand = plan_file(existing_file(args.file), lender, start, args.days)
        rates = sending_rates(lender)
    except (ConfigError, FileRejected, OSError) as exc:
        raise CommandError(str(exc)) from exc
    if report.file_error:
        raise CommandError(f"file rejected: {report.file_error}")
    result = plan(demand, load_ladder(PROJECT_ROOT, lender.ladder), rates)
    summary = plan_summary(result, report, lender)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print(summary)
    return EXIT_FITS if result.fits else EXIT_SPILLS


def sending_rates(lender: LenderConfig) -> dict[Channel, int]:
    """The lender's own rates, else the stack's defaults (cdk.json `send_rates`)."""
    # Read as plain JSON: the stack's own loader (infra.stack_config) pulls in the CDK.
    defaults = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]["rung"]["send_rates"]
    return plan_report.sending_rates(
        lender,
        {
            shape.rate_field: int(defaults[shape.rate_field])
            for shape in CHANNELS.values()
            if shape.rate_field
        },
    )


def plan_file(
    path: Path, lender: LenderConfig, start: datetime, days: int
) -> tuple[FileReport, Demand]:
    """Validate `path` and lay out its accepted accounts' messages."""
    with path.open("rb") as stream:
        return lay_out_file(stream, lender, PROJECT_ROOT, start, days)


def plan_verdict(
    accounts: Iterable[Account],
    lender: LenderConfig,
    start: datetime | None = None,
    days: int = PLAN_DAYS,
    rates: dict[Channel, int] | None = None,
) -> str:
    """The planner's one line for `accounts` arriving at `start` (default: now)."""
    start = start or datetime.now(UTC).replace(second=0, microsecond=0)
    rates = rates or sending_rates(lender)
    return plan_accounts(accounts, lender, PROJECT_ROOT, start, days, rates).verdict()


def _print(summary: dict[str, Any]) -> None:
    for name, channel in summary["channels"].items():
        print(
            f"{name}: {channel['messages']:,} messages at {channel['rate_per_second']}/s; "
            f"busiest minute {channel['peak_demand_per_minute']:,} due against "
            f"{channel['capacity_per_minute']:,}; {channel['spilled_rungs']:,} spill; "
            f"busiest UTC day {channel['peak_per_day_utc']:,}"
        )
    for rung in summary["rungs"]:
        print(
            f"  rung {rung['rung']} {rung['channel']:<5} {rung['messages']:>9,}  "
            f"{rung['first_send'] or '-'} … {rung['last_send'] or '-'}"
            + (f"  ({rung['spilled']:,} spill)" if rung["spilled"] else "")
        )
    print(
        f"{summary['accounts']:,} ladders: {summary['start_executions_seconds']:,} s to start, "
        f"{summary['open_executions']:,} of {summary['open_executions_quota']:,} open "
        f"executions; peak Lambda concurrency {summary['peak_lambda_concurrency']}"
    )
    print(summary["verdict"])
