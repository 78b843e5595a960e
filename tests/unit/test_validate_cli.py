"""`rung validate` (docs/design.md, Command line): JSON contract, exit codes, human output."""

from __future__ import annotations

import argparse
import json
from io import StringIO
from pathlib import Path

import pytest

from functions.settings import PROJECT_ROOT
from rung.commands import validate as command
from rung.commands.validate import EXIT_OK, EXIT_REJECTED_ROWS, EXIT_UNUSABLE, validate

SAMPLES = PROJECT_ROOT / "samples"


def run_json(path: Path, lender: str = "demo") -> tuple[int, dict]:
    out = StringIO()
    code = validate(path, lender, True, out)
    return code, json.loads(out.getvalue())


def test_validate_sample_file_reports_the_bad_phone_row() -> None:
    code, answer = run_json(SAMPLES / "accounts.csv")
    assert code == EXIT_REJECTED_ROWS
    assert answer["rows"] == answer["accepted"] + len(answer["rejected"])
    assert answer["rejected"] == [
        {
            "row": 8,
            "account_id": "D-1007",
            "errors": ["phone: not a valid phone number in region US"],
        }
    ]
    assert answer["file_error"] is None


def test_validate_gbk_sample_is_all_good() -> None:
    code, answer = run_json(SAMPLES / "accounts_gbk.csv")
    assert code == EXIT_OK
    assert (answer["rows"], answer["accepted"], answer["rejected"]) == (4, 4, [])
    assert answer["encoding"] == "gb18030"


def test_validate_unusable_file_exits_2_with_file_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"\x00\x01\x02" * 100)
    code, answer = run_json(path)
    assert code == EXIT_UNUSABLE
    assert answer["file_error"] == "the file holds binary data (NUL bytes), not CSV text"
    assert (answer["rows"], answer["accepted"], answer["rejected"]) == (0, 0, [])


def test_validate_unknown_lender_exits_2() -> None:
    code, answer = run_json(SAMPLES / "accounts.csv", lender="nobody")
    assert code == EXIT_UNUSABLE
    assert "unknown lender 'nobody'" in answer["file_error"]


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    code, answer = run_json(tmp_path / "absent.csv")
    assert code == EXIT_UNUSABLE and "absent.csv" in answer["file_error"]


def test_validate_human_output_lists_bad_rows_and_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = argparse.Namespace(
        file=SAMPLES / "accounts.csv", lender="demo", json=False, workers=1, pgp_key=None
    )
    assert command.run(args) == EXIT_REJECTED_ROWS
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "row 8 [D-1007]: phone: not a valid phone number in region US",
        "15 rows: 14 accepted, 1 rejected (utf-8)",
    ]
    # ... then the capacity planner's verdict for the accepted rows, were they uploaded now
    assert len(lines) == 3 and lines[2].startswith("plan: fits")


def test_validate_is_registered_with_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    path = tmp_path / "ok.csv"
    path.write_text(
        "account_id,email,amount_due,currency,due_date\nA1,a@example.com,5,USD,2026-12-01\n"
    )
    args = parser.parse_args(["validate", str(path), "--json"])
    assert args.handler(args) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["accepted"] == 1


def test_validate_human_output_names_the_file_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "short.csv"
    path.write_text("account_id,phone\nA1,+12065550134\n")
    args = argparse.Namespace(file=path, lender="demo", json=False, workers=1, pgp_key=None)
    assert command.run(args) == EXIT_UNUSABLE
    assert capsys.readouterr().out.splitlines() == [
        "file rejected: missing required column(s): amount_due, currency, due_date"
    ]
