"""`rung validate --workers N`: a lender file validated by N processes, each reading its own
spans of the file.

The main process reads the header, cuts the rest of the file into spans of about a MiB at
what are record boundaries (`record_spans`: bytes only, no decoding or CSV parsing), and hands
each span — offsets, line number and encoding, a few dozen bytes — to a worker. The worker
opens the file itself, parses and judges the span's rows, and returns compact verdicts: its
rejected rows, its accepted rows as one JSON text of `[row, account_id]`, its counts and
where its last record ended. The main process checks duplicates span by span in SQLite
(`SeenAccounts`: the JSON goes in whole) and yields the rejected rows in file order; it
never holds a row object for an accepted row.

A span whose last record ran past the span's end (a stray quote misled the cut) means the
next spans started inside a record: their verdicts are dropped and the file is cut again
from where that record really ended. Row numbers, verdicts and reasons are those of
`validate_lender_file` (tests/unit/test_parallel_validation.py compares them).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.core.csv_stream import SPAN_BYTES, CsvText, Cursor, HeaderMap, Span, record_spans
from functions.core.errors import FileRejected
from functions.core.lender_file import (
    FileReport,
    LenderFile,
    LenderRow,
    RowCells,
    RowResult,
    SeenAccounts,
    duplicate_error,
    lender_context,
    validate_row,
)
from functions.core.lenders import LenderConfig


@dataclass(frozen=True)
class WorkerUsage:
    """A worker's own CPU seconds (user + system) and peak resident set (KiB) so far."""

    cpu: float
    peak_kib: int


@dataclass(frozen=True)
class SpanVerdicts:
    """A worker's answer for one span."""

    rows: int  # rows judged (accepted + rejected, before duplicates)
    blank_lines: int
    rejected: list[RowResult[LenderRow]]  # without values
    accepted: str  # JSON [[row, account_id], …] in row order
    end: Cursor  # after the span's last record
    settled: bool  # whether `end.encoding` is final
    file_error: str = ""  # the span became unreadable here (its rows before it stand)
    worker: int = 0  # the worker's process id
    usage: WorkerUsage | None = None  # the worker's so far


def validate_span(
    path: str, span: Span, header: HeaderMap, width: int, context: dict[str, Any]
) -> SpanVerdicts:
    """Runs in a worker: judge the rows of `path` that start in `span`."""
    rejected: list[RowResult[LenderRow]] = []
    accepted: list[tuple[int, str]] = []
    rows = 0
    file_error = ""
    with open(path, "rb") as stream:
        text = CsvText.span(stream, span)
        cells = RowCells(text, header, width)
        try:
            for item in cells(span.end):
                rows += 1
                verdict = item if isinstance(item, RowResult) else validate_row(*item, context)
                if verdict.errors:
                    rejected.append(
                        RowResult(verdict.row, verdict.account_id, None, verdict.errors)
                    )
                else:
                    accepted.append((verdict.row, verdict.account_id))
        except FileRejected as exc:
            file_error = str(exc)
        finally:
            text.close()
        return SpanVerdicts(
            rows=rows,
            blank_lines=cells.blank_lines,
            rejected=rejected,
            accepted=json.dumps(accepted, ensure_ascii=False),
            end=text.cursor,
            settled=text.encoding_settled,
            file_error=file_error,
            worker=os.getpid(),
            usage=WorkerUsage(
                cpu=time.process_time(),
                peak_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            ),
        )


def validate_in_parallel(
    path: Path,
    lender: LenderConfig,
    report: FileReport,
    workers: int,
    on_rows: Callable[[int], None] | None = None,
    workers_used: dict[int, WorkerUsage] | None = None,
    span_bytes: int = SPAN_BYTES,
) -> Iterator[RowResult[LenderRow]]:
    """The rejected rows of `validate_lender_file` on the file at `path`, in file order,
    judged by `workers` processes; `report` is complete at the end. `on_rows(n)` is told of
    every n rows judged; `workers_used` is filled with each worker's usage by process id (their
    own figures: they are no children of this process). The file must not change while it
    is read."""
    with path.open("rb") as stream:
        lender_file = LenderFile(stream, lender)
        report.ignored_columns = lender_file.header.ignored
        report.encoding = lender_file.encoding
        job = (lender_file.header, lender_file.width, lender_context(lender))
        spans = record_spans(stream, lender_file.cursor, lender_file.encoding_settled, span_bytes)
        # Workers come from a fork server, never fork() of this process: forking a process
        # that runs other threads (a progress bar, boto3's pools) can deadlock the child, and
        # Python 3.12+ warns about it (3.14 makes forkserver the default on Linux).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # workers start with the rules imported
        with ProcessPoolExecutor(workers, mp_context=context) as pool, SeenAccounts() as seen:
            in_flight: deque[tuple[Span, Future[SpanVerdicts]]] = deque()
            while True:
                # Two spans a worker in flight: workers never wait, memory stays flat.
                while len(in_flight) < 2 * workers and (span := next(spans, None)) is not None:
                    in_flight.append((span, pool.submit(validate_span, str(path), span, *job)))
                if not in_flight:
                    break
                span, future = in_flight.popleft()
                verdicts = future.result()
                yield from _settled(verdicts, seen, report)
                report.blank_lines += verdicts.blank_lines
                report.encoding = verdicts.end.encoding
                if on_rows is not None:
                    on_rows(verdicts.rows)
                if workers_used is not None and verdicts.usage is not None:
                    workers_used[verdicts.worker] = verdicts.usage
                if verdicts.file_error:
                    report.file_error = verdicts.file_error
                    break
                if span.end is not None and verdicts.end.byte_offset != span.end:
                    # The span's last record ended past the cut: cut again from there.
                    for _, dropped in in_flight:
                        dropped.cancel()
                    in_flight.clear()
                    spans = record_spans(stream, verdicts.end, verdicts.settled, span_bytes)
            for _, dropped in in_flight:
                dropped.cancel()


def _settled(
    verdicts: SpanVerdicts, seen: SeenAccounts, report: FileReport
) -> Iterator[RowResult[LenderRow]]:
    """A span's rejected rows with its duplicates among them, in row order; counts added."""
    accepted = verdicts.rows - len(verdicts.rejected)
    duplicates = seen.duplicates(verdicts.accepted, accepted)
    rejected = verdicts.rejected + [
        RowResult(row, account_id, None, (duplicate_error(first),))
        for row, (account_id, first) in duplicates.items()
    ]
    rejected.sort(key=lambda result: result.row)
    report.add_counts(accepted=verdicts.rows - len(rejected), rejected=len(rejected))
    yield from rejected
