"""The lender's payments file (docs/design.md, Payments file): `account_id, paid_at, amount`, read
as a stream.

Same reading rules as the lender file (encodings, aliases, row = physical line, blank lines
skipped and counted). Only what a row says by itself is judged here; whether the account
exists and the amount fits its currency is judged by intake against the stored account.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from functions.core.csv_stream import CsvText, Cursor, HeaderMap, map_header
from functions.core.lender_file import (
    AccountId,
    RowError,
    RowResult,
    parse_amount,
    parse_iso_date,
    row_errors,
)
from functions.core.lenders import LenderConfig

PAYMENT_COLUMNS = ("account_id", "paid_at", "amount")


class PaymentRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: AccountId
    paid_at: datetime  # UTC
    amount: Decimal

    @field_validator("paid_at", mode="before")
    @classmethod
    def _paid_at(cls, value: object) -> datetime:
        return parse_paid_at(str(value))

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: object) -> Decimal:
        return parse_amount(str(value), currency=None)


def parse_paid_at(text: str) -> datetime:
    """An ISO date (taken as 00:00 UTC) or an ISO date-time with an offset or `Z`.

    A date-time without an offset is refused: guessing the lender's zone could move a
    payment across midnight and so across a due date.
    """
    if len(text) == 10:
        return datetime.combine(parse_iso_date(text), time(0, 0), tzinfo=UTC)
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO date or date-time") from exc
    if instant.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: add Z or +08:00, or give a date only")
    return instant.astimezone(UTC)


class PaymentsFile:
    """A payments file being read: header mapped on open, then `results()` row by row."""

    def __init__(self, stream: BinaryIO, lender: LenderConfig, start: Cursor | None = None) -> None:
        self._text = CsvText(stream, start)
        self.header: HeaderMap = map_header(
            self._text.header, PAYMENT_COLUMNS, PAYMENT_COLUMNS, lender.header_aliases
        )
        self.blank_lines = 0

    @property
    def encoding(self) -> str:
        return self._text.encoding

    @property
    def cursor(self) -> Cursor:
        return self._text.cursor

    def results(self) -> Iterator[RowResult[PaymentRow]]:
        columns = self.header.columns
        for record in self._text.records():
            if not any(cell.strip() for cell in record.cells):
                self.blank_lines += 1
                continue
            raw = {n: record.cells[i].strip() for n, i in columns.items() if i < len(record.cells)}
            account_id = raw.get("account_id", "")
            if record.undecodable:
                error = RowError("", f"holds bytes that are not {self.encoding} text")
                yield RowResult(record.line, account_id, None, (error,))
                continue
            try:
                value = PaymentRow.model_validate({n: t for n, t in raw.items() if t})
            except ValidationError as exc:
                yield RowResult(record.line, account_id, None, tuple(row_errors(exc)))
                continue
            yield RowResult(record.line, value.account_id, value)
