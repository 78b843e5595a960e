"""Optout Lambda: borrower replies (SMS, email) and SES delivery feedback, via SNS.

Every record of the batch is processed before any failure is raised: one bad record must not
hold back an opt-out in the next. Then the failures raise together (the async invoke's DLQ
keeps the event for replay; effects are idempotent, the confirmation is sent at most once).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.adapters.aws_errors import SDK_ERRORS
from functions.bootstrap import Services, optout_services
from functions.core.errors import RungError
from functions.core.feedback import Feedback, Outcome
from functions.core.models import Channel
from functions.core.replies import Intent, load_reply_rules
from functions.observability import logger, metrics
from functions.optout.aws_events import SnsEnvelope, describe, normalise, parse_sns_message
from functions.settings import OptoutSettings

# The errors one record may end in without stopping the batch: ours (typed, incl. a record we
# cannot read) and the AWS SDK's (a throttled table). Anything else is a bug and stops at once.
RECORD_ERRORS: tuple[type[Exception], ...] = (RungError, *SDK_ERRORS)


class InboundBatchFailed(RungError):
    """Some records of an SNS event failed; the others were processed. Names the failed ones."""

    def __init__(self, failed: dict[str, str]) -> None:
        listed = "; ".join(f"{record_id}: {reason}" for record_id, reason in failed.items())
        super().__init__(f"{len(failed)} record(s) failed: {listed}")
        self.failed = failed


class EventRejected(RungError):
    """The event is not an SNS Lambda event at all."""


def feedback_for(services: Services[OptoutSettings]) -> Feedback:
    settings = services.settings
    return Feedback(
        ports=services,
        rules=load_reply_rules(settings.config_root),
        config_root=settings.config_root,
        configuration_set=settings.ses_configuration_set or None,
        pause_alarms={
            name.strip(): Channel.EMAIL
            for name in settings.email_pause_alarms.split(",")
            if name.strip()
        },
    )


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    services: Services[OptoutSettings] | None = None,
) -> dict[str, int]:
    services = services or optout_services()
    try:
        envelope = SnsEnvelope.model_validate(event)
    except ValidationError as exc:
        raise EventRejected(f"not an SNS event: {describe(exc)}") from exc
    feedback = feedback_for(services)
    failed: dict[str, str] = {}
    errors: list[Exception] = []
    for record in envelope.Records:
        try:
            at = record.Sns.Timestamp
            inbound = normalise(parse_sns_message(record), at=at, rules=feedback.rules)
            outcome = feedback.handle(inbound, at=at, now=services.clock.now())
        except RECORD_ERRORS as exc:
            # Our errors carry no PII (InboundRejected names fields, never values); SDK errors
            # are named by type only. No traceback: a chained ValidationError quotes the input.
            failed[record.Sns.MessageId] = (
                str(exc) if isinstance(exc, RungError) else type(exc).__name__
            )
            logger.error(
                "inbound record failed",
                extra={
                    "sns_message_id": record.Sns.MessageId,
                    "error": failed[record.Sns.MessageId],
                },
            )
            metrics.add_metric(name="InboundFailed", unit=MetricUnit.Count, value=1)
            errors.append(exc)
            continue
        _report(outcome)
    if errors:
        raise InboundBatchFailed(failed) from errors[0]
    return {"processed": len(envelope.Records)}


def _report(outcome: Outcome) -> None:
    details = outcome.model_dump(mode="json", exclude_defaults=True, exclude={"metrics"})
    if outcome.intent is Intent.OTHER:
        # User story 6: a reply nobody understood needs a place where ops sees it.
        logger.warning("reply not understood", extra=details)
    else:
        logger.info("inbound handled", extra=details)
    for name in outcome.metrics:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
