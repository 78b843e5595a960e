"""Option parsers and checks shared by the commands (instants, days, counts, input files)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rung.commands.failure import CommandError

MAX_DAYS = 366


def instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (e.g. {text}Z): {text!r}")
    return value.astimezone(UTC)


def days(text: str) -> int:
    try:
        count = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from exc
    if not 1 <= count <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"--days must be 1–{MAX_DAYS}, not {count}")
    return count


def positive(text: str) -> int:
    """A whole number of at least 1 (`--workers`)."""
    try:
        count = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {count}")
    return count


def existing_file(path: Path) -> Path:
    """An input file the user named: missing or a folder is said in words, not `[Errno 2]`."""
    if path.is_dir():
        raise CommandError(f"{path} is a folder: name a CSV file")
    if not path.exists():
        raise CommandError(f"{path}: no such file (check the name and the folder you run in)")
    return path
