"""`rung simulate --response-model`: seeded synthetic payments and replies through the same
handlers, labelled synthetic everywhere, feeding `rung experiments report` end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from functions.settings import PROJECT_ROOT
from rung.cli import main

# The `rung` command on the operator's machine: run once, by `make test`, not again on the
# Lambda runtime (Makefile, test-runtime).
pytestmark = pytest.mark.operator_only

SAMPLE_MODEL = PROJECT_ROOT / "samples" / "response_model.yaml"
START = "2026-11-29T00:00:00Z"


def _lender_file(path: Path, count: int, segment: str = "pilot") -> Path:
    lines = ["account_id,phone,email,amount_due,currency,due_date,timezone,segment"]
    lines += [
        f"R-{i},+1206555{1000 + i},r{i}@example.com,150.00,USD,2026-11-28,"
        f"America/Los_Angeles,{segment}"
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _simulate(tmp_path: Path, accounts: Path, name: str, *options: str) -> dict[str, object]:
    out = tmp_path / name
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
            "--json",
            *options,
        ]
    )
    assert code == 0
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_same_seed_draws_the_same_responses_and_another_seed_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = _lender_file(tmp_path / "accounts.csv", 60)
    model = ("--response-model", str(SAMPLE_MODEL))
    _simulate(tmp_path, accounts, "a", *model, "--seed", "1")
    _simulate(tmp_path, accounts, "b", *model, "--seed", "1")
    _simulate(tmp_path, accounts, "c", *model, "--seed", "2")
    capsys.readouterr()
    drawn = {n: (tmp_path / n / "synthetic_responses.csv").read_bytes() for n in "abc"}
    assert drawn["a"] == drawn["b"] != drawn["c"]
    messages = {n: (tmp_path / n / "messages.csv").read_bytes() for n in "ab"}
    assert messages["a"] == messages["b"]


def test_synthetic_payments_go_through_intake_and_are_labelled_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 80 pilot accounts and the sample response model
    accounts = _lender_file(tmp_path / "accounts.csv", 80)
    summary = _simulate(tmp_path, accounts, "out", "--response-model", str(SAMPLE_MODEL))
    capsys.readouterr()
    out = tmp_path / "out"
    drawn = _rows(out / "synthetic_responses.csv")
    payers = {r["account_id"] for r in drawn if r["kind"] == "payment"}
    # Then payments were drawn, and each paid account's ladder stopped: no SENT after it paid
    assert payers
    paid_at = {r["account_id"]: r["at_utc"] for r in drawn if r["kind"] == "payment"}
    for row in _rows(out / "messages.csv"):
        if row["account_id"] in paid_at and row["decision"] == "SENT":
            assert row["at_utc"] < paid_at[row["account_id"]]
    # And every output says synthetic
    assert summary["synthetic"] is True
    assert summary["synthetic_responses"] == {
        "payments": len(payers),
        "opt_outs": sum(r["kind"] == "opt_out" for r in drawn),
    }
    assert {r["synthetic"] for r in drawn} == {"1"}
    outcomes = _rows(out / "experiments.csv")
    assert {r["synthetic"] for r in outcomes} == {"1"}
    assert {r["account_id"] for r in outcomes if r["cured"] == "1"} == payers
    assert 'id="synthetic"' in (out / "report.html").read_text(encoding="utf-8")


def test_without_a_response_model_nothing_is_synthetic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = _lender_file(tmp_path / "accounts.csv", 5, segment="standard")
    summary = _simulate(tmp_path, accounts, "out", "--engine", "fast")
    capsys.readouterr()
    assert summary["synthetic"] is False
    assert not (tmp_path / "out" / "synthetic_responses.csv").exists()
    assert not (tmp_path / "out" / "experiments.csv").exists()  # no pilot account


def test_the_experiment_report_finds_a_planted_effect_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a response model under which the challenger's contacts cure twice as often
    model = yaml.safe_load(SAMPLE_MODEL.read_text(encoding="utf-8"))
    model["pay"]["by_variant"] = {"email-first": 2.0}
    planted = tmp_path / "planted.yaml"
    planted.write_text(yaml.safe_dump(model), encoding="utf-8")
    accounts = _lender_file(tmp_path / "accounts.csv", 400)
    _simulate(tmp_path, accounts, "out", "--response-model", str(planted), "--seed", "5")
    capsys.readouterr()

    # When the experiment is reported
    assert main(["experiments", "report", str(tmp_path / "out"), "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)["experiments"]

    # Then it is labelled synthetic, counts every account, and its numbers are the file's
    outcomes = _rows(tmp_path / "out" / "experiments.csv")
    assert report["synthetic"] is True
    variants = {row["variant"]: row for row in report["variants"]}
    assert set(variants) == {"current", "email-first"}
    for name, row in variants.items():
        mine = [o for o in outcomes if o["variant"] == name]
        assert row["accounts"] == len(mine)
        assert row["cured"] == sum(o["cured"] == "1" for o in mine)
        low, high = row["cure_rate_ci"]
        assert low <= row["cure_rate"] <= high
    assert sum(row["accounts"] for row in variants.values()) == 400
    # And the challenger's planted advantage is found: its interval lies above zero
    challenger = variants["email-first"]
    assert challenger["difference"] > 0 and challenger["difference_ci"][0] > 0


def test_a_bad_response_model_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "model.yaml"
    bad.write_text(
        "pay: {base: 2}\ntime_to_pay: {median_hours: 1, sigma: 1}\nopt_out: {within_hours: 1}\n",
        encoding="utf-8",
    )
    accounts = _lender_file(tmp_path / "accounts.csv", 1)
    code = main(["simulate", str(accounts), "--response-model", str(bad), "--json"])
    assert code == 2
    error = json.loads(capsys.readouterr().out)
    assert "model.yaml: pay.base" in error["error"]
