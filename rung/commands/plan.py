"""`rung plan FILE [--lender ID] [--start ISO] [--days N] [--json]` — will the file fit?

Lays out every accepted account's ladder from the start instant and paces each channel's
messages at its rate (the lender's `send_rates`, else the stack's `cdk.json` defaults), as the
send step will (rung.plan). Reports demand against capacity per channel, when each rung's
first and last message go out, how many rungs spill past their allowed window to a later one
(and what rate would avoid that), the time to start every ladder, open executions against the
quota, peak Lambda concurrency, emails per day (for the SES daily quota) and the cost.

Exit 0: the file fits; 1: it fits only by spilling (or exceeds the open-executions quota);
2: a bad file or bad options.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from functions.core.channels import CHANNELS
from functions.core.errors import ConfigError, FileRejected
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, LenderRow, validate_lender_file
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account, Channel
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT
from infra.paths import CDK_JSON
from rung.commands.failure import CommandError
from rung.commands.options import days, existing_file, instant
from rung.plan import Demand, Plan, lay_out, plan

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
    parser.add_argument("--days", type=days, default=35, help="days to plan (default 35)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    start = args.start or datetime.now(UTC).replace(second=0, microsecond=0)
    try:
        lender = load_lender(PROJECT_ROOT, args.lender)
        report, demand = plan_file(existing_file(args.file), lender, start, args.days)
    except (ConfigError, FileRejected, OSError) as exc:
        raise CommandError(str(exc)) from exc
    if report.file_error:
        raise CommandError(f"file rejected: {report.file_error}")
    result = plan(demand, load_ladder(PROJECT_ROOT, lender.ladder), sending_rates(lender))
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
    return {
        channel: getattr(lender.send_rates, shape.rate_field) or int(defaults[shape.rate_field])
        for channel, shape in CHANNELS.items()
        if shape.rate_field
    }


def plan_file(
    path: Path, lender: LenderConfig, start: datetime, days: int
) -> tuple[FileReport, Demand]:
    """Validate `path` and lay out its accepted accounts' messages."""
    report = FileReport()
    ladder = load_ladder(PROJECT_ROOT, lender.ladder)
    book = load_profiles(PROJECT_ROOT).for_lender(lender)
    with path.open("rb") as stream:
        accounts = _accepted(validate_lender_file(stream, lender, report), lender)
        demand = lay_out(accounts, lender, ladder, book, start, start + timedelta(days=days))
    return report, demand


def plan_verdict(
    accounts: Iterable[Account],
    lender: LenderConfig,
    start: datetime | None = None,
    days: int = 35,
    rates: dict[Channel, int] | None = None,
) -> str:
    """The planner's one line for `accounts` arriving at `start` (default: now)."""
    start = start or datetime.now(UTC).replace(second=0, microsecond=0)
    ladder = load_ladder(PROJECT_ROOT, lender.ladder)
    book = load_profiles(PROJECT_ROOT).for_lender(lender)
    demand = lay_out(accounts, lender, ladder, book, start, start + timedelta(days=days))
    return plan(demand, ladder, rates or sending_rates(lender)).verdict()


def _accepted(results: Any, lender: LenderConfig) -> Any:
    for result in results:
        if result.accepted and isinstance(result.value, LenderRow):
            yield result.value.to_account(lender)


def plan_summary(result: Plan, report: FileReport, lender: LenderConfig) -> dict[str, Any]:
    prices = lender.prices
    sms, email = result.channels[Channel.SMS], result.channels[Channel.EMAIL]
    # Each message is one ladder loop (Wait, SendRung, RungsLeft); a spilled one loops again;
    # each ladder starts with a Wait and ends with LadderDone.
    transitions = 3 * (sms.messages + email.messages + result.spilled) + 2 * result.accounts
    cost = {
        "currency": prices.currency,
        "sms_at_least": _money(prices.sms_segment * sms.messages),  # one segment each, at least
        "email": _money(prices.email * email.messages),
        "step_functions": _money(prices.sfn_transition * transitions),
        "sfn_transitions": transitions,
    }
    return {
        "fits": result.fits,
        "verdict": result.verdict(),
        "rows": report.rows,
        "rejected": report.rejected,
        "accounts": result.accounts,
        "channels": {
            plan.channel.value: {
                "messages": plan.messages,
                "rate_per_second": plan.rate_per_second,
                "capacity_per_minute": plan.rate_per_second * 60,
                "peak_demand_per_minute": plan.peak_demand_per_minute,
                "spilled_rungs": plan.spilled,
                "rate_to_avoid_spill": plan.rate_to_avoid_spill,
                "peak_per_day_utc": plan.peak_per_day_utc,
            }
            for plan in result.channels.values()
        },
        "spilled_rungs": result.spilled,
        "rungs": [
            {
                "rung": rung.rung + 1,
                "channel": rung.channel.value,
                "template": rung.template,
                "messages": rung.messages,
                "first_send": _iso(rung.first_send),
                "last_send": _iso(rung.last_send),
                "spilled": rung.spilled,
            }
            for rung in result.rungs
        ],
        "start_executions_seconds": round(result.start_executions_seconds, 1),
        "open_executions": result.open_executions,
        "open_executions_quota": result.open_executions_quota,
        "peak_lambda_concurrency": result.peak_lambda_concurrency,
        "estimated_cost": cost,
    }


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


def _iso(instant: datetime | None) -> str | None:
    return instant.strftime("%Y-%m-%dT%H:%MZ") if instant else None


def _money(amount: Decimal) -> float:
    return float(round(amount, 6))
