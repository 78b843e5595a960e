"""`rung ladders redrive`: the RedriveExecution calls it makes and how it reports them.

moto has no RedriveExecution, so the Step Functions client is botocore's Stubber: it checks
each request against the service model and the expected parameters. Listing failed ladders
runs on moto's executor in tests/integration/test_send_on_moto.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from rung.cli import main
from rung.commands import ladders

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Rung-ladder"
WHEN = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:Rung-ladder:{name}"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "stepfunctions",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    monkeypatch.setattr(ladders.boto3, "client", lambda *args, **kwargs: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_redrive_one_ladder_by_name(stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response(
        "redrive_execution", {"redriveDate": WHEN}, {"executionArn": arn("demo-A1-x")}
    )

    code = main(["ladders", "redrive", "demo-A1-x", "--state-machine", MACHINE, "--json"])

    assert code == 0
    assert json.loads(capsys.readouterr().out) == {
        "redrive": [{"execution_arn": arn("demo-A1-x"), "redriven_at": WHEN.isoformat()}]
    }


def test_redrive_all_redrives_every_failed_ladder_and_reports_refusals(
    stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two failed executions, one of them past the 14 days Step Functions allows
    executions: list[dict[str, Any]] = [
        {
            "executionArn": arn(name),
            "stateMachineArn": MACHINE,
            "name": name,
            "status": "FAILED",
            "startDate": WHEN,
        }
        for name in ("demo-A1-x", "demo-A2-y")
    ]
    stub.add_response(
        "list_executions",
        {"executions": executions},
        {"stateMachineArn": MACHINE, "statusFilter": "FAILED"},
    )
    for execution in executions:
        stub.add_response(
            "describe_execution",
            {
                "executionArn": execution["executionArn"],
                "stateMachineArn": MACHINE,
                "status": "FAILED",
                "startDate": WHEN,
                "stopDate": WHEN,
                "error": "RuntimeError",
                "cause": "a defect",
            },
            {"executionArn": execution["executionArn"]},
        )
    stub.add_response(
        "redrive_execution", {"redriveDate": WHEN}, {"executionArn": arn("demo-A1-x")}
    )
    stub.add_client_error(
        "redrive_execution",
        service_error_code="ExecutionNotRedrivable",
        service_message="older than 14 days",
        expected_params={"executionArn": arn("demo-A2-y")},
    )

    # When ops redrive them all
    code = main(["ladders", "redrive", "--all", "--state-machine", MACHINE])

    # Then both were asked for, the refusal is named, and the exit code says so
    out = capsys.readouterr().out
    assert code == 1
    assert f"demo-A1-x: redriven at {WHEN.isoformat()}" in out
    assert "demo-A2-y: ExecutionNotRedrivable: older than 14 days" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ladders", "redrive", "--state-machine", MACHINE], "give one execution NAME or --all"),
        (["ladders", "redrive", "x", "--all", "--state-machine", MACHINE], "NAME or --all"),
        (["ladders", "failed", "x", "--state-machine", MACHINE], "takes no NAME"),
        (["ladders", "failed", "--state-machine", ""], "name the state machine"),
        (["ladders", "redrive", "x", "--state-machine", "not-an-arn"], "not a state machine ARN"),
    ],
)
def test_ladders_bad_input_exits_2_with_a_clear_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 2
    assert message in capsys.readouterr().err
