"""The lender file (docs/design.md, Lender file): one pydantic model per row, read as a stream,
judged row by row.

Every data record ends as exactly one `RowResult`, accepted or rejected with (row, field,
reason): `rows = accepted + rejected`, nothing is dropped. Rows are numbered by the physical
line where they start, the header being line 1 — the number a spreadsheet shows beside the
row. Blank lines (no cell holds anything) are not rows: they are counted in
`FileReport.blank_lines` and skipped. A file that cannot be read at all raises FileRejected.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Annotated, Any, BinaryIO, Generic, TypeVar
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_precision, is_currency
from pydantic import (
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    UrlConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from functions.core.channels import CHANNELS
from functions.core.csv_stream import CsvText, Cursor, HeaderMap, map_header
from functions.core.email_addresses import normalized_email
from functions.core.errors import FileRejected
from functions.core.experiments import SEGMENT
from functions.core.lenders import LenderConfig
from functions.core.models import Account, AccountStatus, Channel, ContactPreference
from functions.core.phone_numbers import refuse_scientific_notation, to_e164
from functions.core.preferences import LENDER_FILE

REQUIRED_COLUMNS = ("account_id", "amount_due", "currency", "due_date")
# One address column per channel (functions.core.channels): at least one must be given.
CONTACT_COLUMNS = tuple(shape.address_field for shape in CHANNELS.values())
# Per contact column, the others: a row with none of them needs this one.
_OTHER_CONTACT_COLUMNS = {
    name: tuple(other for other in CONTACT_COLUMNS if other != name) for name in CONTACT_COLUMNS
}
OPTIONAL_COLUMNS = (
    "first_name",
    "locale",
    "country",
    "state",
    "postal_code",
    "timezone",
    "status",
    "payment_link",
    # Contact preferences the lender knows of (Reg F 1006.6(b)(1), 1006.14(h)); replaced by
    # each upload, and set aside where the borrower's own replies conflict with them.
    "contact_hours",
    "do_not_contact_channels",
    "preferred_channel",
    # The lender's own label for experiments to target (functions.core.experiments).
    "segment",
)
# Field order matters: validators read fields validated before them (country before phone,
# currency before amount_due, phone before email).
CONTRACT_COLUMNS = (
    "account_id",
    "country",
    "phone",
    "push_endpoint",
    "email",
    "currency",
    "amount_due",
    "due_date",
    *(name for name in OPTIONAL_COLUMNS if name != "country"),
)

AccountId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
_HTTPS: TypeAdapter[AnyUrl] = TypeAdapter(
    Annotated[AnyUrl, UrlConstraints(allowed_schemes=["https"], host_required=True)]
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SUBDIVISION = re.compile(r"^[A-Z0-9]{1,3}$")  # ISO 3166-2 suffix: WA, MA, 11 (Beijing)
_POSTAL = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,11}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-app/5e3e9847-3183-3f18-a7e8-671c3a57d4b3
# belongs to the platform application arn:aws:sns:us-east-1:123456789012:app/GCM/demo-app.
_PUSH_ENDPOINT = re.compile(
    r"^(?P<prefix>arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:)endpoint/"
    r"(?P<platform>[A-Z_]+)/(?P<name>[A-Za-z0-9_.-]{1,256})/[A-Za-z0-9-]{1,64}$"
)
_HOURS = re.compile(r"^(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})$")


class LenderRow(BaseModel):
    """One row of a lender file, validated. Context: `region`, `link_domains` (the lender's)."""

    # Cells arrive stripped, and empty cells absent (see `validate_row`): an optional field
    # left blank is None, a required one blank is "Field required".
    model_config = ConfigDict(frozen=True)

    account_id: AccountId
    country: str | None = None  # ISO 3166-1 alpha-2
    phone: str | None = None  # E.164 after validation
    push_endpoint: str | None = None  # SNS platform endpoint ARN of the borrower's app
    # Validated even when absent (and last of the contact columns): it is where "no contact
    # at all" is caught.
    email: str | None = Field(default=None, validate_default=True)
    currency: str
    amount_due: Decimal
    due_date: date
    first_name: str | None = None
    locale: str | None = None  # BCP 47
    state: str | None = None
    postal_code: str | None = None
    timezone: str | None = None  # IANA
    status: AccountStatus | None = None
    payment_link: str | None = None
    contact_hours: tuple[time, time] | None = None  # local [start, end), e.g. 18:00-20:00
    do_not_contact_channels: tuple[Channel, ...] = ()
    preferred_channel: Channel | None = None
    segment: str | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if code not in _regions():
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return code

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        # A national format ("(206) 555-0134") is read in the row's country, else in the
        # lender's default region; "+…" numbers carry their own country code.
        region = info.data.get("country") or _context(info)["region"]
        return to_e164(value, region)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            data = info.data
            others = _OTHER_CONTACT_COLUMNS[info.field_name or ""]
            if all(c in data and data[c] is None for c in others):
                raise ValueError(
                    f"{', '.join(CONTACT_COLUMNS)} are all empty: at least one is required"
                )
            return None
        return normalized_email(value)

    @field_validator("push_endpoint")
    @classmethod
    def _push_endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        match = _PUSH_ENDPOINT.match(value)
        if not match:
            raise ValueError(
                "not an SNS platform endpoint ARN "
                "(arn:aws:sns:REGION:ACCOUNT:endpoint/PLATFORM/APPLICATION/ID)"
            )
        applications: tuple[str, ...] = _context(info)["push_applications"]
        application = f"{match['prefix']}app/{match['platform']}/{match['name']}"
        if application not in applications:
            raise ValueError(
                "the endpoint belongs to no platform application in the lender's push_applications"
            )
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if not _is_currency(code):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @field_validator("amount_due", mode="before")
    @classmethod
    def _amount(cls, value: object, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")
        return parse_amount(str(value), currency)

    @field_validator("due_date", mode="before")
    @classmethod
    def _due_date(cls, value: object) -> date:
        return parse_iso_date(str(value))

    @field_validator("first_name")
    @classmethod
    def _first_name(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 100 or _CONTROL.search(value)):
            raise ValueError("must be at most 100 characters without control characters")
        return value

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        return None if value is None else bcp47(value)

    @field_validator("state")
    @classmethod
    def _state(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _SUBDIVISION.match(value.upper()):
            raise ValueError(f"{value!r} is not a subdivision code such as WA or MA")
        return value.upper()

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str | None) -> str | None:
        if value is not None and not _POSTAL.match(value.upper()):
            raise ValueError("must be 1-12 letters, digits, spaces or hyphens")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zones():
            raise ValueError(f"{value!r} is not an IANA time zone such as America/New_York")
        return value

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("payment_link")
    @classmethod
    def _payment_link(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        try:
            url = _HTTPS.validate_python(value)
        except ValidationError as exc:
            reason = exc.errors(include_url=False)[0]["msg"]
            raise ValueError(f"not an https:// link ({reason})") from exc
        domains: tuple[str, ...] = _context(info)["link_domains"]
        host = (url.host or "").lower()
        # Links go into messages sent in the lender's name: only the lender's own domains.
        if domains and not any(host == d or host.endswith(f".{d}") for d in domains):
            raise ValueError(f"host {host} is not one of the lender's allowed_link_domains")
        return str(url)

    @field_validator("contact_hours", mode="before")
    @classmethod
    def _contact_hours(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        found = _HOURS.match(value)
        if not found:
            raise ValueError(f"{value!r} is not local hours such as 18:00-20:00")
        try:
            start, end = (time.fromisoformat(part) for part in found.groups())
        except ValueError as exc:
            raise ValueError(f"{value!r} holds a time that does not exist ({exc})") from exc
        if not start < end:
            raise ValueError(f"{value!r}: the start must be before the end, within one day")
        return start, end

    @field_validator("do_not_contact_channels", mode="before")
    @classmethod
    def _do_not_contact(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        names = [name.strip().lower() for name in value.split(";") if name.strip()]
        return tuple(_channel(name) for name in dict.fromkeys(names))

    @field_validator("preferred_channel", mode="before")
    @classmethod
    def _preferred(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        channel = _channel(value.strip().lower())
        if channel in info.data.get("do_not_contact_channels", ()):
            raise ValueError(f"{channel.value} is also in do_not_contact_channels")
        return channel

    @field_validator("segment")
    @classmethod
    def _segment(cls, value: str | None) -> str | None:
        if value is not None and not SEGMENT.match(value):
            raise ValueError(
                f"{value!r} is not a segment label: up to 40 letters, digits, _ . - "
                "(a label of the lender's, e.g. pilot or early-stage)"
            )
        return value

    def contact_preferences(self, at: datetime) -> tuple[ContactPreference, ...]:
        """This row's preference columns as the gate reads them, received at `at`."""
        found: list[ContactPreference] = []
        if self.contact_hours is not None:
            start, end = self.contact_hours
            found.append(_from_file("contact_hours", at, not_before=start, not_after=end))
        for channel in self.do_not_contact_channels:
            found.append(_from_file("do_not_contact_channels", at, channel=channel, excluded=True))
        if self.preferred_channel is not None:
            found.append(
                _from_file("preferred_channel", at, channel=self.preferred_channel, preferred=True)
            )
        return tuple(found)

    def to_account(self, lender: LenderConfig) -> Account:
        """The stored account this row describes (cycle = due date; intake may keep an older)."""
        return Account(
            lender_id=lender.lender_id,
            account_id=self.account_id,
            phone=self.phone,
            email=self.email,
            push_endpoint=self.push_endpoint,
            amount_due=self.amount_due,
            currency=self.currency,
            due_date=self.due_date,
            first_name=self.first_name,
            locale=self.locale or lender.default_locale,
            country=self.country,
            state=self.state,
            postal_code=self.postal_code,
            timezone=self.timezone,
            status=self.status or AccountStatus.ACTIVE,
            payment_link=self.payment_link,
            cycle=self.due_date.isoformat(),
            segment=self.segment,
        )


def _channel(name: str) -> Channel:
    try:
        return Channel(name)
    except ValueError:
        known = ", ".join(sorted(channel.value for channel in Channel))
        raise ValueError(f"{name!r} is not a channel ({known})") from None


def _from_file(rule: str, at: datetime, **said: Any) -> ContactPreference:
    return ContactPreference(source=LENDER_FILE, rule=rule, at=at, **said)


@dataclass(frozen=True)
class RowError:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


RowValue = TypeVar("RowValue", bound=BaseModel)


@dataclass(frozen=True)
class RowResult(Generic[RowValue]):
    """One data row's verdict: `value` when accepted, else `errors` (field, reason) ≥ 1."""

    row: int
    account_id: str
    value: RowValue | None
    errors: tuple[RowError, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.errors

    def rejected_with(self, error: RowError) -> RowResult[RowValue]:
        return RowResult(self.row, self.account_id, None, (*self.errors, error))


@dataclass
class FileReport:
    """Counts for one file: `rows == accepted + rejected` after every `add`."""

    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    blank_lines: int = 0
    ignored_columns: tuple[str, ...] = ()
    file_error: str = ""
    encoding: str = ""

    def add(self, result: RowResult[Any]) -> None:
        self.rows += 1
        if result.accepted:
            self.accepted += 1
        else:
            self.rejected += 1

    def add_counts(self, accepted: int, rejected: int) -> None:
        self.rows += accepted + rejected
        self.accepted += accepted
        self.rejected += rejected


def duplicate_error(first_row: int) -> RowError:
    return RowError("account_id", f"duplicate account_id (first seen in row {first_row})")


class LenderFile:
    """A lender file being read: header mapped on open, then `results()` row by row."""

    def __init__(self, stream: BinaryIO, lender: LenderConfig, start: Cursor | None = None) -> None:
        self._text = CsvText(stream, start)
        self.lender = lender
        self.header: HeaderMap = map_header(
            self._text.header, CONTRACT_COLUMNS, REQUIRED_COLUMNS, lender.header_aliases
        )
        if not any(name in self.header.columns for name in CONTACT_COLUMNS):
            raise FileRejected(
                f"missing required column(s): {' or '.join(CONTACT_COLUMNS)} (at least one)"
            )
        self.width = len(self._text.header)
        self._rows = RowCells(self._text, self.header, self.width)
        self._context = lender_context(lender)

    @property
    def encoding(self) -> str:
        return self._text.encoding

    @property
    def encoding_settled(self) -> bool:
        return self._text.encoding_settled

    @property
    def blank_lines(self) -> int:
        return self._rows.blank_lines

    @property
    def cursor(self) -> Cursor:
        """Position after the last result returned: resume here with `LenderFile(..., start=)`."""
        return self._text.cursor

    def results(self) -> Iterator[RowResult[LenderRow]]:
        """Every data row's verdict, in file order."""
        context = self._context
        for item in self._rows():
            yield item if isinstance(item, RowResult) else validate_row(*item, context)


class RowCells:
    """The records of a CSV text as rows to judge: blank lines counted and skipped, each
    other record as (row, its non-empty stripped cells by contract column), or as a verdict
    already reached (undecodable bytes, more cells than the header)."""

    def __init__(self, text: CsvText, header: HeaderMap, width: int) -> None:
        self._text = text
        self._columns = tuple(header.columns.items())
        self._needed = 1 + max(i for _, i in self._columns)  # cells holding every column
        self._width = width
        self.blank_lines = 0

    def __call__(
        self, until: int | None = None
    ) -> Iterator[RowResult[LenderRow] | tuple[int, dict[str, str]]]:
        """Rows of the records that start before byte offset `until` (default: all)."""
        columns, needed, width = self._columns, self._needed, self._width
        for line, cells, undecodable in self._text.records(until):
            if not "".join(cells).strip():  # no cell holds anything but whitespace
                self.blank_lines += 1
                continue
            if len(cells) >= needed:
                raw = {name: text for name, i in columns if (text := cells[i].strip())}
            else:
                raw = {
                    name: text
                    for name, i in columns
                    if i < len(cells) and (text := cells[i].strip())
                }
            if undecodable:
                reason = f"holds bytes that are not {self._text.encoding} text"
                yield _rejected(line, raw, reason)
            elif len(cells) > width and any(cell.strip() for cell in cells[width:]):
                yield _rejected(line, raw, f"has {len(cells)} cells but the header has {width}")
            else:
                yield line, raw


def _rejected(line: int, raw: dict[str, str], reason: str) -> RowResult[LenderRow]:
    return RowResult(line, raw.get("account_id", ""), None, (RowError("", reason),))


def validate_row(row: int, raw: dict[str, str], context: dict[str, Any]) -> RowResult[LenderRow]:
    """Judge one row's non-empty stripped cells (contract column → text) in the lender's
    context (an empty cell is an absent one)."""
    try:
        value = LenderRow.model_validate(raw, context=context)
    except ValidationError as exc:
        return RowResult(row, raw.get("account_id", ""), None, tuple(row_errors(exc)))
    return RowResult(row, value.account_id, value)


def row_errors(exc: ValidationError) -> Iterator[RowError]:
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"])
        context = error.get("ctx") or {}
        reason = str(context["error"]) if error["type"] == "value_error" else error["msg"]
        yield RowError(name, reason)


# Accepted rows whose ids are checked for duplicates at once: one SQLite statement a batch
# instead of one a row (our choice; rows reach the caller at most this many rows late).
DUPLICATE_BATCH_ROWS = 1000


def validate_lender_file(
    stream: BinaryIO, lender: LenderConfig, report: FileReport
) -> Iterator[RowResult[LenderRow]]:
    """`rung validate`: every row's result, in file order; `report` is complete at the end.

    A file unreadable from the start raises FileRejected; one unreadable part-way stops
    there with `report.file_error` set (the rows before it keep their verdicts).
    Duplicates are judged among accepted rows (a rejected row claims no account id), with
    the ids in a temporary SQLite table so that memory stays flat in the file size.
    """
    lender_file = LenderFile(stream, lender)
    report.ignored_columns = lender_file.header.ignored
    report.encoding = lender_file.encoding
    held: list[RowResult[LenderRow]] = []
    accepted: list[tuple[int, str]] = []
    with SeenAccounts() as seen:
        try:
            for result in lender_file.results():
                held.append(result)
                if result.accepted:
                    accepted.append((result.row, result.account_id))
                    if len(accepted) >= DUPLICATE_BATCH_ROWS:
                        yield from _without_duplicates(held, accepted, seen, report)
                        held, accepted = [], []
        except FileRejected as exc:
            report.file_error = str(exc)
        yield from _without_duplicates(held, accepted, seen, report)
    report.blank_lines = lender_file.blank_lines
    report.encoding = lender_file.encoding


def _without_duplicates(
    held: list[RowResult[LenderRow]],
    accepted: list[tuple[int, str]],
    seen: SeenAccounts,
    report: FileReport,
) -> Iterator[RowResult[LenderRow]]:
    pairs = json.dumps(accepted, ensure_ascii=False)
    duplicates = seen.duplicates(pairs, len(accepted)) if accepted else {}
    for result in held:
        if result.row in duplicates:
            result = result.rejected_with(duplicate_error(duplicates[result.row][1]))
        report.add(result)
        yield result


class SeenAccounts:
    """Account id → first row, on disk (SQLite temp database: its page cache is bounded)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA cache_size=-8192")  # KiB
        # WITHOUT ROWID: one B-tree keyed by the id, not a table and an index beside it.
        self._db.execute(
            "CREATE TABLE seen (account_id TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID"
        )

    def duplicates(self, accepted: str, count: int) -> dict[int, tuple[str, int]]:
        """Remember the ids of `accepted` (JSON `[[row, account_id], …]` of `count` pairs, in
        row order) and return the rows whose id was seen before, in an earlier row of this
        batch or of an earlier one: row → (account id, the row that claimed it first).

        The ids go to SQLite as one JSON text: no Python object a row on this side. When
        every id was new (the common case), no second look is needed."""
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO seen (account_id, row) "
            "SELECT json_extract(value, '$[1]'), json_extract(value, '$[0]') "
            "FROM json_each(?) ORDER BY key",
            (accepted,),
        ).rowcount
        if inserted == count:
            return {}
        found = self._db.execute(
            "SELECT batch.row, batch.account_id, seen.row FROM "
            "(SELECT json_extract(value, '$[0]') AS row, json_extract(value, '$[1]') AS account_id "
            "FROM json_each(?)) AS batch "
            "JOIN seen ON seen.account_id = batch.account_id WHERE seen.row <> batch.row",
            (accepted,),
        )
        return {row: (account_id, first) for row, account_id, first in found}

    def __enter__(self) -> SeenAccounts:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()


@lru_cache(maxsize=4096)  # amounts repeat across rows (bounded: a file may hold a million)
def parse_amount(text: str, currency: str | None) -> Decimal:
    """A positive plain decimal (`1234.50`), no more places than the currency has (Babel)."""
    text = text.strip()
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a decimal number such as 1234.50") from exc
    refuse_scientific_notation(text)
    if not amount.is_finite() or "e" in text.lower():
        raise ValueError(f"{text!r} is not a decimal number such as 1234.50")
    if amount <= 0:
        raise ValueError("must be greater than 0")
    if currency is None:
        return amount
    digits = _currency_digits(currency)
    places = max(0, -int(amount.normalize().as_tuple().exponent))
    if places > digits:
        raise ValueError(f"has {places} decimal places; {currency} allows {digits}")
    return amount.quantize(Decimal(1).scaleb(-digits))


@lru_cache(maxsize=4096)  # due dates repeat across rows (bounded, as amounts are)
def parse_iso_date(text: str) -> date:
    if not _ISO_DATE.match(text):
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a calendar date ({exc})") from exc


@lru_cache(maxsize=1024)
def bcp47(tag: str) -> str:
    """Validate a BCP 47 tag with Babel and return it in canonical case (`zh-cn` → `zh-CN`)."""
    try:
        Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"{tag!r} is not a known BCP 47 locale such as en-US or zh-CN") from exc
    parts = tag.split("-")
    return "-".join(
        [parts[0].lower()]
        + [p.title() if len(p) == 4 else p.upper() if len(p) in (2, 3) else p for p in parts[1:]]
    )


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _regions() -> frozenset[str]:
    # Two-letter CLDR territories: the ISO 3166-1 alpha-2 codes (numeric ones are regions).
    return frozenset(code for code in map(str, Locale("en").territories) if len(code) == 2)


@lru_cache(maxsize=256)  # bounded: a hostile file may hold a million distinct bad codes
def _is_currency(code: str) -> bool:
    return is_currency(code)


@lru_cache(maxsize=256)
def _currency_digits(code: str) -> int:
    return int(get_currency_precision(code))


def _context(info: ValidationInfo) -> dict[str, Any]:
    if not isinstance(info.context, dict):
        raise TypeError("LenderRow needs a validation context (region, link_domains)")
    return info.context


def lender_context(lender: LenderConfig) -> dict[str, Any]:
    return {
        "region": lender.default_region,
        "link_domains": tuple(d.lower() for d in lender.allowed_link_domains),
        "push_applications": lender.push_applications,
    }
