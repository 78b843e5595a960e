"""The schedule Lambda: S3 ObjectCreated on uploads/ and payments/ → `functions.core.intake`.

Thin: parse the event, call `ingest` per object, log counts (never a phone or an email:
only keys, counts and column names), emit metrics. A file too large for one invocation
is continued by invoking this function again asynchronously with a `Continuation`. A lender
file finished is handed to the plan function (functions/plan), asynchronously, to be planned.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.adapters.aws_errors import SDK_ERRORS
from functions.bootstrap import Services, schedule_services
from functions.core.intake import Continuation, IntakeOutcome, ingest
from functions.core.models import UploadKind, UploadRecord
from functions.observability import logger, metrics
from functions.plan.stored import PlanEvent, PlanRequest
from functions.settings import ScheduleSettings

# Stop taking new batches with this much time left: a batch of 500 rows (reads, one
# batch write, up to 500 StartExecution calls with back-off) must still fit, plus the
# report upload and the re-invocation.
RESERVE_MILLIS = 90_000
INTAKE_PREFIXES = ("uploads/", "payments/")


class ContinuationEvent(BaseModel):
    """What this function sends itself to resume a large file."""

    model_config = ConfigDict(frozen=True)

    rung_continuation: Continuation


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    services: Services[ScheduleSettings] | None = None,
) -> dict[str, Any]:
    services = services or schedule_services()
    settings = services.settings

    def should_pause() -> bool:
        return context.get_remaining_time_in_millis() < RESERVE_MILLIS

    outcomes: list[IntakeOutcome] = []
    if "rung_continuation" in event:
        resume = ContinuationEvent.model_validate(event).rung_continuation
        record = resume.record
        outcomes.append(
            ingest(
                services,
                record.key,
                record.etag,
                services.clock.now(),
                settings.config_root,
                settings.reports_prefix,
                configuration_set=settings.ses_configuration_set or None,
                resume=resume,
                should_pause=should_pause,
            )
        )
    else:
        for key, etag in _created_objects(event):
            if not key.startswith(INTAKE_PREFIXES):
                # Reports go to rejects/ in the same bucket: never read our own output.
                logger.warning("not an upload: ignored", extra={"upload_key": key})
                continue
            outcomes.append(
                ingest(
                    services,
                    key,
                    etag,
                    services.clock.now(),
                    settings.config_root,
                    settings.reports_prefix,
                    configuration_set=settings.ses_configuration_set or None,
                    should_pause=should_pause,
                )
            )
    for outcome in outcomes:
        _observe(outcome)
        if outcome.continuation is not None:
            _continue_later(services, context, outcome.continuation)
        elif _accepted_lender_file(outcome) and settings.plan_function:
            _plan_later(services, outcome.record)
    return {"uploads": [outcome.record.model_dump(mode="json") for outcome in outcomes]}


def _created_objects(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, ETag) of each object of an S3 ObjectCreated event, read as Powertools' S3Event
    reads them, without importing every event class it ships (a tenth of a cold start)."""
    objects = []
    for record in event["Records"]:
        obj = record["s3"]["object"]
        # S3 event keys are URL-encoded ("a+b.csv" = "a b.csv"); a deletion carries no ETag.
        objects.append((unquote_plus(obj["key"]), obj.get("eTag") or ""))
    return objects


def _observe(outcome: IntakeOutcome) -> None:
    record = outcome.record
    metrics.add_metric(name="RowsAccepted", unit=MetricUnit.Count, value=outcome.accepted)
    metrics.add_metric(name="RowsRejected", unit=MetricUnit.Count, value=outcome.rejected)
    metrics.add_metric(name="LaddersStarted", unit=MetricUnit.Count, value=outcome.ladders_started)
    logger.info(
        "upload duplicate: nothing done" if outcome.duplicate else "upload processed",
        extra={
            "upload_key": record.key,
            "etag": record.etag,
            "lender_id": record.lender_id,
            "kind": record.kind.value,
            "rows": record.rows,
            "accepted": record.accepted,
            "rejected": record.rejected,
            "blank_lines": outcome.blank_lines,
            "ignored_columns": list(outcome.ignored_columns),
            "file_error": record.file_error,
            "report_key": record.report_key,
            "finished": record.finished,
        },
    )


def _accepted_lender_file(outcome: IntakeOutcome) -> bool:
    """A lender file intake has finished with now (a duplicate was planned the first time)."""
    record = outcome.record
    return record.kind is UploadKind.ACCOUNTS and record.finished and not outcome.duplicate


def _plan_later(services: Services[ScheduleSettings], record: UploadRecord) -> None:
    """Ask the plan function for the file's capacity plan (functions.plan), asynchronously. A
    refused request is logged, never fatal: the file is in, the plan only reports on it."""
    request = PlanEvent(rung_plan=PlanRequest(key=record.key, received_at=record.received_at))
    try:
        services.continuations.continue_later(
            services.settings.plan_function, request.model_dump_json()
        )
    except SDK_ERRORS as exc:
        logger.warning("plan not requested", extra={"upload_key": record.key, "error": str(exc)})


def _continue_later(
    services: Services[ScheduleSettings], context: LambdaContext, continuation: Continuation
) -> None:
    """Invoke this same function asynchronously (Lambda retries async invocations twice)."""
    payload = ContinuationEvent(rung_continuation=continuation).model_dump_json()
    services.continuations.continue_later(context.invoked_function_arn, payload)
    logger.info(
        "upload continues in a new invocation",
        extra={"upload_key": continuation.record.key, "rows": continuation.record.rows},
    )
