"""`rung kpis DIR|--athena [--json] [--out FILE.html]` — the collections KPIs from the records.

DIR is a `rung simulate` output folder (its `events/`), or any folder of analytics events laid
out as the stack writes them (`lender=…/date=…/*.parquet`, e.g. downloaded from the analytics
bucket): DuckDB runs the queries in-process. `--athena` runs the same queries in the stack's
Athena workgroup over the analytics record on S3 (workgroup and database from the stack's
outputs, or `--workgroup` / `--database`). Tables on the terminal, `--json` for machines,
`--out` an offline HTML page with charts. Definitions of every KPI: docs/kpis.md.
Exit 0 done; 2 no events, bad options or configuration; 1 the query engine failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.core.errors import ConfigError
from functions.kpis.athena import AthenaEngine
from functions.kpis.queries import load_kpi_config
from functions.kpis.report import KpiEngine, KpiEngineError, kpi_report
from functions.settings import PROJECT_ROOT
from rung.access.stack import stack_name
from rung.commands.failure import CommandError
from rung.kpi_engines import DuckDbEngine
from rung.kpi_page import render_kpi_page
from rung.kpi_report import print_tables

COMMAND = "rung kpis"
EXIT_ENGINE_FAILED = 1
# The stack's outputs that name where Athena finds the analytics record (infra/stack.py).
WORKGROUP_OUTPUT = "AnalyticsWorkgroupName"
DATABASE_OUTPUT = "AnalyticsDatabaseName"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kpis",
        help="cure rate, roll rate, payments after each rung and more, from the analytics record",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", nargs="?", type=Path, help="rung simulate output folder")
    parser.add_argument("--athena", action="store_true", help="query the stack with Athena")
    parser.add_argument(
        "--workgroup", help=f"Athena workgroup (default: output {WORKGROUP_OUTPUT})"
    )
    parser.add_argument("--database", help=f"Glue database (default: output {DATABASE_OUTPUT})")
    parser.add_argument("--stack", default=None, help="stack name (default: cdk.json's)")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--out", type=Path, help="also write an offline HTML page here")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.folder) == bool(args.athena):
        raise CommandError("give a simulation output folder, or --athena (one of them)")
    if args.out is not None and args.out.is_dir():
        raise CommandError(f"--out {args.out} is a folder: name the HTML file to write")
    try:
        config = load_kpi_config(PROJECT_ROOT)
        engine, source = _athena(args) if args.athena else _duckdb(args.folder)
        report = kpi_report(engine, PROJECT_ROOT, config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    except KpiEngineError as exc:
        raise CommandError(str(exc), exit_code=EXIT_ENGINE_FAILED) from exc
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"AWS: {exc}", exit_code=EXIT_ENGINE_FAILED) from exc
    if args.out is not None:
        try:
            args.out.write_text(render_kpi_page(report, source), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--out {args.out}: {exc.strerror or exc}") from exc
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print_tables(report, sys.stdout)
        if args.out is not None:
            print(f"\nwrote {args.out}")
    return 0


def _duckdb(folder: Path) -> tuple[KpiEngine, str]:
    if not folder.is_dir():
        raise CommandError(f"{folder}: no such folder (a rung simulate --out folder)")
    try:
        return DuckDbEngine(folder), str(folder)
    except KpiEngineError as exc:  # no events there, or files that are not ours: bad input
        raise CommandError(str(exc)) from exc


def _athena(args: argparse.Namespace) -> tuple[KpiEngine, str]:
    session = boto3.session.Session(region_name=args.region)
    workgroup, database = args.workgroup, args.database
    if not (workgroup and database):
        outputs = _stack_outputs(session, args.stack or stack_name())
        workgroup = workgroup or outputs.get(WORKGROUP_OUTPUT)
        database = database or outputs.get(DATABASE_OUTPUT)
    if not (workgroup and database):
        raise CommandError(
            f"the stack has no {WORKGROUP_OUTPUT} / {DATABASE_OUTPUT} outputs: deploy this "
            "version (make deploy), or name them with --workgroup and --database"
        )
    engine = AthenaEngine(session.client("athena"), workgroup, database)
    return engine, f"athena:{workgroup}/{database}"


def _stack_outputs(session: Any, stack: str) -> dict[str, str]:
    described = session.client("cloudformation").describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
