"""The plan of one accepted lender file, computed off the request path and stored beside it.

Reads the upload as intake does (the lender from the bucket or the shipped files; an
OpenPGP-encrypted file decrypted with our key, and checked against the lender's signing key),
plans it as `rung plan` does (functions.plan.report) and stores a `StoredPlan` under
`plans/`. A file that cannot be planned (unknown lender, undecryptable, unreadable, no
sending rate) is stored too, with the reason: the console says why, never nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from functions.adapters.records import ObjectNotFound
from functions.core.errors import ConfigError, FileRejected
from functions.core.intake import UploadKey
from functions.core.ladder import load_ladder
from functions.core.lenders import LenderConfig
from functions.core.ports import FileDecryption, LenderSource, ObjectStore
from functions.plan.planner import plan
from functions.plan.report import (
    PLAN_DAYS,
    lay_out_file,
    minute_iso,
    plan_summary,
    sending_rates,
)
from functions.plan.stored import PlanRequest, StoredPlan, plan_key

PLAN_CONTENT_TYPE = "application/json"


class PlanPorts(Protocol):
    """What planning an upload needs from `functions.bootstrap.Services`."""

    @property
    def objects(self) -> ObjectStore: ...  # the uploads bucket: the file in, the plan out
    @property
    def decryption(self) -> FileDecryption: ...
    @property
    def lenders(self) -> LenderSource: ...


def plan_upload(
    ports: PlanPorts,
    request: PlanRequest,
    now: datetime,
    config_root: Path,
    default_rates: Mapping[str, int | None],
) -> StoredPlan:
    """Plan the upload `request` names, from the minute it arrived, and store the result."""
    upload = UploadKey.parse(request.key)
    start = request.received_at.astimezone(UTC).replace(second=0, microsecond=0)
    summary, error = None, ""
    try:
        lender = ports.lenders.get(upload.lender_id)
        with _plaintext(ports, upload, lender) as stream:
            report, demand = lay_out_file(stream, lender, config_root, start, PLAN_DAYS)
        if report.file_error:
            raise FileRejected(f"file rejected: {report.file_error}")
        rates = sending_rates(lender, default_rates)
        result = plan(demand, load_ladder(config_root, lender.ladder), rates)
        summary = plan_summary(result, report, lender)
    except (ConfigError, FileRejected, ObjectNotFound) as exc:
        error = str(exc)
    stored = StoredPlan(
        key=request.key,
        lender_id=upload.lender_id,
        start=minute_iso(start) or "",
        days=PLAN_DAYS,
        computed_at=now,
        plan=summary,
        error=error,
    )
    body = stored.model_dump_json(indent=2).encode("utf-8")
    ports.objects.put(plan_key(request.key), body, PLAN_CONTENT_TYPE)
    return stored


@contextmanager
def _plaintext(ports: PlanPorts, upload: UploadKey, lender: LenderConfig) -> Iterator[BinaryIO]:
    with ports.objects.open(upload.key) as stored:
        if not upload.encrypted:
            yield stored
            return
        with ports.decryption.open(stored, lender.pgp_signing_key) as plain:
            yield plain
