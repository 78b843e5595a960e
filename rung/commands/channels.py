"""`rung channels status|pause|resume` — hold or release a whole channel for every borrower.

The SES reputation alarms pause email by themselves (docs/compliance.md, Email reputation); only a
person resumes it, after finding why bounces or complaints rose. While a channel is paused its rungs
are deferred (never dropped) and looked at again every `RUNG_CHANNEL_PAUSE_RECHECK_HOURS`.
Talks to the suppressions table: real AWS with boto3's default credentials, or a local
endpoint (`--endpoint-url`, with `--create-table` to create the table there if it is missing).
Errors name the table. Exit 0 ok, 2 unusable input or AWS unreachable.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.dynamo import DynamoChannelSwitch
from functions.core.models import Channel, ChannelPause
from functions.settings import Settings
from rung.commands.failure import CommandError
from rung.commands.local_table import (
    create_local_table,
    missing_table_hint,
    require_local_endpoint,
)

EXIT_OK = 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "channels",
        help="pause or resume a whole channel (sms, email, push) for every borrower",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("status", "pause", "resume"))
    parser.add_argument(
        "channel",
        nargs="?",
        choices=[c.value for c in Channel],
        help="the channel (status: all channels when omitted)",
    )
    parser.add_argument("--by", help="who pauses (recorded with the pause)")
    parser.add_argument("--reason", default="paused by hand", help="why (pause)")
    parser.add_argument(
        "--table",
        default=Settings().suppressions_table,
        help="suppressions table (default: $RUNG_SUPPRESSIONS_TABLE)",
    )
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--endpoint-url", help="local endpoint, e.g. moto_server")
    parser.add_argument(
        "--create-table",
        action="store_true",
        help="create the table first if it is missing (only with --endpoint-url)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action != "status" and not args.channel:
        raise CommandError(f"{args.action} needs the channel (email or sms)")
    if args.action == "pause" and not args.by:
        raise CommandError("say who pauses it (--by NAME)")
    if args.create_table:
        require_local_endpoint(args.table, args.endpoint_url)
    channels = [Channel(args.channel)] if args.channel else list(Channel)
    try:
        client = boto3.client("dynamodb", region_name=args.region, endpoint_url=args.endpoint_url)
        if args.create_table:
            create_local_table(client, args.table)
        switch = DynamoChannelSwitch(args.table, client=client)
        if args.action == "pause":
            switch.pause(
                ChannelPause(
                    channel=channels[0], reason=args.reason, at=datetime.now(UTC), by=args.by
                )
            )
        elif args.action == "resume":
            switch.resume(channels[0])
        states = {channel: switch.paused(channel) for channel in channels}
    except (ClientError, BotoCoreError) as exc:
        raise CommandError(
            missing_table_hint(exc, args.table, endpoint_url=args.endpoint_url)
        ) from exc
    if args.json:
        print(
            json.dumps(
                {
                    channel.value: (pause.model_dump(mode="json") if pause else None)
                    for channel, pause in states.items()
                }
            )
        )
    else:
        for channel, pause in states.items():
            state = (
                f"PAUSED since {pause.at:%Y-%m-%d %H:%M}Z by {pause.by}: {pause.reason}"
                if pause
                else "open"
            )
            print(f"{channel.value}: {state}")
    return EXIT_OK
