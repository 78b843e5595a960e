"""`rung preflight` — is the AWS account around the deployed stack ready to send?

Read-only, with boto3's default credentials: the stack and its outputs, each SES identity
(verified, DKIM), SES production access and account-level suppression list, the active receipt
rule set, the SMS sandbox, the SMS spend limit, every lender's origination number (active,
two-way to the stack), the Powertools layer parameter and a confirmed alarm subscription.
One line per check, with the fix for each that fails.
Exit 0 all pass, 1 something is missing, 2 bad options or no credentials.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError

from functions.core.errors import ConfigError
from functions.core.lenders import load_lender
from functions.settings import Settings
from rung.preflight import Check, Clients, Expectations, run_checks

if TYPE_CHECKING:
    from infra.stack_config import RungStackConfig

from rung.commands.failure import CommandError

EXIT_OK, EXIT_MISSING = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="check (read-only) that the AWS account is ready for the deployed stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="CloudFormation stack (default: cdk.json stack_name)")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="a local endpoint for every service (moto_server)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def boto3_clients(region: str | None, endpoint_url: str | None) -> Clients:
    """A client factory over one boto3 session; exits the caller with a message if unusable."""
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise UsageError("no AWS credentials: configure a profile or set AWS_* variables")
    if session.region_name is None:
        raise UsageError("no AWS region: pass --region or set AWS_REGION")
    cache: dict[str, object] = {}

    def client(service: str) -> object:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]
        return cache[service]

    return client


class UsageError(Exception):
    """Options or environment that make any check impossible (exit 2)."""


def deployment_config() -> RungStackConfig:
    """cdk.json's deployment configuration, as the CDK app reads it."""
    # Deferred: the configuration lives with the CDK app, and aws-cdk-lib is slow to import.
    from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context

    return RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY])


def expectations(stack: str | None, config_root: Path) -> Expectations:
    """What cdk.json and the lender files say the account must hold."""
    from infra.components.functions import POWERTOOLS_LAYER_PARAMETER

    config = deployment_config()
    lenders = sorted(path.stem for path in (config_root / "config" / "lenders").glob("*.yaml"))
    numbers = []
    for lender_id in lenders:
        origination = load_lender(config_root, lender_id).sms_origination
        if origination and origination not in numbers:
            numbers.append(origination)
    return Expectations(
        stack=stack or config.stack_name,
        email_identities=tuple(config.email.identities),
        origination_identities=tuple(numbers),
        layer_parameter=POWERTOOLS_LAYER_PARAMETER.format(
            python=config.lambda_python, version=config.powertools_version
        ),
        alarm_email=config.alarms.email,
        origination_resources=dict(config.sms.origination_identities),
    )


def run(args: argparse.Namespace) -> int:
    try:
        expected = expectations(args.stack, Settings().config_root)
        checks = run_checks(boto3_clients(args.region, args.endpoint_url), expected)
    except (UsageError, ConfigError, ValueError, BotoCoreError) as exc:
        raise CommandError(str(exc)) from exc
    print_checks(checks, as_json=args.json)
    return EXIT_OK if all(check.ok for check in checks) else EXIT_MISSING


def print_checks(checks: list[Check], *, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps({"ok": all(c.ok for c in checks), "checks": [c.as_json() for c in checks]})
        )
        return
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"      fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed}/{len(checks)} checks pass")
