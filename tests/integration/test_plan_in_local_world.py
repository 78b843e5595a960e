"""The plan function in the local world: a lender file the schedule function accepts is
planned off the request path, under the plan role of the synthesized stack, and the plan it
stores beside the upload is what `rung plan --json` prints for the same file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.plan.stored import StoredPlan, plan_key
from functions.settings import PROJECT_ROOT
from rung.cli import main
from rung.localworld import LocalWorld

pytestmark = pytest.mark.slow

SAMPLES = PROJECT_ROOT / "samples"
START = datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC)  # the plan starts at its minute
# The pacing defaults the stack gives the plan function: cdk.json's send_rates
RATES = json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]["rung"][
    "send_rates"
]


@pytest.fixture(scope="module")
def world() -> Iterator[LocalWorld]:
    environment = {
        "RUNG_SMS_PER_SECOND": str(RATES["sms_per_second"]),
        "RUNG_EMAIL_PER_SECOND": str(RATES["email_per_second"]),
    }
    key = (SAMPLES / "pgp" / "rung-secret.asc").read_text(encoding="ascii")
    with LocalWorld(START, environment=environment, pgp_key=key) as local:
        yield local


def _stored(world: LocalWorld, upload_key: str) -> StoredPlan:
    body = world.client("s3").get_object(Bucket=world.resources.bucket, Key=plan_key(upload_key))
    return StoredPlan.model_validate_json(body["Body"].read())


def _cli_plan(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    arguments = ["--lender", "demo", "--json", "--start", "2026-12-01T09:30:00Z"]
    code = main(["plan", str(SAMPLES / "accounts.csv"), *arguments])
    assert code == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    return printed


def test_an_accepted_lender_file_is_planned_as_rung_plan_plans_it(
    world: LocalWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the sample lender file uploaded; the schedule function accepts it
    world.put_object("uploads/demo/accounts.csv", (SAMPLES / "accounts.csv").read_bytes())
    # When the plan function it invoked has run
    stored = _stored(world, "uploads/demo/accounts.csv")
    # Then its plan is `rung plan --json` on the same file from the minute it arrived
    assert (stored.error, stored.start, stored.days) == ("", "2026-12-01T09:30Z", 35)
    assert stored.plan == _cli_plan(capsys)
    assert stored.plan is not None and stored.plan["rejected"] == 1
    assert (stored.file, stored.lender_id, stored.computed_at) == ("accounts.csv", "demo", START)
    assert world.handler_errors == []


def test_an_encrypted_lender_file_is_decrypted_and_planned_like_the_plain_one(
    world: LocalWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.put_object("uploads/demo/sealed.csv.pgp", (SAMPLES / "accounts.csv.pgp").read_bytes())
    stored = _stored(world, "uploads/demo/sealed.csv.pgp")
    assert stored.error == ""
    assert stored.plan == _cli_plan(capsys)


def test_a_file_that_cannot_be_planned_stores_why(world: LocalWorld) -> None:
    world.put_object("uploads/demo/columns.csv", b"account,phone\nA-1,+14155550123\n")
    stored = _stored(world, "uploads/demo/columns.csv")
    assert stored.plan is None
    assert stored.error == "missing required column(s): account_id, amount_due, currency, due_date"


def test_payments_files_are_not_planned(world: LocalWorld) -> None:
    world.put_object("payments/demo/paid.csv", (SAMPLES / "payments.csv").read_bytes())
    listed = world.client("s3").list_objects_v2(Bucket=world.resources.bucket, Prefix="plans/")
    assert "plans/demo/paid.csv.json" not in {item["Key"] for item in listed["Contents"]}
