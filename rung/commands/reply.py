"""`rung reply TEXT` — how Rung reads a borrower's reply (docs/compliance.md, Opt-out and consent).

JSON: {"intent", "scope", "channel", "also", "rule", "rules_version", "normalised",
"confidence", "promised_on", "preference"}. `intent` is one of opt_out, opt_in, help,
payment_claim, attorney, bankruptcy, dispute, cease, deceased, complaint, promise_to_pay,
contact_preference, other. `scope` is "address", "channel" or "all" for an opt-out (null
otherwise); with "channel", `channel` names the medium ("sms" / "email"). `also` lists the
further intents of a compound reply ("Ya pagué, no me manden más mensajes" ⇒ opt_out, also
payment_claim) and "wrong_number". `rule`, `rules_version` and `normalised` say why.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime

from functions.core.errors import ConfigError
from functions.core.replies import load_reply_rules, read_reply
from functions.settings import Settings
from rung.commands.failure import CommandError

EXIT_OK = 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reply",
        help="show how a borrower reply is read (intent, further intents, the rule that decided)",
        description="Read one borrower reply (SMS or email text, any language Rung knows) "
        "with the rules of config/replies.yaml.",
    )
    parser.add_argument("text", help="the reply, e.g. 'STOP I already paid' or '不要再发了'")
    parser.add_argument(
        "--opted-out",
        action="store_true",
        help="the sender is already opted out (then YES means opt in again)",
    )
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="the borrower's local date, to read a promised day (default: today in UTC)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        rules = load_reply_rules(Settings().config_root)
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    now = datetime.now(UTC)
    reading = read_reply(
        args.text, rules, opted_out=args.opted_out, today=args.today or now.date(), at=now
    )
    answer = {
        "intent": reading.intent.value,
        "scope": reading.scope.value if reading.scope else None,
        "channel": reading.channel.value if reading.channel else None,
        "also": list(reading.also),
        "rule": reading.matched,
        "rules_version": reading.rules_version,
        "normalised": reading.normalised,
        "confidence": reading.confidence.value,
        "promised_on": reading.promised_on.isoformat() if reading.promised_on else None,
        "preference": reading.preference.model_dump(
            mode="json", exclude={"at", "source", "rule"}, exclude_defaults=True
        )
        if reading.preference
        else None,
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
    print(f"read:   {reading.normalised!r}  confidence {reading.confidence.value}")
    if reading.promised_on:
        print(f"promised on {reading.promised_on.isoformat()}")
    if answer["preference"]:
        print(f"preference: {answer['preference']}")
    return EXIT_OK
