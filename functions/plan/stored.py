"""Capacity plans stored beside the uploads: `plans/{lender_id}/{file}.json` in the uploads
bucket (encrypted by the bucket's key, expired with the uploads by its lifecycle rule).

The schedule function asks for a plan (`PlanRequest`) once it has accepted a lender file; the
plan function stores a `StoredPlan` (the plan, or why none could be made); the console's
Capacity plan page shows the newest (`S3StoredPlans.latest`). Only pydantic is imported here,
so the schedule and console functions' cold starts stay as they were.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

PLANS_PREFIX = "plans/"
UPLOADS_PREFIX = "uploads/"


class PlanRequest(BaseModel):
    """A lender file to plan: its key in the uploads bucket and when it arrived."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    received_at: datetime


class PlanEvent(BaseModel):
    """What the schedule function sends the plan function (asynchronously)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rung_plan: PlanRequest


class StoredPlan(BaseModel):
    """One file's plan: `plan` is what `rung plan FILE --start START --days DAYS --json`
    prints, or None when the plan could not be made, and `error` says why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str  # the upload's key
    lender_id: str
    start: str  # when the file arrived, to the minute ("2026-12-01T09:00Z")
    days: int
    computed_at: datetime
    plan: dict[str, Any] | None = None
    error: str = ""

    @property
    def file(self) -> str:
        return self.key.rpartition("/")[2]


def plan_key(upload_key: str) -> str:
    """`uploads/demo/march.csv.pgp` → `plans/demo/march.csv.pgp.json`."""
    return f"{PLANS_PREFIX}{upload_key.removeprefix(UPLOADS_PREFIX)}.json"


class S3StoredPlans:
    """The stored plans, read by the console: the newest is the one computed last.

    S3 lists `plans/` (the role may list that prefix only) rather than guessing a key: a
    missing key would answer 403, not 404, to a role without the whole bucket's listing."""

    def __init__(self, bucket: str, *, client: Any | None = None) -> None:
        self.bucket = bucket
        self._given_client = client

    @cached_property
    def client(self) -> Any:
        import boto3

        return self._given_client or boto3.client("s3")

    def latest(self) -> StoredPlan | None:
        newest: dict[str, Any] | None = None
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=PLANS_PREFIX
        )
        for page in pages:
            for item in page.get("Contents", []):
                if newest is None or item["LastModified"] > newest["LastModified"]:
                    newest = item
        if newest is None:
            return None
        body = self.client.get_object(Bucket=self.bucket, Key=newest["Key"])["Body"].read()
        return StoredPlan.model_validate_json(body)
