"""`rung validate` (docs/design.md, Command line): JSON contract, exit codes, human output."""

from __future__ import annotations

import argparse
import json
from io import StringIO
from pathlib import Path

import pytest

from functions.settings import PROJECT_ROOT
from rung.cli import main
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
        file=SAMPLES / "accounts.csv",
        lender="demo",
        json=False,
        workers=1,
        progress=False,
        pgp_key=None,
    )
    assert command.run(args) == EXIT_REJECTED_ROWS
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "row 8 [D-1007]: phone: not a valid phone number in region US",
        "15 rows: 14 accepted, 1 rejected (utf-8)",
    ]
    # ... then the capacity planner's verdict for the accepted rows, were they uploaded now
    assert len(lines) == 3 and lines[2].startswith("plan: fits")


@pytest.mark.parametrize("sample", ["accounts.csv", "accounts_gbk.csv"])
def test_validate_with_workers_lists_the_same_rows_and_counts_without_a_plan(
    sample: str,
) -> None:
    alone, parallel = StringIO(), StringIO()
    code = validate(SAMPLES / sample, "demo", False, alone)
    assert validate(SAMPLES / sample, "demo", False, parallel, workers=2) == code
    *checked, plan = alone.getvalue().splitlines()
    assert plan.startswith("plan: ")
    assert parallel.getvalue().splitlines() == [*checked, command.PLAN_LEFT_OUT]


def test_validate_json_with_workers_gives_the_same_answer_but_the_plan() -> None:
    alone, parallel = StringIO(), StringIO()
    validate(SAMPLES / "accounts.csv", "demo", True, alone)
    validate(SAMPLES / "accounts.csv", "demo", True, parallel, workers=2)
    one, two = json.loads(alone.getvalue()), json.loads(parallel.getvalue())
    assert two.pop("plan") == command.PLAN_LEFT_OUT
    assert one.pop("plan").startswith("plan: ")
    assert two == one


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
    args = argparse.Namespace(
        file=path, lender="demo", json=False, workers=1, progress=False, pgp_key=None
    )
    assert command.run(args) == EXIT_UNUSABLE
    assert capsys.readouterr().out.splitlines() == [
        "file rejected: missing required column(s): amount_due, currency, due_date"
    ]


def test_validate_names_a_number_a_spreadsheet_wrote_in_scientific_notation(
    tmp_path: Path,
) -> None:
    # Given a phone and an amount that Excel saved as 2.06555E+10 and 1.2E+3
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_id,phone,amount_due,currency,due_date\nA1,2.06555E+10,1.2E+3,USD,2026-11-20\n",
        encoding="utf-8",
    )
    # When validated / Then each field says what happened and what to do
    code, answer = run_json(path)
    assert code == EXIT_REJECTED_ROWS
    errors = answer["rejected"][0]["errors"]
    assert [e.split(":")[0] for e in errors] == ["phone", "amount_due"]
    assert all("scientific notation" in e and "format the column as text" in e for e in errors)


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_validate_hints_at_a_file_saved_with_another_separator(
    separator: str, name: str, tmp_path: Path
) -> None:
    path = tmp_path / "accounts.csv"
    header = separator.join(["account_id", "phone", "amount_due", "currency", "due_date"])
    path.write_text(f"{header}\nA1{separator}+12065550100{separator}10{separator}USD\n")
    code, answer = run_json(path)
    assert code == EXIT_UNUSABLE
    assert f"separated by {name}: save the file as comma-separated CSV" in answer["file_error"]


def test_validate_header_only_file_says_there_are_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,phone,amount_due,currency,due_date\n", encoding="utf-8")
    code, answer = run_json(path)
    assert code == EXIT_UNUSABLE
    assert answer["file_error"] == "the file has a header but no rows"


def test_validate_checks_a_payments_file_by_its_header(tmp_path: Path) -> None:
    # The sample payments file is all good, and said to be a payments file
    code, answer = run_json(SAMPLES / "payments.csv")
    assert code == EXIT_OK
    assert (answer["kind"], answer["rows"], answer["accepted"]) == ("payments", 2, 2)
    assert answer["plan"] is None
    # A bad row is named with its line, account and fields
    path = tmp_path / "payments.csv"
    path.write_text("account_id,paid_at,amount\nD-1001,2026-12-03,10\nD-1002,soon,x\n")
    code, answer = run_json(path)
    assert code == EXIT_REJECTED_ROWS
    assert answer["rejected"][0]["row"] == 3
    assert [e.split(":")[0] for e in answer["rejected"][0]["errors"]] == ["paid_at", "amount"]


def test_validate_progress_counts_rows_on_stderr_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file of a few thousand rows, and --progress (stderr is not a terminal here)
    path = tmp_path / "accounts.csv"
    rows = "".join(f"A{n},+1206555{n % 10000:04d},10,USD,2026-11-20\n" for n in range(3000))
    path.write_text("account_id,phone,amount_due,currency,due_date\n" + rows, encoding="utf-8")

    # When validated with --progress, and again without
    assert main(["validate", str(path), "--progress"]) in (EXIT_OK, EXIT_REJECTED_ROWS)
    with_progress = capsys.readouterr()
    main(["validate", str(path)])
    without = capsys.readouterr()

    # Then the count is drawn on stderr only when asked, and stdout is the same either way
    assert "validating · " in with_progress.err and " rows · " in with_progress.err
    assert without.err == ""
    assert with_progress.out == without.out
