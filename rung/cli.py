"""`rung` — the local tool. One module per command under `rung.commands`, each with `register`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rung.commands import (
    channels,
    ladders,
    pgp_key,
    plan,
    preflight,
    replies,
    reply,
    simulate,
    smoke,
    templates,
    validate,
    when,
)

COMMANDS = (
    validate,
    plan,
    simulate,
    reply,
    replies,
    when,
    templates,
    channels,
    ladders,
    pgp_key,
    preflight,
    smoke,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rung",
        description="Lawful, humane overdue-payment reminders: validate, simulate, inspect.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
