"""The `rung` command as a shell runs it: the real executable in a child process, its stdout
and stderr read as a terminal or a pipe would get them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The `rung` command on the operator's machine: run once, by `make test`, not again on the
# Lambda runtime (Makefile, test-runtime).
pytestmark = pytest.mark.operator_only

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
RUNG = [sys.executable, "-m", "rung.cli"]
DEMO = [
    "simulate",
    str(SAMPLES / "accounts.csv"),
    "--replies",
    str(SAMPLES / "replies.csv"),
    "--payments",
    str(SAMPLES / "payments.csv"),
    "--start",
    "2026-12-01T00:00:00Z",
    "--days",
    "35",
]


def rung(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNG, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is already gone, as `rung … | head -1` leaves it
    once head has its line: every write fails with EPIPE."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [*RUNG, *args],
            cwd=ROOT,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        os.close(writer)


@pytest.mark.slow
def test_simulate_json_on_the_full_engine_prints_only_json(tmp_path: Path) -> None:
    # When the demo runs on the full engine (moto, the real ASL) with --json
    done = rung(*DEMO, "--engine", "full", "--out", str(tmp_path / "out"), "--json")

    # Then stdout is exactly one JSON document: no handler log line before it
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["engine"] == "full" and summary["accounts"] == 14
    # ... and nothing a handler logs or warns reaches the terminal either
    assert '"level"' not in done.stderr
    assert "No application metrics to publish" not in done.stderr


def test_simulate_fast_engine_prints_no_handler_warnings(tmp_path: Path) -> None:
    # When the demo runs on the fast engine, as `make demo` shows it
    done = rung(*DEMO, "--engine", "fast", "--out", str(tmp_path / "out"))

    # Then the terminal shows the preview and nothing the handlers log or warn
    assert done.returncode == 0, done.stderr[-2000:]
    assert "D-1003: 4 sent" in done.stdout
    for stream in (done.stdout, done.stderr):
        assert "No application metrics to publish" not in stream
        assert '{"level"' not in stream


@pytest.mark.parametrize(
    "args",
    [
        ["validate", str(SAMPLES / "accounts.csv")],
        ["reply", "STOP texting me"],
        ["templates", "lint"],
    ],
    ids=["validate", "reply", "templates-lint"],
)
def test_output_into_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    # When the reader of stdout has gone away (`| head`)
    done = into_closed_pipe(*args)

    # Then no traceback, no "Exception ignored" at exit: the shell's broken-pipe status
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert done.stderr == ""
    assert done.returncode == 141


def test_templates_list_into_a_closed_pipe_ends_quietly(moto_endpoint: str) -> None:
    # Given a templates table with the shipped versions pushed
    where = ["--endpoint-url", moto_endpoint, "--table", "rung-templates", "--region", "us-east-1"]
    pushed = rung("templates", "push", "--author", "ana", "--create-table", *where)
    assert pushed.returncode == 0, pushed.stderr

    # When the list is piped into a reader that stops at once
    done = into_closed_pipe("templates", "list", *where)

    # Then it ends without a traceback
    assert done.stderr == "" and done.returncode == 141


def test_version_names_the_package() -> None:
    done = rung("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("rung ") and done.stdout.split()[1][0].isdigit()


def test_simulate_refuses_an_out_that_is_a_file_before_running(tmp_path: Path) -> None:
    # Given --out naming an existing file
    taken = tmp_path / "report.txt"
    taken.write_text("keep me\n", encoding="utf-8")

    # When the demo is asked to write there
    done = rung(*DEMO, "--engine", "fast", "--out", str(taken))

    # Then it is refused at once (no preview was printed), and the file is untouched
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"rung simulate: --out {taken} is a file, not a folder: name a folder "
        "(it is created if missing)"
    )
    assert "sent" not in done.stdout
    assert taken.read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize("command", ["simulate", "plan"])
def test_missing_input_file_is_said_in_words(command: str, tmp_path: Path) -> None:
    done = rung(command, str(tmp_path / "acounts.csv"))
    assert done.returncode == 2
    assert "Errno" not in done.stderr and "Traceback" not in done.stderr
    assert f"rung {command}: {tmp_path / 'acounts.csv'}: no such file" in done.stderr


def test_json_errors_are_json(tmp_path: Path) -> None:
    # A bad option, a missing file and an unknown template, each asked for in JSON
    cases = [
        (["simulate", str(SAMPLES / "accounts.csv"), "--days", "0", "--json"], "rung simulate"),
        (["simulate", str(tmp_path / "none.csv"), "--json"], "rung simulate"),
        (
            [
                "templates",
                "preview",
                "reminder_day99",
                "--json",
                "--channel",
                "sms",
                "--locale",
                "en",
            ],
            "rung templates preview",
        ),
        (["when", "--phone", "not a phone", "--json"], "rung when"),
        (["validate", str(SAMPLES / "accounts.csv"), "--workers", "0", "--json"], "rung validate"),
    ]
    for args, command in cases:
        done = rung(*args)
        answer = json.loads(done.stdout)
        assert done.returncode == 2
        assert answer["command"] == command and answer["exit_code"] == 2
        assert answer["error"]


def test_simulate_reports_bad_payment_rows(tmp_path: Path) -> None:
    # Given a payments file with a row whose date and amount are unreadable
    payments = tmp_path / "payments.csv"
    payments.write_text(
        "account_id,paid_at,amount\nD-1001,2026-12-03,245.50\nD-1004,next week,lots\n",
        encoding="utf-8",
    )
    args = [*DEMO[:4], "--payments", str(payments), *DEMO[6:], "--engine", "fast"]

    # When the preview runs
    done = rung(*args, "--out", str(tmp_path / "out"))

    # Then the bad row is named with its line, account and reasons, like a bad account row
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("rejected payment row"))
    assert line.startswith("rejected payment row 3 [D-1004]: paid_at: ")
    assert "amount" in line
    # ... and summary.json lists it among the rejected rows
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rejected_rows"]["total"] == 2
    assert {(r["file"], r["row"]) for r in summary["rejected_rows"]["listed"]} == {
        ("accounts.csv", 8),
        ("payments.csv", 3),
    }
