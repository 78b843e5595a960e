"""`rung validate --workers N` judges every row as one process does.

Each file is validated twice: by `validate_lender_file` (one process, every row) and by
`validate_in_parallel` with spans of a few hundred bytes, so that nearly every record
boundary, quoted line end, encoding switch and duplicate falls near a cut. The rejected
rows (row, account id, errors, in order) and the report must be the same.
"""

from __future__ import annotations

import gc
import io
import threading
import warnings
import weakref
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from bench.ingest import lines
from functions.core import parallel_validation
from functions.core.csv_stream import CsvText, Cursor, Span, record_spans
from functions.core.lender_file import FileReport, LenderFile, lender_context, validate_lender_file
from functions.core.lenders import load_lender
from functions.core.parallel_validation import validate_in_parallel, validate_span
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")
HEADER = "account_id,first_name,phone,email,amount_due,currency,due_date,country"


def _rows(count: int, start: int = 0) -> str:
    return "".join(
        f"A{i % 170},Jane,+1206555{i:04d},,{'x' if i % 37 == 0 else '10'},USD,2026-11-25,US\n"
        for i in range(start, start + count)
    )


def _both(path: Path, span_bytes: int = 300) -> tuple[list[tuple[object, ...]], FileReport]:
    one = FileReport()
    with path.open("rb") as stream:
        sequential = [
            (r.row, r.account_id, r.errors)
            for r in validate_lender_file(stream, DEMO, one)
            if not r.accepted
        ]
    two = FileReport()
    parallel = [
        (r.row, r.account_id, r.errors)
        for r in validate_in_parallel(path, DEMO, two, workers=2, span_bytes=span_bytes)
    ]
    assert parallel == sequential
    assert two == one
    return sequential, one


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_bytes(data)
    return path


def test_rows_duplicates_and_blank_lines_across_many_spans(tmp_path: Path) -> None:
    data = f"{HEADER}\n\n{_rows(400)}\n  ,  \n{_rows(400, 400)}".encode()
    rejected, report = _both(_file(tmp_path, data))
    assert report.blank_lines == 3  # after the header, after row 400, the "  ,  " line
    assert any("duplicate" in str(errors) for _, _, errors in rejected)
    assert report.rejected > 600  # duplicates across spans and bad amounts both counted


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_quoted_line_ends_and_every_line_end_style(tmp_path: Path, line_end: str) -> None:
    # A first name holding line ends (a quoted cell): the row keeps the number of the line
    # it starts on, and the lines after it count every physical line.
    rows = []
    for i in range(300):
        name = f'"Jane{line_end}of{line_end}line {i}"' if i % 7 == 0 else "Jane"
        rows.append(
            f"B{i},{name},+1206555{i:04d},,{'x' if i % 11 == 0 else '10'},USD,2026-11-25,US"
        )
    data = (HEADER + line_end + line_end.join(rows) + line_end).encode()
    rejected, _ = _both(_file(tmp_path, data))
    assert len(rejected) > 20


def test_a_stray_quote_inside_a_cell_misleads_the_cut_and_is_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `5'10"` keeps its quote as text: the quote count is odd from there, so cuts land
    # inside what the counter thinks is a quoted cell, or inside a real one.
    rows = []
    for i in range(300):
        name = "Jane 5'10\"" if i % 50 == 3 else ('"two\nlines"' if i % 13 == 0 else "Jane")
        rows.append(
            f"C{i},{name},+1206555{i:04d},,{'x' if i % 9 == 0 else '10'},USD,2026-11-25,US\n"
        )
    cuts: list[Cursor] = []

    def counted(stream: BinaryIO, start: Cursor, *args: Any) -> Iterator[Span]:
        cuts.append(start)
        return record_spans(stream, start, *args)

    monkeypatch.setattr(parallel_validation, "record_spans", counted)
    _both(_file(tmp_path, (HEADER + "\n" + "".join(rows)).encode()))
    assert len(cuts) > 1  # the file was cut again after a misled cut


def test_ascii_start_then_gb18030_switches_encoding_at_the_same_line(tmp_path: Path) -> None:
    # The first 64 KiB are ASCII: the encoding is settled by the first Chinese row, far into
    # the file, as one reader settles it; a later row that is not GB18030 is named.
    ascii_part = _rows(2000)
    chinese = "".join(f"D{i},王芳,+1206556{i:04d},,10,USD,2026-11-25,US\n" for i in range(50))
    data = (HEADER + "\n" + ascii_part + chinese).encode("gb18030") + b"E1,\xff\xfe,,,10\n"
    rejected, report = _both(_file(tmp_path, data), span_bytes=4096)
    assert report.encoding == "gb18030"
    assert any("not gb18030 text" in str(errors) for _, _, errors in rejected)


def test_utf8_with_bom_and_bytes_that_are_not_text(tmp_path: Path) -> None:
    body = (HEADER + "\n" + _rows(200)).encode("utf-8")
    data = b"\xef\xbb\xbf" + body + b"F1,Jos\xe9,+12065550100,,10,USD,2026-11-25,US\n" + body[-200:]
    rejected, report = _both(_file(tmp_path, data))
    assert report.encoding == "utf-8"
    assert any("not utf-8 text" in str(errors) for _, _, errors in rejected)


def test_a_file_unreadable_part_way_stops_at_the_same_line(tmp_path: Path) -> None:
    # A line of 2 MiB with no line end (not a CSV text file): the cut finds no boundary
    # and leaves the rest of the file to one reader, which stops there as one process does.
    data = (HEADER + "\n" + _rows(2000) + "G1,Jane" + "x" * 2 * 2**20).encode()
    data += ("\n" + _rows(300, 2000)).encode()
    _, report = _both(_file(tmp_path, data))
    assert report.file_error.startswith("line 2002 is longer than")
    assert report.rows == 2000


def test_too_many_cells_and_short_rows(tmp_path: Path) -> None:
    data = HEADER + "\n" + _rows(100) + "H1,Jane,+12065550100\nH2,,,,,,,,extra\n" + _rows(100, 100)
    rejected, _ = _both(_file(tmp_path, data.encode()))
    assert any("cells but the header has 8" in str(errors) for _, _, errors in rejected)


def test_the_ingest_benchmark_file_in_spans_of_the_shipped_size(tmp_path: Path) -> None:
    text = "".join(lines(30_000))
    _both(_file(tmp_path, text.encode()), span_bytes=256 * 1024)


def test_spans_cover_the_file_end_to_end_on_line_boundaries() -> None:
    data = (HEADER + "\r\n" + _rows(500).replace("\n", "\r\n")).encode()
    start = Cursor(byte_offset=len(HEADER) + 2, lines=1, encoding="utf-8")
    spans = list(record_spans(io.BytesIO(data), start, settled=False, size=1000))
    assert len(spans) > 10
    assert spans[0].start == start
    for before, after in pairwise(spans):
        assert before.end == after.start.byte_offset
        assert data[: after.start.byte_offset].endswith(b"\r\n")
        assert after.start.lines == data[: after.start.byte_offset].count(b"\r\n")
    assert spans[-1].end is None


def test_parallel_validation_never_forks_a_multithreaded_process(tmp_path: Path) -> None:
    # Given a process with another thread running (a CLI's progress bar, a test's moto server):
    # forking it may deadlock the child, and Python 3.12+ warns that it does
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    path = _file(tmp_path, (HEADER + "\n" + _rows(40)).encode())
    report = FileReport()
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            # When a file is validated by two workers
            rejected = list(validate_in_parallel(path, DEMO, report, workers=2))
    finally:
        stop.set()
        other.join()
    # Then the workers start without fork() and give every verdict
    assert [str(w.message) for w in seen if "fork()" in str(w.message)] == []
    assert report.rows == 40
    assert [r.row for r in rejected][:2] == [2, 39]


def test_a_span_s_reader_is_freed_when_done_not_left_to_the_garbage_collector() -> None:
    # A worker reads a hundred spans of a million-row file: a reader left in a reference
    # cycle would hold its buffers until a full collection, and memory would grow per span.
    data = (HEADER + "\n" + _rows(50)).encode()
    start = Cursor(byte_offset=len(HEADER) + 1, lines=1, encoding="utf-8")
    span, *_ = record_spans(io.BytesIO(data), start, settled=True, size=500)
    gc.disable()
    try:
        text = CsvText.span(io.BytesIO(data), span)
        assert 0 < len(list(text.records(span.end))) < 50  # stopped mid-file, as workers do
        text.close()
        reader = weakref.ref(text)
        del text
        assert reader() is None
    finally:
        gc.enable()


def test_a_worker_closes_the_reader_of_its_span(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path, (HEADER + "\n" + _rows(50)).encode())
    with path.open("rb") as stream:
        lender_file = LenderFile(stream, DEMO)
        (span,) = record_spans(stream, lender_file.cursor, settled=True)
    closed: list[CsvText] = []
    monkeypatch.setattr(CsvText, "close", lambda text: closed.append(text))
    verdicts = validate_span(
        str(path), span, lender_file.header, lender_file.width, lender_context(DEMO)
    )
    assert verdicts.rows == 50
    assert len(closed) == 1
