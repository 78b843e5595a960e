"""Streaming CSV text for lender files: encoding detection, byte positions, header mapping.

Lender files (docs/design.md, Lender file) are UTF-8 (with or without BOM) or GB18030/GBK — what
Excel writes on a Chinese Windows desktop — with LF or CRLF line ends. The file is never read whole:
bytes are split into physical lines (a `\\n` or `\\r` byte never occurs inside a UTF-8 or
GB18030 multi-byte character, so splitting before decoding is safe), each line is decoded,
and `csv.reader` pulls lines one at a time. Because the reader never reads ahead of the
record it returns, the byte offset after each record is exact: a `Cursor` there lets a later
Lambda invocation resume the same file where this one stopped.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from pydantic import BaseModel, ConfigDict

from functions.core.errors import FileRejected

CHUNK_BYTES = 64 * 1024
# A physical line longer than this is not a lender CSV (a binary file with no newline, or
# a file with bare CR line ends mangled by an editor); refusing it keeps memory bounded.
MAX_LINE_BYTES = 1024 * 1024

UTF8 = "utf-8"
GB18030 = "gb18030"  # a superset of GBK and GB2312: one codec reads all three
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class Cursor(BaseModel):
    """Where the next unread record of a file starts (after a fully processed record)."""

    model_config = ConfigDict(frozen=True)

    byte_offset: int
    lines: int  # physical lines consumed so far, the header included
    encoding: str


class Record(NamedTuple):  # a tuple: a million are made per file, and tuples are cheap
    line: int  # 1-based physical line where the record starts (the header is line 1)
    cells: list[str]
    undecodable: bool  # some byte of the record is not text in the file's encoding


@dataclass(frozen=True)
class HeaderMap:
    """Contract column → cell index, and the lender's columns that the contract does not know."""

    columns: Mapping[str, int]
    ignored: tuple[str, ...]


@dataclass(frozen=True)
class Span:
    """Part of a file for one reader: the records that start in [start, end)."""

    start: Cursor  # a record boundary, with the physical lines before it
    end: int | None  # where the next span starts (probably a record boundary); None: the end
    settled: bool  # False: every line so far was ASCII, `start.encoding` still a guess


# Our choice: about 11,000 rows of a typical lender file (92 bytes a row), so that a span's
# verdicts are a small message and the duplicate check runs in batches of that size.
SPAN_BYTES = 1024 * 1024
# A span that finds no boundary within this many bytes (a quote never closed, a line with no
# end) takes the rest of the file: its reader then meets the problem exactly as one reader
# would, and memory stays bounded.
_SPAN_SEARCH_BYTES = 16 * SPAN_BYTES
_LINE_END = re.compile(rb"\r\n?|\n")  # what bytes.splitlines() splits on
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def record_spans(
    stream: BinaryIO, start: Cursor, settled: bool, size: int = SPAN_BYTES
) -> Iterator[Span]:
    """The rest of a seekable file after `start` (a record boundary) cut into spans of about
    `size` bytes for readers working in parallel, reading bytes only (no decoding, no CSV).

    A span ends after a physical line with an even number of `"` before it in the span: a
    line end inside a quoted cell follows an odd number. The `"`, `\\r` and `\\n` bytes never
    occur inside a UTF-8 or GB18030 multi-byte character, so counting bytes is exact. Only a
    quote in the middle of an unquoted cell (`5'10"`, which the CSV reader keeps as text) can
    mislead the count: the reader of a span then ends its last record past the span's end,
    and the caller cuts again from where that reader stopped (`CsvText.cursor`).

    While every line so far was ASCII, the encoding is settled here as `CsvText` settles it:
    by the first line that is not, read as UTF-8 or else GB18030. Line numbers count
    physical lines as `CsvText` does (`\\n`, `\\r\\n`, `\\r`).
    """
    stream.seek(start.byte_offset)
    offset, lines, encoding = start.byte_offset, start.lines, start.encoding
    pending = bytearray()
    end_of_file = False
    while True:
        cut = _cut(pending, size)
        while cut is None and not end_of_file and len(pending) < size + _SPAN_SEARCH_BYTES:
            block = stream.read(max(size, CHUNK_BYTES))
            end_of_file = not block
            pending += block
            cut = _cut(pending, size)
        if cut is None:  # the rest of the file
            if pending:
                if not settled and not pending.isascii():
                    encoding, settled = _settle(pending, len(pending)), True
                yield Span(
                    Cursor(byte_offset=offset, lines=lines, encoding=encoding), None, settled
                )
            return
        if not settled and not pending[:cut].isascii():
            encoding, settled = _settle(pending, cut), True
        yield Span(
            Cursor(byte_offset=offset, lines=lines, encoding=encoding), offset + cut, settled
        )
        returns = pending.count(b"\r", 0, cut)
        lines += pending.count(b"\n", 0, cut) + returns
        lines -= pending.count(b"\r\n", 0, cut) if returns else 0
        offset += cut
        del pending[:cut]


def _cut(pending: bytearray, size: int) -> int | None:
    """Where a span of `pending` ends: after the first line end at or past `size` with an
    even number of quotes before it; None when `pending` holds none yet."""
    if len(pending) < size:
        return None
    quotes = pending.count(b'"', 0, size)
    search = size
    while (found := _LINE_END.search(pending, search)) is not None:
        end = found.end()
        if end == len(pending) and found[0] == b"\r":
            return None  # the \n of a CRLF may follow in the next block
        quotes += pending.count(b'"', search, end)
        if quotes % 2 == 0:
            return end
        search = end
    return None


def _settle(pending: bytearray, cut: int) -> str:
    """The encoding `CsvText` settles on at the first non-ASCII line of `pending[:cut]`."""
    found = _NON_ASCII.search(pending, 0, cut)
    assert found is not None
    first = max(pending.rfind(b"\n", 0, found.start()), pending.rfind(b"\r", 0, found.start()))
    line_end = _LINE_END.search(pending, found.start(), cut)
    line = bytes(pending[first + 1 : line_end.end() if line_end else cut])
    try:
        line.decode(UTF8)
    except UnicodeDecodeError:
        return GB18030
    return UTF8


# Separators a spreadsheet may save instead of a comma (Excel in much of Europe uses `;`).
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _hint(cells: list[str]) -> str:
    """When the header reads as one column holding another separator, say so."""
    named = [cell for cell in cells if cell.strip()]
    for separator, name in OTHER_SEPARATORS.items():
        if len(named) == 1 and separator in named[0]:
            return (
                f" (the header is one column separated by {name}: save the file as "
                "comma-separated CSV)"
            )
    return ""


def map_header(
    cells: list[str],
    contract: Iterable[str],
    required: Iterable[str],
    aliases: Mapping[str, str],
) -> HeaderMap:
    """Contract names match case-insensitively; lender aliases (e.g. 手机号 → phone) exactly.

    A missing required column or two columns naming the same field reject the whole file:
    guessing which of two `phone` columns is meant would silently drop the other.
    """
    known = {name.lower(): name for name in contract}
    alias_map = {alias.strip().casefold(): target for alias, target in aliases.items()}
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, raw in enumerate(cells):
        name = raw.strip()
        if not name:
            continue  # an unnamed trailing column (Excel's stray commas) carries no field
        target = known.get(name.lower()) or alias_map.get(name.casefold())
        if target is None or target not in known.values():
            ignored.append(name)
            continue
        if target in columns:
            first = cells[columns[target]].strip()
            raise FileRejected(f"columns {first!r} and {name!r} both give {target}")
        columns[target] = index
    missing = [name for name in required if name not in columns]
    if missing:
        raise FileRejected(f"missing required column(s): {', '.join(missing)}{_hint(cells)}")
    return HeaderMap(columns=columns, ignored=tuple(ignored))


class CsvText:
    """One lender CSV as a stream of records after its header row.

    `start` resumes after a record returned by an earlier reader of the same object; the
    header is read again from the top (it fixes the column mapping) and the bytes up to
    `start.byte_offset` are skipped without being parsed.
    """

    def __init__(self, stream: BinaryIO, start: Cursor | None = None) -> None:
        self._stream = stream
        first = stream.read(CHUNK_BYTES)
        self.encoding, self._ascii_so_far, bom = _sniff(first, final=len(first) < CHUNK_BYTES)
        self._offset = len(bom)
        self._lines = 0
        self._bad_lines: list[int] = []
        self._raw = self._physical_lines(first[len(bom) :])
        self._lines_read = self._decoded()
        self._reader = csv.reader(self._lines_read, strict=False)
        header = self._next_record()
        if header is None:
            raise FileRejected("the file has no header row")
        if header.undecodable:
            raise FileRejected(f"the header row is not {self.encoding} text")
        self.header = header.cells
        if start is not None and start.byte_offset > self._offset:
            self._skip_to(start)

    @classmethod
    def span(cls, stream: BinaryIO, span: Span) -> CsvText:
        """The records of a seekable `stream` from `span.start`, a record boundary that
        whoever read the header found (`record_spans`); the header is not read again."""
        text = cls.__new__(cls)
        start = span.start
        stream.seek(start.byte_offset)
        text._stream = stream
        text.encoding = start.encoding
        text._ascii_so_far = not span.settled
        text._offset = start.byte_offset
        text._lines = start.lines
        text._bad_lines = []
        text._raw = text._physical_lines(stream.read(CHUNK_BYTES))
        text._lines_read = text._decoded()
        text._reader = csv.reader(text._lines_read, strict=False)
        text.header = []
        return text

    def close(self) -> None:
        """Let go of the buffers now: the line generators refer to this object, a cycle that
        only a full garbage collection would otherwise free (a reader per span adds up)."""
        self._lines_read.close()
        self._raw.close()

    @property
    def cursor(self) -> Cursor:
        return Cursor(byte_offset=self._offset, lines=self._lines, encoding=self.encoding)

    @property
    def encoding_settled(self) -> bool:
        """False while every line read was ASCII and the encoding a guess (UTF-8)."""
        return not self._ascii_so_far

    def records(self, until: int | None = None) -> Iterator[Record]:
        """Every record left, or those that start before byte offset `until`."""
        while (until is None or self._offset < until) and (
            record := self._next_record()
        ) is not None:
            yield record

    def _next_record(self) -> Record | None:
        first_line = self._lines + 1
        self._bad_lines.clear()
        try:
            cells = next(self._reader, None)
        except csv.Error as exc:
            raise FileRejected(f"line {first_line}: not readable as CSV ({exc})") from exc
        if cells is None:
            return None
        return Record(first_line, cells, bool(self._bad_lines))

    def _skip_to(self, start: Cursor) -> None:
        self.encoding = start.encoding
        self._ascii_so_far = False  # the encoding in force at the cursor is final
        for line in self._raw:
            self._offset += len(line)
            self._lines += 1
            if self._offset >= start.byte_offset:
                break
        if self._offset != start.byte_offset:
            raise FileRejected("the file changed since it was started: resume point is gone")
        self._lines = start.lines

    def _decoded(self) -> Generator[str]:
        for line in self._raw:
            self._offset += len(line)
            self._lines += 1
            if self._ascii_so_far:
                yield self._decode(line)
                continue
            try:  # the common case inline: a line in the settled encoding
                text = line.decode(self.encoding)
            except UnicodeDecodeError:
                text = self._decode(line)
            yield text

    def _decode(self, line: bytes) -> str:
        try:
            return line.decode(self.encoding)
        except UnicodeDecodeError:
            if self._ascii_so_far:
                # Everything before was ASCII, which GB18030 reads identically: the sniffed
                # chunk just held no Chinese yet. Switch for the rest of the file.
                self._ascii_so_far = False
                self.encoding = GB18030
                return self._decode(line)
            self._bad_lines.append(self._lines)
            return line.decode(self.encoding, errors="replace")
        finally:
            if self._ascii_so_far and not line.isascii():
                self._ascii_so_far = False

    def _physical_lines(self, first: bytes) -> Generator[bytes]:
        pending = b""
        chunk = first
        while chunk:
            lines = (pending + chunk).splitlines(keepends=True)
            # The last piece is complete only if it ends in \n; a trailing \r may be the
            # first half of a CRLF whose \n opens the next chunk.
            pending = b"" if lines[-1].endswith(b"\n") else lines.pop()
            if len(pending) > MAX_LINE_BYTES:
                raise FileRejected(
                    f"line {self._lines + len(lines) + 1} is longer than {MAX_LINE_BYTES} bytes:"
                    " not a CSV text file"
                )
            yield from lines
            chunk = self._stream.read(CHUNK_BYTES)
        if pending:
            yield pending


def _sniff(first: bytes, final: bool) -> tuple[str, bool, bytes]:
    """(encoding, ascii-only so far, BOM to skip) from the first chunk; FileRejected if neither."""
    if not first:
        raise FileRejected("the file is empty")
    if first.startswith(_UTF16_BOMS):
        raise FileRejected("the file is UTF-16 text: save it as CSV UTF-8 (or GBK) instead")
    if b"\x00" in first:
        raise FileRejected("the file holds binary data (NUL bytes), not CSV text")
    if first.startswith(_UTF8_BOM):
        return UTF8, False, _UTF8_BOM
    if first.isascii():
        return UTF8, True, b""
    for encoding in (UTF8, GB18030):
        try:
            codecs.getincrementaldecoder(encoding)(errors="strict").decode(first, final=final)
        except UnicodeDecodeError:
            continue
        return encoding, False, b""
    raise FileRejected("the file is neither UTF-8 nor GB18030/GBK text")
