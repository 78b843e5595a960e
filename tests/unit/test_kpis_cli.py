"""`rung kpis` as a user meets it, and the Athena engine against Athena's API shapes."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from functions.kpis.athena import AthenaEngine
from functions.kpis.report import KpiEngineError
from rung.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_kpis_of_the_sample_simulation_in_json_tables_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the samples simulated (one account pays in full, one in part)
    out = tmp_path / "run"
    simulate = [
        "simulate", str(SAMPLES / "accounts.csv"), "--payments", str(SAMPLES / "payments.csv"),
        "--replies", str(SAMPLES / "replies.csv"), "--start", "2026-12-01T00:00:00Z",
        "--days", "35", "--out", str(out), "--engine", "fast", "--json",
    ]  # fmt: skip
    assert main(simulate) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (out / "events").iterdir()) == ["lender=demo"]

    # When its KPIs are asked for as JSON
    assert main(["kpis", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    # Then the contract's keys are there, and the accounts are those the ladder decided for
    assert {"accounts", "cured", "cure_rate", "by_rung", "by_channel", "by_template"} <= set(report)
    assert "by_variant" in report
    assert report["accounts"] == 13  # 14 accepted; the disputed one never gets a rung decided
    assert report["cured"] == 1
    # ... and as tables with a page of charts that loads nothing from anywhere
    page = tmp_path / "kpis.html"
    assert main(["kpis", str(out), "--out", str(page)]) == 0
    text = capsys.readouterr().out
    assert "cure rate" in text and "Payments after each rung" in text
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert "src=" not in html and "https://" not in html


def test_kpis_of_a_folder_without_events_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kpis", str(tmp_path), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert "no analytics events" in error["error"]


def test_kpis_needs_a_folder_or_athena_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kpis"]) == 2
    assert main(["kpis", "out", "--athena"]) == 2
    assert "one of them" in capsys.readouterr().err


def test_athena_engine_runs_in_the_workgroup_and_reads_typed_rows() -> None:
    client = boto3.client("athena", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "start_query_execution",
            {"QueryExecutionId": "q-1"},
            {
                "QueryString": "SELECT 1",
                "QueryExecutionContext": {"Database": "rung_analytics"},
                "WorkGroup": "Rung-kpis",
            },
        )
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}},
            {"QueryExecutionId": "q-1"},
        )
        columns = [
            {"Name": "channel", "Type": "varchar"},
            {"Name": "sent", "Type": "bigint"},
            {"Name": "delivery_rate", "Type": "double"},
        ]
        stub.add_response(
            "get_query_results",
            {
                "ResultSet": {
                    "ResultSetMetadata": {"ColumnInfo": columns},
                    "Rows": [
                        {
                            "Data": [
                                {"VarCharValue": n} for n in ("channel", "sent", "delivery_rate")
                            ]
                        },
                        {"Data": [{"VarCharValue": "sms"}, {"VarCharValue": "3"}, {}]},
                    ],
                }
            },
            {"QueryExecutionId": "q-1"},
        )
        rows = AthenaEngine(client, "Rung-kpis", "rung_analytics", poll_seconds=0).rows("SELECT 1")
    assert rows == [{"channel": "sms", "sent": 3, "delivery_rate": None}]


def test_athena_engine_names_why_a_query_failed() -> None:
    client = boto3.client("athena", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"}, None)
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: events"}
                }
            },
            {"QueryExecutionId": ANY},
        )
        engine = AthenaEngine(client, "Rung-kpis", "rung_analytics", poll_seconds=0)
        with pytest.raises(KpiEngineError, match="TABLE_NOT_FOUND: events"):
            engine.rows("SELECT 1")
