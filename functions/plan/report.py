"""A lender file's capacity plan as `rung plan --json` prints it, from the file's bytes.

One copy for every caller: `rung plan`, `rung validate`'s verdict and `rung simulate` on an
operator's machine, and the plan function in AWS (functions/plan/handler.py), which stores
the same JSON beside the upload for the console's Capacity plan page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from functions.core.channels import CHANNELS
from functions.core.errors import ConfigError
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, LenderRow, RowResult, validate_lender_file
from functions.core.lenders import LenderConfig
from functions.core.models import Account, Channel
from functions.core.profiles import load_profiles
from functions.plan.planner import Demand, Plan, lay_out, plan

# Days laid out from the file's arrival: our choice, the ladder's length (its last rung, the
# final notice, is on day 30) plus a margin for rungs moved past quiet hours and spills.
PLAN_DAYS = 35


def sending_rates(lender: LenderConfig, defaults: Mapping[str, int | None]) -> dict[Channel, int]:
    """The lender's own rates, else the stack's defaults (`defaults` by rate field, e.g.
    `sms_per_second`: cdk.json's `send_rates`, which the stack gives the functions)."""
    rates = {}
    for channel, shape in CHANNELS.items():
        if not shape.rate_field:
            continue  # not paced (push)
        rate = getattr(lender.send_rates, shape.rate_field) or defaults.get(shape.rate_field)
        if not rate:
            raise ConfigError(
                f"lender {lender.lender_id!r}: no {shape.rate_field} (neither the lender's "
                "send_rates nor the stack's default names one)"
            )
        rates[channel] = int(rate)
    return rates


def lay_out_file(
    stream: BinaryIO, lender: LenderConfig, config_root: Path, start: datetime, days: int
) -> tuple[FileReport, Demand]:
    """Validate the lender file in `stream` and lay out its accepted accounts' messages."""
    report = FileReport()
    ladder = load_ladder(config_root, lender.ladder)
    book = load_profiles(config_root).for_lender(lender)
    accounts = accepted_accounts(validate_lender_file(stream, lender, report), lender)
    demand = lay_out(accounts, lender, ladder, book, start, start + timedelta(days=days))
    return report, demand


def plan_accounts(
    accounts: Iterable[Account],
    lender: LenderConfig,
    config_root: Path,
    start: datetime,
    days: int,
    rates: dict[Channel, int],
) -> Plan:
    """The plan of accounts already read (e.g. while another pass reports their rows)."""
    ladder = load_ladder(config_root, lender.ladder)
    book = load_profiles(config_root).for_lender(lender)
    demand = lay_out(accounts, lender, ladder, book, start, start + timedelta(days=days))
    return plan(demand, ladder, rates)


def accepted_accounts(results: Iterable[RowResult[Any]], lender: LenderConfig) -> Iterator[Account]:
    for result in results:
        if result.accepted and isinstance(result.value, LenderRow):
            yield result.value.to_account(lender)


def plan_summary(result: Plan, report: FileReport, lender: LenderConfig) -> dict[str, Any]:
    """What `rung plan --json` prints."""
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
                "first_send": minute_iso(rung.first_send),
                "last_send": minute_iso(rung.last_send),
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


def minute_iso(instant: datetime | None) -> str | None:
    return instant.strftime("%Y-%m-%dT%H:%MZ") if instant else None


def _money(amount: Decimal) -> float:
    return float(round(amount, 6))
