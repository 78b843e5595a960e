"""`rung ladders failed|redrive` — find ladders a defect failed, and resume them once fixed.

A transient fault never fails a ladder (it is deferred); an execution fails only when the send
step raised an error the ASL does not name — a defect. `failed` lists those executions with
the error and cause Step Functions recorded. `redrive NAME|--all` calls Step Functions'
RedriveExecution: the execution resumes at the step that failed, with the same input, so the
send step decides that rung again — and the ledger keeps it at most once (an attempt found
open is recorded UNCERTAIN, never re-sent). Executions older than 14 days cannot be redriven.

Talks to Step Functions: real AWS with boto3's default credentials, or a local endpoint
(`--endpoint-url`). Exit 0 ok, 1 some execution could not be redriven, 2 unusable input or
AWS unreachable.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.step_functions import execution_arn
from functions.core.errors import ConfigError
from functions.settings import Settings
from rung.commands.failure import CommandError

EXIT_OK, EXIT_REFUSED = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ladders",
        help="list ladders a defect failed, and redrive them once it is fixed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("failed", "redrive"))
    parser.add_argument("name", nargs="?", help="execution name to redrive")
    parser.add_argument("--all", action="store_true", help="redrive every failed execution")
    parser.add_argument(
        "--state-machine",
        default=Settings().state_machine_arn,
        help="ladder state machine ARN (default: $RUNG_STATE_MACHINE_ARN)",
    )
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="local endpoint, e.g. moto_server")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.state_machine:
        raise CommandError("name the state machine (--state-machine ARN)")
    if args.action == "redrive" and bool(args.name) == bool(args.all):
        raise CommandError("redrive: give one execution NAME or --all")
    if args.action == "failed" and (args.name or args.all):
        raise CommandError("failed: takes no NAME or --all")
    try:
        # A named execution's ARN is checked before any AWS call.
        named = [execution_arn(args.state_machine, args.name)] if args.name else []
        client = boto3.client(
            "stepfunctions", region_name=args.region, endpoint_url=args.endpoint_url
        )
        if args.action == "failed":
            return _print_failed(failed_executions(client, args.state_machine), args.json)
        arns = named or [
            execution["execution_arn"]
            for execution in failed_executions(client, args.state_machine)
        ]
    except (ClientError, BotoCoreError, ConfigError) as exc:
        raise CommandError(str(exc)) from exc
    return _redrive(client, arns, args.json)


def failed_executions(client: Any, state_machine_arn: str) -> list[dict[str, str]]:
    """Every FAILED execution of the machine, with the error and cause that ended it."""
    failed = []
    pages = client.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="FAILED"
    )
    for page in pages:
        for execution in page["executions"]:
            described = client.describe_execution(executionArn=execution["executionArn"])
            failed.append(
                {
                    "name": execution["name"],
                    "execution_arn": execution["executionArn"],
                    "stopped_at": described["stopDate"].isoformat(),
                    "error": described.get("error", ""),
                    "cause": described.get("cause", ""),
                }
            )
    return sorted(failed, key=lambda execution: execution["name"])


def _print_failed(failed: list[dict[str, str]], as_json: bool) -> int:
    if as_json:
        print(json.dumps({"failed": failed}, ensure_ascii=False))
        return EXIT_OK
    for execution in failed:
        print(f"{execution['name']}  {execution['stopped_at']}  {execution['error']}")
        if execution["cause"]:
            print(f"    {execution['cause'][:300]}")
    print(f"{len(failed)} failed ladder(s)")
    return EXIT_OK


def _redrive(client: Any, arns: list[str], as_json: bool) -> int:
    results = []
    for arn in arns:
        try:
            response = client.redrive_execution(executionArn=arn)
            results.append(
                {"execution_arn": arn, "redriven_at": response["redriveDate"].isoformat()}
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            results.append(
                {"execution_arn": arn, "refused": f"{error.get('Code')}: {error.get('Message')}"}
            )
        except BotoCoreError as exc:
            results.append({"execution_arn": arn, "refused": str(exc)})
    if as_json:
        print(json.dumps({"redrive": results}))
    else:
        for result in results:
            outcome = result.get("refused") or f"redriven at {result['redriven_at']}"
            print(f"{result['execution_arn'].rsplit(':', 1)[-1]}: {outcome}")
    return EXIT_REFUSED if any("refused" in result for result in results) else EXIT_OK
