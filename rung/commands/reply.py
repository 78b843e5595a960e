"""`rung reply TEXT` — how Rung reads a borrower's reply (docs/compliance.md, Opt-out and consent).

JSON (docs/design.md, Command line):
{"intent": "opt_out|opt_in|help|payment_claim|other", "scope": …, "also": […]}.
`scope` is "address", "channel" or "all" for an opt-out (null otherwise); with "channel",
`channel` names the medium ("sms" / "email"). `also` lists what the message said besides its
intent: "payment_claim" under an opt-out, "wrong_number".
"""

from __future__ import annotations

import argparse
import json
import sys

from functions.core.errors import ConfigError
from functions.core.replies import load_reply_rules, read_reply
from functions.settings import Settings

EXIT_OK = 0
EXIT_CONFIG = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reply",
        help="show how a borrower reply is read (opt-out, opt-in, help, payment claim, other)",
        description="Read one borrower reply (SMS or email text, any language Rung knows) "
        "with the rules of config/replies.yaml.",
    )
    parser.add_argument("text", help="the reply, e.g. 'STOP I already paid' or '不要再发了'")
    parser.add_argument(
        "--opted-out",
        action="store_true",
        help="the sender is already opted out (then YES means opt in again)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        rules = load_reply_rules(Settings().config_root)
    except ConfigError as exc:
        print(f"rung reply: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    reading = read_reply(args.text, rules, opted_out=args.opted_out)
    answer = {
        "intent": reading.intent.value,
        "scope": reading.scope.value if reading.scope else None,
        "channel": reading.channel.value if reading.channel else None,
        "also": list(reading.also),
    }
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
        return EXIT_OK
    line = f"intent: {answer['intent']}"
    if answer["scope"]:
        line += f"  scope: {answer['scope']}"
        if answer["channel"]:
            line += f" ({answer['channel']})"
    if answer["also"]:
        line += f"  also: {', '.join(answer['also'])}"
    print(line)
    print(f"rule:   {reading.matched or 'none matched'}  (rules {rules.version})")
    return EXIT_OK
