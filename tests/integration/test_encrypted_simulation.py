"""The encrypted sample through `rung simulate` on both engines: uploaded encrypted, decrypted
by the schedule function with the key installed in the local world (the full engine checks the
schedule role may read that secret), and previewed exactly like the plain sample."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from functions.settings import PROJECT_ROOT
from rung.cli import main

SAMPLES = PROJECT_ROOT / "samples"
RUN = ["--start", "2026-12-01T00:00:00Z", "--days", "10"]


def _messages(folder: Path) -> list[dict[str, str]]:
    with (folder / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("engine", ["fast", "full"])
def test_encrypted_sample_previews_like_the_plain_one(tmp_path: Path, engine: str) -> None:
    plain, encrypted = tmp_path / "plain", tmp_path / "encrypted"
    assert (
        main(
            [
                "simulate",
                str(SAMPLES / "accounts.csv"),
                *RUN,
                "--engine",
                engine,
                "--out",
                str(plain),
            ]
        )
        == 0
    )
    key = SAMPLES / "pgp" / "rung-secret.asc"
    assert (
        main(
            [
                "simulate",
                str(SAMPLES / "accounts.csv.pgp"),
                "--pgp-key",
                str(key),
                *RUN,
                "--engine",
                engine,
                "--out",
                str(encrypted),
            ]
        )
        == 0
    )
    summaries = [json.loads((f / "summary.json").read_text()) for f in (plain, encrypted)]
    assert summaries[1]["rows"] == 15 and summaries[1]["decisions"]["SENT"] > 0
    assert summaries[0]["decisions"] == summaries[1]["decisions"]
    assert _messages(plain) == _messages(encrypted)


def test_encrypted_sample_without_the_key_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", str(SAMPLES / "accounts.csv.pgp"), *RUN, "--out", str(tmp_path)])
    assert code == 2
    assert "no decryption key is installed" in capsys.readouterr().err
    assert not (tmp_path / "summary.json").exists()
