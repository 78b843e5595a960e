"""`rung experiments report DIR` — champion/challenger results of a run.

Reads DIR/experiments.csv (written by `rung simulate`) and prints, per experiment and variant,
the cure rate with its 95 % Wilson interval, each challenger's difference from the champion
with Newcombe's interval, and how many more accounts each arm needs to detect `--min-effect`
(two-sided test at 5 %, power 80 %). A result from a response model says `synthetic`.
Exit 0; 2 for bad input (no such folder, a malformed file, an unknown experiment).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from functions.core.errors import ConfigError
from functions.core.experiments import load_experiments
from functions.settings import PROJECT_ROOT
from rung.commands.failure import CommandError
from rung.experiment_report import EXPERIMENTS_CSV, read_outcomes, report

COMMAND = "rung experiments report"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "experiments",
        help="champion/challenger results: cure rates, intervals, sample size still needed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiments_command", choices=("report",))
    parser.add_argument("dir", type=Path, help="output folder of `rung simulate`")
    parser.add_argument("--lender", default="demo", help="lender id (config/experiments/ID.yaml)")
    parser.add_argument("--experiment", help="report this experiment only")
    parser.add_argument(
        "--min-effect",
        type=_effect,
        default=0.05,
        help="smallest difference in cure rate worth finding, e.g. 0.05 = 5 points",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def _effect(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"--min-effect is a rate difference in (0, 1): {value}")
    return value


def run(args: argparse.Namespace) -> int:
    path = args.dir / EXPERIMENTS_CSV
    if not args.dir.is_dir():
        raise CommandError(f"{args.dir}: no such folder (name the --out folder of rung simulate)")
    if not path.is_file():
        raise CommandError(
            f"{path}: not found — the run had no account in a running experiment "
            "(or the folder is not a `rung simulate` output)"
        )
    try:
        book = load_experiments(PROJECT_ROOT, args.lender)
        outcomes = read_outcomes(path)
        if args.experiment is not None:
            outcomes = [o for o in outcomes if o.experiment == args.experiment]
            if not outcomes:
                raise CommandError(f"no account of experiment {args.experiment!r} in {path}")
        results = report(outcomes, {e.id: e for e in book.experiments}, args.min_effect)
    except (ConfigError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print(json.dumps({"experiments": results}, indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(_text(result))
    return 0


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"


def _text(result: dict[str, Any]) -> str:
    label = " (SYNTHETIC: payments from a response model)" if result["synthetic"] else ""
    lines = [
        f"experiment {result['experiment']}{label}: champion {result['champion']}, "
        f"{result['accounts_needed_per_arm']} accounts per arm to detect "
        f"{_points(result['min_effect'])} points (95% confidence, power 80%)"
    ]
    for row in result["variants"]:
        low, high = row["cure_rate_ci"]
        line = (
            f"  {row['variant']:<16} {row['accounts']:>7} accounts  cured {row['cured']:>6}  "
            f"{_pct(row['cure_rate'])} [{_pct(low)}, {_pct(high)}]"
        )
        if "difference" in row:
            ci = row["difference_ci"]
            interval = f" [{_points(ci[0])}, {_points(ci[1])}]" if ci else ""
            line += f"  vs champion {_points(row['difference'])} points{interval}"
        if row["accounts_still_needed"]:
            line += f"  needs {row['accounts_still_needed']} more"
        lines.append(line)
    return "\n".join(lines)
