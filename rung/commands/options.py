"""Option parsers shared by the commands that take a start instant and a number of days."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

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
