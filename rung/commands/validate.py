"""`rung validate FILE [--lender ID] [--pgp-key KEY] [--json]` — check a lender file without AWS.

The same row rules as the schedule Lambda (functions.core.lender_file), streamed: rows are
printed as they are judged, so a million-row file needs no more memory than a small one.

JSON (docs/design.md, Command line): {"rows", "accepted", "rejected": [{"row", "account_id",
"errors"}], "file_error"} plus "blank_lines", "ignored_columns" and "encoding".
Last, the capacity planner's one-line verdict for the accepted rows if the file arrived now
(`rung plan` has the details); JSON: "plan".
Exit 0: every row accepted; 1: some rows rejected; 2: the file (or the lender) is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from functions.core.errors import ConfigError, FileRejected
from functions.core.lender_file import FileReport, LenderRow, RowResult, validate_lender_file
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account
from functions.settings import Settings
from rung.commands.plan import plan_verdict
from rung.encrypted_files import plaintext, read_key

EXIT_OK = 0
EXIT_REJECTED_ROWS = 1
EXIT_UNUSABLE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a lender file (accounts CSV) without AWS",
        description="Validate a lender file row by row with the rules the schedule Lambda "
        "applies. Rows are numbered by the line they start on (the header is line 1).",
    )
    parser.add_argument("file", type=Path, help="the lender CSV (UTF-8, UTF-8 BOM or GBK)")
    parser.add_argument("--lender", default="demo", help="lender id (config/lenders/ID.yaml)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes validating rows (default 1; more helps only on idle cores)",
    )
    parser.add_argument(
        "--pgp-key",
        type=Path,
        help="our OpenPGP secret key (ASCII-armored) to decrypt FILE.csv.pgp/.gpg/.asc",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return validate(args.file, args.lender, args.json, sys.stdout, args.workers, args.pgp_key)


def validate(
    path: Path,
    lender_id: str,
    as_json: bool,
    out: TextIO,
    workers: int = 1,
    pgp_key: Path | None = None,
) -> int:
    output = _JsonOutput(out) if as_json else _TextOutput(out)
    verdict = None
    try:
        lender = load_lender(Settings().config_root, lender_id)
        report = FileReport()
        with plaintext(path, lender, read_key(pgp_key)) as stream:
            results = validate_lender_file(stream, lender, report, workers)
            # One pass: rejected rows are reported, accepted ones laid out for the planner.
            verdict = plan_verdict(_accepted_reporting(results, output, lender), lender)
    except (ConfigError, FileRejected, OSError) as exc:
        report = FileReport(file_error=str(exc))
    output.summary(report, None if report.file_error else verdict)
    if report.file_error:
        return EXIT_UNUSABLE
    return EXIT_REJECTED_ROWS if report.rejected else EXIT_OK


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
    def summary(self, report: FileReport, verdict: str | None) -> None: ...


class _TextOutput(_Output):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def rejected(self, result: RowResult[Any]) -> None:
        errors = "; ".join(str(error) for error in result.errors)
        print(f"row {result.row} [{result.account_id or '-'}]: {errors}", file=self.out)

    def summary(self, report: FileReport, verdict: str | None) -> None:
        if report.file_error:
            print(f"file rejected: {report.file_error}", file=self.out)
            if not report.rows:
                return
        if report.ignored_columns:
            print(f"ignored columns: {', '.join(report.ignored_columns)}", file=self.out)
        blank = f", {report.blank_lines} blank lines skipped" if report.blank_lines else ""
        print(
            f"{report.rows} rows: {report.accepted} accepted, {report.rejected} rejected"
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

    def summary(self, report: FileReport, verdict: str | None) -> None:
        self._open()
        self._write_rest(
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
