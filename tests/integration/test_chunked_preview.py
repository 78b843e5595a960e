"""`rung simulate` in chunks gives byte for byte the outputs of one run over the whole file.

The fast engine splits a run without rates into chunks of accounts that share no id or
address, runs them on worker processes and merges their outputs (rung.chunks,
rung.run_outputs). One chunk holding every account is today's fast engine over the whole
file; these tests run the same input both ways and compare every output file's bytes.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from functions.settings import PROJECT_ROOT
from rung.cli import main

# The `rung` command on the operator's machine: run once, by `make test`, not again on the
# Lambda runtime (Makefile, test-runtime).
pytestmark = pytest.mark.operator_only

SAMPLES = PROJECT_ROOT / "samples"
START = "2026-12-01T00:00:00Z"
SECRET = b"k" * 32  # the run's pseudonym key, fixed so that two runs' events compare
COMPARED = ("messages.csv", "summary.json", "experiments.csv", "synthetic_responses.csv")


def generated(folder: Path, count: int) -> tuple[Path, Path, Path]:
    """A lender file whose accounts share phones and emails (some transitively), a third of
    them in the demo experiment's segment, with replies (STOP, a payment claim, an email
    unsubscribe, one from nobody's address) and payments (one naming no account)."""
    accounts = [
        "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state,"
        "postal_code,timezone,status,payment_link,segment"
    ]
    for i in range(count):
        phone_of = i - 1 if i % 7 == 3 else i  # shares the phone of the row before
        email_of = i - 5 if i % 11 == 6 else i  # shares the email of a row five before
        phone = f"+1206555{phone_of % 10000:04d}" if i % 13 else f"+1617{2000000 + phone_of:07d}"
        email = f"u{email_of}@example.com" if i % 4 else ""
        segment = "pilot" if i % 3 == 0 else ""
        accounts.append(
            f"A{i:05d},Sam,{phone},{email},{10 + i % 500}.50,USD,2026-11-{1 + i % 28:02d},"
            f"en-US,US,WA,98101,,,,{segment}"
        )
    replies = ["at,from,channel,text"]
    for i in range(0, count, 37):
        text = "STOP" if i % 2 else "I paid yesterday"
        replies.append(
            f"2026-12-0{2 + i % 5}T17:{i % 60:02d}:00Z,+1206555{i % 10000:04d},sms,{text}"
        )
    for i in range(1, count, 53):
        if i % 4:
            replies.append(f"2026-12-0{3 + i % 5}T18:00:00Z,U{i}@Example.com,email,unsubscribe")
    replies.append("2026-12-04T10:00:00Z,+19995550000,sms,STOP")
    payments = ["account_id,paid_at,amount"]
    for i in range(0, count, 29):
        payments.append(f"A{i:05d},2026-12-{3 + i % 20:02d}T15:20:00Z,{10 + i % 500}.50")
    payments.append("NOBODY,2026-12-05T15:20:00Z,10.00")
    paths = (folder / "accounts.csv", folder / "replies.csv", folder / "payments.csv")
    for path, lines in zip(paths, (accounts, replies, payments), strict=True):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def simulate(out: Path, accounts: Path, *options: str) -> dict[str, object]:
    code = main(
        [
            "simulate",
            str(accounts),
            "--start",
            START,
            "--days",
            "30",
            "--out",
            str(out),
            "--engine",
            "fast",
            "--json",
            *options,
        ]
    )
    assert code == 0
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def outputs(out: Path) -> dict[str, bytes]:
    files = [out / name for name in COMPARED if (out / name).exists()]
    files += sorted((out / "events").rglob("*.parquet"))
    return {str(path.relative_to(out)): path.read_bytes() for path in files}


@pytest.fixture(autouse=True)
def fixed_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rung.commands.simulate.secrets.token_bytes", lambda _: SECRET)


def test_a_generated_file_in_chunks_gives_the_outputs_of_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts, replies, payments = generated(tmp_path, 800)
    model = SAMPLES / "response_model.yaml"
    common = ["--replies", str(replies), "--payments", str(payments)]
    common += ["--response-model", str(model), "--seed", "7"]

    whole = simulate(tmp_path / "whole", accounts, *common, "--chunk-accounts", "100000")
    chunked = simulate(
        tmp_path / "chunked", accounts, *common, "--chunk-accounts", "100", "--workers", "2"
    )

    assert outputs(tmp_path / "chunked") == outputs(tmp_path / "whole")
    assert chunked == whole
    # The run exercised what couples accounts: shared addresses opted out, payments, an
    # experiment, and the response model's draws.
    assert whole["accounts"] == 800
    assert whole["opt_outs"]["total"] > 10  # type: ignore[index]
    assert whole["experiment_accounts"] == 267
    assert whole["synthetic_responses"]["payments"] > 0  # type: ignore[index]
    assert (tmp_path / "whole" / "experiments.csv").exists()
    assert len(outputs(tmp_path / "whole")) > 20  # events of every day of the run


def test_the_samples_one_account_per_chunk_give_the_outputs_of_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = (
        "--replies",
        str(SAMPLES / "replies.csv"),
        "--payments",
        str(SAMPLES / "payments.csv"),
    )

    whole = simulate(tmp_path / "whole", SAMPLES / "accounts.csv", *common)
    chunked = simulate(
        tmp_path / "chunked", SAMPLES / "accounts.csv", *common, "--chunk-accounts", "1"
    )

    assert outputs(tmp_path / "chunked") == outputs(tmp_path / "whole")
    assert chunked == whole


def test_a_run_with_a_rate_is_one_chunk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every send takes a slot of one per-second budget: split, the accounts would take other
    # seconds. With a rate the run is one chunk, however small the chunks asked for.
    accounts, _, _ = generated(tmp_path, 300)

    whole = simulate(tmp_path / "whole", accounts, "--sms-rate", "1")
    asked = simulate(tmp_path / "asked", accounts, "--sms-rate", "1", "--chunk-accounts", "10")

    assert outputs(tmp_path / "asked") == outputs(tmp_path / "whole")
    assert asked == whole
    assert whole["peak_per_second"]["sms"] == 1  # type: ignore[index]


def test_a_chunk_leaves_no_state_behind_when_it_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A worker runs chunk after chunk with garbage collected rarely; a chunk's engine state
    # holds reference cycles, so unless the chunk collects it, every chunk's state piles up
    # (a million-account preview grew its workers past 7 GB before it did).
    from rung.engine_fast import FastEngine

    gc.collect()  # what earlier tests left in this process
    simulate(
        tmp_path / "out",
        SAMPLES / "accounts.csv",
        "--chunk-accounts",
        "2",
        "--workers",
        "1",
    )

    assert not [found for found in gc.get_objects() if isinstance(found, FastEngine)]
