"""The plan function (functions/plan) on in-memory adapters: what it stores when a file cannot
be planned, what the schedule function asks of it, and what its cold start imports. A plan
stored for a real upload, compared with `rung plan --json`, is in
tests/integration/test_plan_in_local_world.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.bootstrap import Services, memory_services
from functions.core.clock import FixedClock
from functions.plan import handler as plan_handler
from functions.plan.report import PLAN_DAYS
from functions.plan.stored import PlanEvent, PlanRequest, StoredPlan, plan_key
from functions.plan.uploads import plan_upload
from functions.schedule import handler as schedule_handler
from functions.settings import PROJECT_ROOT, Settings
from tests.unit.test_handler_imports import (
    DEFERRED,
    DEFERRED_UNLESS_SCHEDULE,
    NEVER_AT_COLD_START,
    loaded_at_cold_start,
)

NOW = datetime(2026, 12, 1, 9, 30, 40, tzinfo=UTC)
PLAN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rung-plan"
RATES = {"sms_per_second": 3, "email_per_second": 14}
SAMPLE = (PROJECT_ROOT / "samples" / "accounts.csv").read_bytes()


@dataclass
class FakeContext:
    function_name: str = "rung-schedule"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:rung-schedule"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def services(**settings: Any) -> Services[Settings]:
    return memory_services(Settings(**settings), FixedClock(NOW))


def stored(world: Services[Settings], upload_key: str) -> StoredPlan:
    with world.objects.open(plan_key(upload_key)) as body:
        return StoredPlan.model_validate_json(body.read())


def request(key: str) -> PlanRequest:
    return PlanRequest(key=key, received_at=NOW)


def test_a_plan_is_stored_under_plans_named_after_the_upload() -> None:
    assert plan_key("uploads/demo/march.csv.pgp") == "plans/demo/march.csv.pgp.json"
    world = services(sms_per_second=3, email_per_second=14)
    world.objects.put("uploads/demo/march.csv", SAMPLE, "text/csv")
    event = PlanEvent(rung_plan=request("uploads/demo/march.csv")).model_dump(mode="json")
    outcome = plan_handler.handler(event, FakeContext(), services=world)
    assert outcome == {
        "upload_key": "uploads/demo/march.csv",
        "plan_key": "plans/demo/march.csv.json",
        "fits": True,
        "accounts": 14,
        "error": "",
    }
    plan = stored(world, "uploads/demo/march.csv")
    # Planned from the minute the file arrived, over the CLI's default days
    assert (plan.start, plan.days, plan.computed_at) == ("2026-12-01T09:30Z", PLAN_DAYS, NOW)


@pytest.mark.parametrize(
    ("key", "body", "rates", "error"),
    [
        ("uploads/nobody/march.csv", SAMPLE, RATES, "unknown lender 'nobody'"),
        ("uploads/demo/gone.csv", None, RATES, "no object 'uploads/demo/gone.csv'"),
        (
            "uploads/demo/march.csv",
            SAMPLE,
            {"sms_per_second": None, "email_per_second": 14},
            "lender 'demo': no sms_per_second (neither the lender's send_rates nor the "
            "stack's default names one)",
        ),
        (
            "uploads/demo/sealed.csv.pgp",
            (PROJECT_ROOT / "samples" / "accounts.csv.pgp").read_bytes(),
            RATES,
            "the file is OpenPGP-encrypted but no decryption key is installed",
        ),
    ],
    ids=["unknown lender", "upload gone", "no sending rate", "no decryption key"],
)
def test_a_file_that_cannot_be_planned_stores_the_reason(
    key: str, body: bytes | None, rates: dict[str, int | None], error: str
) -> None:
    world = services()
    if body is not None:
        world.objects.put(key, body, "text/csv")
    result = plan_upload(world, request(key), NOW, PROJECT_ROOT, rates)
    assert result.plan is None
    assert error in result.error
    assert stored(world, key) == result


def _s3_event(key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
                    "object": {"key": key, "eTag": "e-1", "size": 1},
                },
            }
        ]
    }


def test_the_schedule_function_asks_for_a_plan_of_each_lender_file_it_finishes() -> None:
    world = services(plan_function=PLAN_ARN)
    world.objects.put("uploads/demo/march.csv", SAMPLE, "text/csv")
    world.objects.put("payments/demo/paid.csv", b"account_id,amount,paid_at\n", "text/csv")
    for key in ("uploads/demo/march.csv", "payments/demo/paid.csv", "uploads/demo/march.csv"):
        schedule_handler.handler(_s3_event(key), FakeContext(), services=world)
    # One request: the payments file is not a lender file, and the second event is a duplicate
    invocations = world.continuations.invocations  # type: ignore[attr-defined]
    assert [(arn, json.loads(payload)) for arn, payload in invocations] == [
        (
            PLAN_ARN,
            {"rung_plan": {"key": "uploads/demo/march.csv", "received_at": "2026-12-01T09:30:40Z"}},
        )
    ]


def test_without_a_plan_function_the_schedule_function_asks_for_none() -> None:
    world = services()
    world.objects.put("uploads/demo/march.csv", SAMPLE, "text/csv")
    schedule_handler.handler(_s3_event("uploads/demo/march.csv"), FakeContext(), services=world)
    assert world.continuations.invocations == []  # type: ignore[attr-defined]


def test_the_plan_functions_cold_start_leaves_first_use_libraries_unimported() -> None:
    # Given a fresh interpreter with the plan function's environment (the pacing defaults
    # are cdk.json's numbers in the stack)
    # When it imports the handler and validates its settings
    loaded = loaded_at_cold_start(
        "functions.plan.handler",
        "PlanSettings",
        {"RUNG_SMS_PER_SECOND": "3", "RUNG_EMAIL_PER_SECOND": "14"},
    )
    # Then the planner and the lender-file reader wait for the first plan, and so do the
    # libraries every function defers
    assert "functions.plan.handler" in loaded
    early = sorted(
        name
        for name in loaded
        if name.split(".")[0] in (*DEFERRED, *DEFERRED_UNLESS_SCHEDULE, "phonenumbers")
        or name in ("functions.plan.planner", "functions.core.lender_file")
        or any(name == part or name.startswith(f"{part}.") for part in NEVER_AT_COLD_START)
    )
    assert early == []
