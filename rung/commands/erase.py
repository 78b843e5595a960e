"""`rung erase --account ID --lender L | --address A --by NAME` — erase a borrower's data.

Deletes what no retention duty keeps (the account, raw-address suppressions, lender files that
name the borrower), replaces the raw address with a keyed pseudonym in what a duty keeps
(ledger attempts, inbound decisions, reviews, reject reports), leaves a hashed suppression so
the address is never contacted again, and records the erasure in the audit (who, when, what;
pseudonymous). README, Records and erasure, says what stays and why.

This is the ops action on AWS: run it with credentials for the deployed stack (`--stack NAME`
reads the tables, bucket and signing-key secret from the stack's outputs). Without `--stack`
it uses the RUNG_* environment (the local world's resources, or a local endpoint with
`--endpoint-url`). Exit 0 erased, 2 bad input (nobody to erase) or AWS unreachable.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.adapters.dynamo import DynamoAccountStore
from functions.adapters.erasable import (
    DynamoBorrowerRecords,
    DynamoErasedAddresses,
    ErasableTables,
)
from functions.adapters.lender_store import S3LenderSource
from functions.core.erasure import (
    ErasureRefused,
    address_channel,
    erase_borrower,
    find_borrower,
)
from functions.core.lenders import LENDER_ID, ShippedLenders
from functions.core.retention import load_retention
from functions.settings import PROJECT_ROOT, Settings
from rung.commands.failure import CommandError
from rung.commands.preflight import UsageError, boto3_clients
from rung.preflight import AWS_ERRORS

EXIT_OK, EXIT_REFUSED = 0, 2

# Stack outputs (infra/stack.py) naming what an erasure touches.
OUTPUTS = {
    "accounts": "AccountsTableName",
    "suppressions": "SuppressionsTableName",
    "ledger": "LedgerTableName",
    "audit": "AuditTableName",
    "reviews": "ReviewsTableName",
    "bucket": "UploadsBucketName",
    "secret": "UnsubscribeSecretArn",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "erase",
        help="erase a borrower's personal data (keeps a hashed suppression)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--account", help="the lender's account id (with --lender)")
    who.add_argument("--address", help="a phone number (E.164) or email address")
    parser.add_argument("--lender", help="the lender id of --account")
    parser.add_argument("--by", required=True, help="who erases (recorded in the audit)")
    parser.add_argument("--stack", help="the deployed CloudFormation stack to erase in")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="a local endpoint for every service (moto_server)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Target:
    """Where one deployment keeps a borrower's data."""

    tables: ErasableTables
    bucket: str
    secret_arn: str


def _local_target() -> Target:
    settings = Settings()
    return Target(
        tables=ErasableTables(
            accounts=settings.accounts_table,
            suppressions=settings.suppressions_table,
            ledger=settings.ledger_table,
            audit=settings.audit_table,
            reviews=settings.reviews_table,
        ),
        bucket=settings.uploads_bucket,
        secret_arn=settings.unsubscribe_secret_arn,
    )


def _served_lenders(target: Target, s3: Any) -> list[str]:
    """Every lender the deployment serves: pushed to its bucket, else shipped with the code."""
    shipped = ShippedLenders(Settings().config_root)
    if not target.bucket:
        return shipped.ids()
    return S3LenderSource(target.bucket, shipped, client=s3).ids()


def _stack_target(cloudformation: Any, stack: str) -> Target:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = sorted(name for name in OUTPUTS.values() if name not in outputs)
    if missing:
        raise CommandError(
            f"stack {stack} has no output {', '.join(missing)}: deploy this version of Rung",
            exit_code=EXIT_REFUSED,
        )
    named = {part: outputs[name] for part, name in OUTPUTS.items()}
    return Target(
        tables=ErasableTables(
            accounts=named["accounts"],
            suppressions=named["suppressions"],
            ledger=named["ledger"],
            audit=named["audit"],
            reviews=named["reviews"],
        ),
        bucket=named["bucket"],
        secret_arn=named["secret"],
    )


@dataclass(frozen=True)
class _Ports:
    accounts: DynamoAccountStore
    erased: DynamoErasedAddresses
    records: DynamoBorrowerRecords


def run(args: argparse.Namespace) -> int:
    if args.account is not None and not (args.lender and LENDER_ID.match(args.lender)):
        raise CommandError(
            "--account needs --lender ID (lower-case letters, digits and hyphens)",
            exit_code=EXIT_REFUSED,
        )
    if args.account is None and args.lender:
        raise CommandError("--lender goes with --account", exit_code=EXIT_REFUSED)
    if not args.by.strip():
        raise CommandError("--by NAME: the audit records who erased", exit_code=EXIT_REFUSED)
    try:
        if args.address is not None:
            address_channel(args.address)  # bad input is said before any AWS call
    except ErasureRefused as exc:
        raise CommandError(str(exc), exit_code=EXIT_REFUSED) from exc

    try:
        client = boto3_clients(args.region, args.endpoint_url)
        target = _stack_target(client("cloudformation"), args.stack) if args.stack else None
        target = target or _local_target()
        if not target.secret_arn:
            raise CommandError(
                "no signing-key secret: pass --stack, or set RUNG_UNSUBSCRIBE_SECRET_ARN",
                exit_code=EXIT_REFUSED,
            )
        secret = client("secretsmanager").get_secret_value(SecretId=target.secret_arn)
        key = secret["SecretString"].encode("utf-8")
        dynamodb = client("dynamodb")
        ports = _Ports(
            accounts=DynamoAccountStore(target.tables.accounts, client=dynamodb),
            erased=DynamoErasedAddresses(target.tables.suppressions, client=dynamodb),
            records=DynamoBorrowerRecords(
                target.tables,
                bucket=target.bucket,
                records_retention_days=load_retention(PROJECT_ROOT).records_days,
                dynamodb=dynamodb,
                s3=client("s3"),
            ),
        )
        borrower = find_borrower(
            ports.accounts,
            account=(args.lender, args.account) if args.account is not None else None,
            address=args.address,
        )
        record = erase_borrower(
            ports,
            borrower,
            key=key,
            at=datetime.now(UTC),
            by=args.by,
            lender_ids=_served_lenders(target, client("s3")),
        )
    except (ErasureRefused, UsageError) as exc:
        raise CommandError(str(exc), exit_code=EXIT_REFUSED) from exc
    except AWS_ERRORS as exc:
        raise CommandError(f"AWS refused or is unreachable: {exc}", exit_code=EXIT_REFUSED) from exc
    answer = record.model_dump(mode="json")
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
    else:
        print(
            f"erased {len(record.accounts)} account(s), {len(record.addresses)} address(es) "
            f"(erasure {record.erasure_id}, by {record.by})"
        )
        for kind, count in {**record.removed, **record.pseudonymised}.items():
            how = "deleted" if kind in record.removed else "pseudonymised"
            print(f"  {kind}: {count} {how}")
        print("  the addresses stay suppressed by their keyed hash")
    return EXIT_OK
