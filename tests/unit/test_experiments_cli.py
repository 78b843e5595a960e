"""`rung experiments report`: numbers from experiments.csv, clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rung.cli import main
from rung.experiment_report import COLUMNS, Outcome, write_outcomes
from rung.experiment_stats import Arm, cure_interval, difference_interval

EXPERIMENT = "email-first-2026q4"


def _outcomes(folder: Path, arms: dict[str, tuple[int, int]], synthetic: bool = False) -> Path:
    folder.mkdir(exist_ok=True)
    rows = [
        Outcome(f"{variant}-{i}", EXPERIMENT, variant, "hash", i < cured, False, synthetic)
        for variant, (accounts, cured) in arms.items()
        for i in range(accounts)
    ]
    write_outcomes(folder / "experiments.csv", rows)
    return folder


def test_the_report_gives_rates_intervals_difference_and_sample_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _outcomes(tmp_path / "out", {"current": (500, 100), "email-first": (480, 120)})
    assert main(["experiments", "report", str(out), "--json", "--min-effect", "0.05"]) == 0
    [report] = json.loads(capsys.readouterr().out)["experiments"]
    assert report["champion"] == "current" and report["synthetic"] is False
    current, challenger = report["variants"]
    champion_arm, challenger_arm = Arm("current", 500, 100), Arm("email-first", 480, 120)
    assert (current["accounts"], current["cured"], current["cure_rate"]) == (500, 100, 0.2)
    wilson = cure_interval(champion_arm)
    assert current["cure_rate_ci"] == pytest.approx([wilson.low, wilson.high], abs=1e-6)
    newcombe = difference_interval(challenger_arm, champion_arm)
    assert newcombe is not None
    assert challenger["difference"] == pytest.approx(0.05)
    assert challenger["difference_ci"] == pytest.approx([newcombe.low, newcombe.high], abs=1e-6)
    assert report["accounts_needed_per_arm"] > 1000
    assert challenger["accounts_still_needed"] == report["accounts_needed_per_arm"] - 480
    assert "difference" not in current


def test_the_text_report_says_synthetic_when_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _outcomes(tmp_path / "out", {"current": (50, 10), "email-first": (50, 12)}, True)
    assert main(["experiments", "report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "email-first" in text and "vs champion +4.0 points" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("account_id,experiment\n", "missing column(s)"),
        (
            ",".join(COLUMNS) + f"\nA,{EXPERIMENT},current,hash,yes,0,0\n",
            "line 2: cured must be 0 or 1",
        ),
        (",".join(COLUMNS) + "\nA,other-exp,current,hash,1,0,0\n", "experiment 'other-exp' is not"),
    ],
)
def test_a_bad_experiments_file_is_refused_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (tmp_path / "experiments.csv").write_text(content, encoding="utf-8")
    assert main(["experiments", "report", str(tmp_path), "--json"]) == 2
    assert message in json.loads(capsys.readouterr().out)["error"]


def test_a_folder_without_experiments_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["experiments", "report", str(tmp_path / "nowhere"), "--json"]) == 2
    assert "no such folder" in json.loads(capsys.readouterr().out)["error"]
    assert main(["experiments", "report", str(tmp_path), "--json"]) == 2
    assert "not found" in json.loads(capsys.readouterr().out)["error"]


def test_a_min_effect_outside_zero_to_one_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["experiments", "report", str(tmp_path), "--min-effect", "5", "--json"]) == 2
    assert "--min-effect" in json.loads(capsys.readouterr().out)["error"]
