"""`rung` — the local tool. One module per command under `rung.commands`, each with `register`.

Conventions every command keeps (docs/design.md, Command line): errors are one line on stderr
(one JSON object on stdout with `--json`), never a traceback; exit 2 for bad input; output
piped into a reader that stops early (`| head`) ends quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import NoReturn

from rung.commands import (
    channels,
    console,
    erase,
    kpis,
    ladders,
    lenders,
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
from rung.commands import experiments as experiments_command
from rung.commands.failure import CommandError

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
    kpis,
    experiments_command,
    console,
    lenders,
    erase,
)
# What a shell reports for a process its reader closed the pipe on (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


class RungParser(argparse.ArgumentParser):
    """An argument parser whose errors reach `main` (so `--json` can answer them in JSON)."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(message, command=self.prog, usage=self.format_usage())


def build_parser() -> argparse.ArgumentParser:
    parser = RungParser(
        prog="rung",
        description="Lawful, humane overdue-payment reminders: validate, simulate, inspect.",
    )
    parser.add_argument("--version", action="version", version=f"rung {version('rung')}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments
    command = "rung"
    try:
        args = build_parser().parse_args(arguments)
        command = " ".join(["rung", args.command, *_action(args)])
        return int(args.handler(args))
    except CommandError as error:
        error.command = error.command or command
        error.write(as_json=as_json, stdout=sys.stdout, stderr=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        return _reader_went_away()


def _action(args: argparse.Namespace) -> list[str]:
    """The second word of a two-word command (`templates push`), if any."""
    return [value for name, value in vars(args).items() if name.endswith("_command") and value]


def _reader_went_away() -> int:
    """The reader of stdout closed it (`rung validate big.csv | head`): stop without a word.
    Python would otherwise fail again flushing stdout at exit, so stdout goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
