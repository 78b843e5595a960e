"""`rung replies review|resolve` — the ops review queue of borrower replies.

Replies Rung did not understand, read with low confidence, or that carry legal weight
(attorney, bankruptcy, dispute, cease, deceased, complaint) wait here. A legal intent has
already taken effect (a stop never waits for a person); the reviewer confirms it, corrects
it (`--as INTENT`), or lifts a legal status (`--as lift --reason TEXT`). Every resolution is
logged with the reviewer's name. Addresses are masked in the listing.

Talks to the reviews, accounts, suppressions and audit tables: real AWS with boto3's default
credentials, or a local endpoint (`--endpoint-url`). Exit 0 ok, 2 refused or AWS unreachable.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.dynamo import (
    DynamoAccountStore,
    DynamoDecisionLog,
    DynamoReviewQueue,
    DynamoSuppressionStore,
)
from functions.core.errors import RungError
from functions.core.feedback import redact
from functions.core.masking import mask_address
from functions.core.models import ReviewItem
from functions.core.review import RESOLUTIONS, resolve
from functions.settings import Settings
from rung.commands.failure import CommandError

EXIT_OK, EXIT_REFUSED = 0, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replies",
        help="review borrower replies that need a person (ops queue)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("review", "resolve"))
    parser.add_argument("review_id", nargs="?", help="the item to resolve")
    parser.add_argument("--as", dest="resolved_as", choices=RESOLUTIONS, help="the decision")
    parser.add_argument("--by", default="", help="who decides (recorded)")
    parser.add_argument("--reason", default="", help="why (required to lift a legal status)")
    settings = Settings()
    parser.add_argument("--reviews-table", default=settings.reviews_table)
    parser.add_argument("--accounts-table", default=settings.accounts_table)
    parser.add_argument("--suppressions-table", default=settings.suppressions_table)
    parser.add_argument("--audit-table", default=settings.audit_table)
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="local endpoint, e.g. moto_server")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class _Ports:
    accounts: DynamoAccountStore
    suppressions: DynamoSuppressionStore
    reviews: DynamoReviewQueue
    decisions: DynamoDecisionLog


def _ports(args: argparse.Namespace) -> _Ports:
    client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
    retention = Settings().audit_retention_days
    return _Ports(
        accounts=DynamoAccountStore(args.accounts_table, client=client),
        suppressions=DynamoSuppressionStore(args.suppressions_table, client=client),
        reviews=DynamoReviewQueue(args.reviews_table, retention_days=retention, client=client),
        decisions=DynamoDecisionLog(args.audit_table, retention_days=retention, client=client),
    )


def shown(item: ReviewItem) -> dict[str, Any]:
    """An item as ops see it: the sender masked, phone numbers and emails in the text masked."""
    return {
        "review_id": item.review_id,
        "at": item.at.isoformat(),
        "channel": item.channel.value,
        "address_masked": mask_address(item.address),
        "intent": item.intent,
        "also": list(item.also),
        "why": item.why,
        "rule": item.rule,
        "rules_version": item.rules_version,
        "text": redact(item.text),
        "accounts": list(item.accounts),
        "state": item.state.value,
        "resolved_as": item.resolved_as,
        "resolved_by": item.resolved_by,
        "reason": item.reason,
    }


def run(args: argparse.Namespace) -> int:
    if args.action == "resolve" and not (args.review_id and args.resolved_as):
        raise CommandError("give the item and --as INTENT", exit_code=EXIT_REFUSED)
    try:
        ports = _ports(args)
        if args.action == "review":
            answer: Any = [shown(item) for item in ports.reviews.pending()]
        else:
            done = resolve(
                ports, args.review_id, args.resolved_as, args.by, args.reason, datetime.now(UTC)
            )
            answer = shown(done.item) | {"changed": list(done.changed)}
    except RungError as exc:
        raise CommandError(str(exc), exit_code=EXIT_REFUSED) from exc
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(str(exc), exit_code=EXIT_REFUSED) from exc
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
    elif args.action == "review":
        if not answer:
            print("no replies wait for review")
        for item in answer:
            print(
                f"{item['review_id']}  {item['at'][:16]}  {item['channel']} "
                f"{item['address_masked']}  {item['intent']} ({item['why']})  {item['text']}"
            )
    else:
        print(
            f"{answer['review_id']}: resolved as {answer['resolved_as']} by "
            f"{answer['resolved_by']}; changed: {', '.join(answer['changed']) or 'nothing'}"
        )
    return EXIT_OK
