"""`rung smoke` — the last step of a first deploy: one real run, to AWS's test destinations.

Uploads a five-borrower file for the `smoke` lender (SES mailbox simulator: delivered, bounce,
complaint; End User Messaging's US simulator numbers: success, failure) and polls the stack's
tables until each step holds or `--timeout` passes: accepted, SENT (ledger and audit),
receipt noted, bounce and complaint suppressed. It sends real (simulated) messages: run it in
the borrowers' daytime (08:00–21:00 Pacific), with `config/lenders/smoke.yaml` set up.
Exit 0 every step passed, 1 a step failed, 2 bad options, no credentials or no stack.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from rung.commands.failure import CommandError
from rung.commands.preflight import UsageError, boto3_clients, deployment_config, print_checks
from rung.preflight import AWS_ERRORS
from rung.smoke import Deployment, Smoke, stack_outputs

EXIT_OK, EXIT_FAILED = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "smoke",
        help="run a tiny real upload to AWS's simulator destinations and check every step",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="CloudFormation stack (default: cdk.json stack_name)")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="a local endpoint for every service (moto_server)")
    parser.add_argument(
        "--timeout", type=int, default=15, help="minutes to wait for every step (default 15)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.timeout < 0:
        raise CommandError("--timeout must be 0 or more minutes")
    stack = args.stack or deployment_config().stack_name
    try:
        clients = boto3_clients(args.region, args.endpoint_url)
        deployment = Deployment.from_outputs(stack_outputs(clients, stack))
    except UsageError as exc:
        raise CommandError(str(exc)) from exc
    except (*AWS_ERRORS, KeyError) as exc:
        raise CommandError(
            f"stack {stack} is not deployed with this version's outputs ({exc}); run rung preflight"
        ) from exc
    smoke = Smoke(clients, deployment, now=lambda: datetime.now(UTC), sleep=time.sleep)
    checks = smoke.run(timeout=timedelta(minutes=args.timeout), interval=timedelta(seconds=20))
    print_checks(checks, as_json=args.json)
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED
