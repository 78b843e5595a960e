"""Champion/challenger results: `DIR/experiments.csv` in, the report `rung experiments` prints.

`experiments.csv` has one row per account that joined an experiment (written by
`rung simulate`; the same columns can be exported from the accounts table):
`account_id, experiment, variant, assignment, cured, opted_out, synthetic`. `cured` is 1 when
the account was paid in full within the window (the definition `rung kpis` uses), `assignment`
is `hash` or `guardrail:{variant}` (the champion took an account its bucket gave to a stopped
variant), `synthetic` is 1 when the payments came from a response model, not from a lender.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.core.csv_safety import SafeCsvWriter
from functions.core.experiments import Experiment
from functions.core.models import Account, AccountStatus, Channel, Suppression, SuppressionSource
from rung.experiment_stats import (
    CONFIDENCE,
    POWER,
    Arm,
    accounts_per_arm,
    cure_interval,
    difference_interval,
)

EXPERIMENTS_CSV = "experiments.csv"
COLUMNS = ("account_id", "experiment", "variant", "assignment", "cured", "opted_out", "synthetic")


@dataclass(frozen=True)
class Outcome:
    """One account of one experiment, as `experiments.csv` has it."""

    account_id: str
    experiment: str
    variant: str
    assignment: str
    cured: bool
    opted_out: bool
    synthetic: bool


def write_outcomes(path: Path, outcomes: Iterable[Outcome]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = SafeCsvWriter(handle)
        writer.writerow(COLUMNS)
        for o in outcomes:
            writer.writerow(
                (
                    o.account_id,
                    o.experiment,
                    o.variant,
                    o.assignment,
                    str(int(o.cured)),
                    str(int(o.opted_out)),
                    str(int(o.synthetic)),
                )
            )
            count += 1
    return count


def read_outcomes(path: Path) -> list[Outcome]:
    """Parse `experiments.csv`; a bad row raises ValueError naming the line and the field."""
    outcomes: list[Outcome] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            flags = {}
            for name in ("cured", "opted_out", "synthetic"):
                value = (row[name] or "").strip()
                if value not in ("0", "1"):
                    raise ValueError(
                        f"{path.name} line {line}: {name} must be 0 or 1, not {value!r}"
                    )
                flags[name] = value == "1"
            for name in ("experiment", "variant"):
                if not (row[name] or "").strip():
                    raise ValueError(f"{path.name} line {line}: {name} is empty")
            outcomes.append(
                Outcome(
                    account_id=row["account_id"],
                    experiment=row["experiment"].strip(),
                    variant=row["variant"].strip(),
                    assignment=(row["assignment"] or "").strip(),
                    **flags,
                )
            )
    return outcomes


def report(
    outcomes: Iterable[Outcome],
    experiments: Mapping[str, Experiment],
    min_effect: float,
    confidence: float = CONFIDENCE,
) -> list[dict[str, Any]]:
    """Per experiment: each variant's cure rate and Wilson interval, each challenger's
    difference from the champion with Newcombe's interval, and the accounts still needed per
    arm to detect `min_effect` (two-sided, 1 − confidence, power 0.8) at the champion's rate."""
    grouped: dict[str, dict[str, list[Outcome]]] = defaultdict(lambda: defaultdict(list))
    for outcome in outcomes:
        grouped[outcome.experiment][outcome.variant].append(outcome)
    results = []
    for experiment_id in sorted(grouped):
        variants = grouped[experiment_id]
        config = experiments.get(experiment_id)
        if config is None:
            raise ValueError(
                f"experiment {experiment_id!r} is not in the lender's config/experiments/ file: "
                "its champion is unknown"
            )
        order = [v.name for v in config.variants if v.name in variants] + sorted(
            set(variants) - {v.name for v in config.variants}
        )
        arms = {
            name: Arm(name, len(variants[name]), sum(o.cured for o in variants[name]))
            for name in order
        }
        champion = arms.get(config.champion, Arm(config.champion, 0, 0))
        needed = accounts_per_arm(champion.rate, min_effect, alpha=1 - confidence, power=POWER)
        rows = []
        for name, arm in arms.items():
            interval = cure_interval(arm, confidence)
            entry: dict[str, Any] = {
                "variant": name,
                "champion": name == config.champion,
                "accounts": arm.accounts,
                "cured": arm.cured,
                "cure_rate": round(arm.rate, 6),
                "cure_rate_ci": [round(interval.low, 6), round(interval.high, 6)],
                "opted_out": sum(o.opted_out for o in variants[name]),
                "moved_by_guardrail": sum(
                    o.assignment.startswith("guardrail:") for o in variants[name]
                ),
                "accounts_still_needed": max(0, needed - arm.accounts),
            }
            if name != config.champion:
                diff = difference_interval(arm, champion, confidence)
                entry["difference"] = round(arm.rate - champion.rate, 6)
                entry["difference_ci"] = (
                    [round(diff.low, 6), round(diff.high, 6)] if diff is not None else None
                )
            rows.append(entry)
        results.append(
            {
                "experiment": experiment_id,
                "champion": config.champion,
                "confidence": confidence,
                "min_effect": min_effect,
                "power": POWER,
                "accounts_needed_per_arm": needed,
                "synthetic": any(o.synthetic for v in variants.values() for o in v),
                "variants": rows,
            }
        )
    return results


def outcomes_of(
    accounts: Iterable[Account], suppressions: Iterable[Suppression], synthetic: bool
) -> list[Outcome]:
    """Each account of an experiment at the end of a run: cured (PAID), opted out (a reply or
    an unsubscribe suppresses one of its addresses)."""
    opted_out = {
        (s.channel, s.address.casefold())
        for s in suppressions
        if s.source in (SuppressionSource.REPLY, SuppressionSource.UNSUBSCRIBE)
    }
    return [
        Outcome(
            account_id=account.account_id,
            experiment=account.experiment,
            variant=account.variant,
            assignment=account.assignment,
            cured=account.status is AccountStatus.PAID,
            opted_out=any(
                (channel, address.casefold()) in opted_out
                for channel in Channel
                if (address := account.address(channel))
            ),
            synthetic=synthetic,
        )
        for account in accounts
        if account.experiment
    ]
