"""`rung validate FILE [--lender ID] [--pgp-key KEY] [--json] [--progress]` — check a lender
file or a payments file (either may be OpenPGP-encrypted) without AWS.

The same row rules as the schedule Lambda (functions.core.lender_file), streamed: rows are
printed as they are judged, so a million-row file needs no more memory than a small one.

JSON (docs/design.md, Command line): {"rows", "accepted", "rejected": [{"row", "account_id",
"errors"}], "file_error"} plus "blank_lines", "ignored_columns" and "encoding".
Last, the capacity planner's one-line verdict for the accepted rows if the file arrived now
(`rung plan` has the details); JSON: "plan". With `--workers N` (N processes, each reading
its own part of the file: functions.core.parallel_validation) the plan line says it was left
out: the workers return rejected rows and counts, not the accepted accounts.
A payments file (`account_id, paid_at, amount`) is recognised by its header and checked with
the payments rules (no plan line); JSON says which in "kind" ("accounts" or "payments").
A file with a header and no rows is unusable ("file_error"). On a terminal (or with
`--progress`) a count of rows checked is drawn on stderr.
Exit 0: every row accepted; 1: some rows rejected; 2: the file (or the lender) is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypeVar

from functions.core.errors import ConfigError, FileRejected
from functions.core.lender_file import FileReport, LenderRow, RowResult, validate_lender_file
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account
from functions.core.parallel_validation import validate_in_parallel
from functions.core.payments_file import PaymentsFile
from functions.settings import Settings
from rung.commands.failure import CommandError
from rung.commands.options import existing_file, positive
from rung.commands.plan import plan_verdict
from rung.encrypted_files import plaintext_path, read_key
from rung.progress import RowProgress

EXIT_OK = 0
EXIT_REJECTED_ROWS = 1
EXIT_UNUSABLE = 2
ACCOUNTS, PAYMENTS = "accounts", "payments"
PLAN_LEFT_OUT = "plan: left out with --workers (rung plan FILE gives it)"
Row = TypeVar("Row", bound=RowResult[Any])


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a lender file (accounts CSV) without AWS",
        description="Validate a lender file row by row with the rules the schedule Lambda "
        "applies. Rows are numbered by the line they start on (the header is line 1).",
    )
    parser.add_argument(
        "file",
        type=Path,
        help="the lender CSV (UTF-8, UTF-8 BOM or GBK), or a payments CSV (account_id, paid_at, "
        "amount)",
    )
    parser.add_argument("--lender", default="demo", help="lender id (config/lenders/ID.yaml)")
    parser.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="processes validating rows, each reading its own part of the file (default 1; "
        "more helps only on idle cores; no plan line)",
    )
    parser.add_argument(
        "--pgp-key",
        type=Path,
        help="our OpenPGP secret key (ASCII-armored) to decrypt FILE.csv.pgp/.gpg/.asc",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="draw a count of rows checked on stderr even when it is not a terminal",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with RowProgress(force=args.progress) as progress:
        return validate(
            args.file, args.lender, args.json, sys.stdout, args.workers, progress, args.pgp_key
        )


def validate(
    path: Path,
    lender_id: str,
    as_json: bool,
    out: TextIO,
    workers: int = 1,
    progress: RowProgress | None = None,
    pgp_key: Path | None = None,
) -> int:
    output = _JsonOutput(out) if as_json else _TextOutput(out)
    verdict = None
    kind = ACCOUNTS
    try:
        lender = load_lender(Settings().config_root, lender_id)
        report = FileReport()
        key = read_key(pgp_key)
        with plaintext_path(existing_file(path), lender, key) as readable:
            kind = _kind(readable, lender)
            with readable.open("rb") as stream:
                if kind == PAYMENTS:
                    _report_payments(PaymentsFile(stream, lender), report, output, progress)
                elif workers > 1:
                    # Workers return rejected rows and counts only: nothing for the planner.
                    on_rows = None if progress is None else progress.row
                    rejected = validate_in_parallel(readable, lender, report, workers, on_rows)
                    for result in rejected:
                        output.rejected(result)
                    verdict = PLAN_LEFT_OUT
                else:
                    results = validate_lender_file(stream, lender, report)
                    # One pass: rejected rows are reported, accepted ones laid out for the planner.
                    accepted = _accepted_reporting(_counted(results, progress), output, lender)
                    verdict = plan_verdict(accepted, lender)
        if not report.rows and not report.file_error:
            report.file_error = "the file has a header but no rows"
    except (ConfigError, FileRejected, OSError, CommandError) as exc:
        report = FileReport(file_error=str(exc))
    output.summary(report, None if report.file_error else verdict, kind)
    if report.file_error:
        return EXIT_UNUSABLE
    return EXIT_REJECTED_ROWS if report.rejected else EXIT_OK


def _kind(path: Path, lender: LenderConfig) -> str:
    """A payments file is told by its header (`account_id, paid_at, amount`)."""
    with path.open("rb") as stream:
        try:
            PaymentsFile(stream, lender)
        except FileRejected:
            return ACCOUNTS
    return PAYMENTS


def _report_payments(
    payments: PaymentsFile, report: FileReport, output: _Output, progress: RowProgress | None
) -> None:
    report.encoding = payments.encoding
    report.ignored_columns = payments.header.ignored
    try:
        for result in _counted(payments.results(), progress):
            report.add(result)
            if not result.accepted:
                output.rejected(result)
    except FileRejected as exc:
        report.file_error = str(exc)
    report.blank_lines = payments.blank_lines


def _counted(results: Iterable[Row], progress: RowProgress | None) -> Iterator[Row]:
    for result in results:
        if progress is not None:
            progress.row()
        yield result


def _accepted_reporting(
    results: Iterable[RowResult[LenderRow]], output: _Output, lender: LenderConfig
) -> Iterator[Account]:
    for result in results:
        if not result.accepted:
            output.rejected(result)
        elif result.value is not None:
            yield result.value.to_account(lender)


class _Output:
    def rejected(self, result: RowResult[Any]) -> None: ...
    def summary(self, report: FileReport, verdict: str | None, kind: str) -> None: ...


class _TextOutput(_Output):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def rejected(self, result: RowResult[Any]) -> None:
        errors = "; ".join(str(error) for error in result.errors)
        print(f"row {result.row} [{result.account_id or '-'}]: {errors}", file=self.out)

    def summary(self, report: FileReport, verdict: str | None, kind: str) -> None:
        if report.file_error:
            print(f"file rejected: {report.file_error}", file=self.out)
            if not report.rows:
                return
        if report.ignored_columns:
            print(f"ignored columns: {', '.join(report.ignored_columns)}", file=self.out)
        blank = f", {report.blank_lines} blank lines skipped" if report.blank_lines else ""
        what = "payment rows" if kind == PAYMENTS else "rows"
        print(
            f"{report.rows} {what}: {report.accepted} accepted, {report.rejected} rejected"
            f" ({report.encoding}{blank})",
            file=self.out,
        )
        if verdict:
            print(verdict, file=self.out)


class _JsonOutput(_Output):
    """Streams the `rejected` list as rows are judged; the counts follow it."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.opened = False

    def _open(self) -> None:
        if not self.opened:
            self.out.write('{"rejected": [')
            self.opened = True
            self.first = True

    def rejected(self, result: RowResult[Any]) -> None:
        self._open()
        entry = {
            "row": result.row,
            "account_id": result.account_id,
            "errors": [str(error) for error in result.errors],
        }
        self.out.write(("" if self.first else ", ") + json.dumps(entry, ensure_ascii=False))
        self.first = False

    def summary(self, report: FileReport, verdict: str | None, kind: str) -> None:
        self._open()
        self._write_rest(
            kind=kind,
            rows=report.rows,
            accepted=report.accepted,
            file_error=report.file_error or None,
            blank_lines=report.blank_lines,
            ignored_columns=list(report.ignored_columns),
            encoding=report.encoding,
            plan=verdict,
        )

    def _write_rest(self, **fields: Any) -> None:
        rest = json.dumps(fields, ensure_ascii=False)[1:]  # drop the opening brace
        self.out.write("], " + rest + "\n")
