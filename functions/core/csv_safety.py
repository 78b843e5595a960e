"""CSV cells written back to people (reject reports, simulator reports) are neutralised.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula
by Excel, LibreOffice and Google Sheets (OWASP "CSV Injection"). A lender's own file may carry
such a value in an account id or a name; echoing it into a report the lender opens would run
it. Full-width `＝ ＋ － ＠` are included because spreadsheet IMEs for Chinese and Japanese
turn them into their ASCII forms on entry. The neutralised form prefixes a single quote, which
spreadsheets display as text and never evaluate.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Protocol

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(cell: object) -> object:
    """A string cell that a spreadsheet would evaluate gets a leading `'`; other cells pass."""
    if isinstance(cell, str) and cell.startswith(FORMULA_TRIGGERS):
        return "'" + cell
    return cell


class _TextSink(Protocol):
    def write(self, text: str, /) -> int: ...


class SafeCsvWriter:
    """`csv.writer` whose every string cell is neutralised before it is written."""

    def __init__(self, sink: _TextSink) -> None:
        self._writer = csv.writer(sink, lineterminator="\r\n")

    def writerow(self, cells: Iterable[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in cells])
