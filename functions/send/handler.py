"""Send Lambda: one rung of one account ladder (invoked by the ladder state machine).

Input and output are the ladder state (functions.core.ladder.LadderState). After the ASL's
transient Catch, the same function is invoked again with the state plus `transient`
(DeferRung): a fault outlasted the short retries, and the rung is deferred. A throttled or
failing AWS dependency (DynamoDB, Secrets Manager) is raised as TransientSendError, the name
the ASL retries and defers on. Any other error fails the execution where it happened, for
RedriveExecution to resume once the defect is fixed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Nearly every rung's gate reads the borrower's phone number for its time zones, which
# functions.core.zones imports on first use (for the optout function, whose receipts read
# none): the send function loads it at its cold start, where it is paid anyway.
import phonenumbers.timezone  # noqa: F401
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.adapters.aws_errors import transient_faults_deferred
from functions.bootstrap import Services, send_services
from functions.core.ladder import LadderState
from functions.core.models import Decision
from functions.core.sending import TRANSIENT_REASONS, RungSender, Step
from functions.observability import logger, metrics
from functions.settings import SendSettings


class TaskError(BaseModel):
    """What the ASL's transient Catch adds under `$.transient`."""

    Error: str = "Unknown"
    Cause: str = ""


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    services: Services[SendSettings] | None = None,
) -> dict[str, Any]:
    state = LadderState.model_validate(event)
    fault = TaskError.model_validate(event["transient"]) if "transient" in event else None
    step = take_step(state, fault, services or send_services())
    _count(step)
    return step.state.model_dump(mode="json")


def take_step(
    state: LadderState, fault: TaskError | None, services: Services[SendSettings]
) -> Step:
    """The handler's work on a parsed state, metrics and decision logs aside (the simulator
    calls it without the Lambda wrapping: no JSON round trip, no Powertools decorators)."""
    sender = _sender(services)
    with transient_faults_deferred():
        if fault is not None:
            logger.warning("rung deferred after a transient fault", extra={"error": fault.Error})
            step = sender.defer(state, fault.Error)
        else:
            step = sender.step(state)
    return step


@lru_cache(maxsize=4)
def _sender(services: Services[SendSettings]) -> RungSender:
    """One sender per warm container (profiles, lender and ladder files are read once)."""
    return RungSender.from_services(services)


_METRIC = {
    Decision.SENT: "Sent",
    Decision.DEFERRED: "Deferred",
    Decision.SUPPRESSED: "Suppressed",
    Decision.UNCERTAIN: "UncertainSends",
}


def _count(step: Step) -> None:
    for record in step.records:
        metrics.add_metric(name=_METRIC[record.decision], unit=MetricUnit.Count, value=1)
        if record.reason == "template_not_approved":
            metrics.add_metric(name="TemplateNotApproved", unit=MetricUnit.Count, value=1)
        if record.reason in TRANSIENT_REASONS:
            metrics.add_metric(name="TransientDeferrals", unit=MetricUnit.Count, value=1)
        logger.info(
            "rung decision",
            extra={
                "account": record.account_id,
                "rung": record.rung,
                "channel": record.channel.value,
                "decision": record.decision.value,
                "reason": record.reason,
                "address": record.address_masked,
            },
        )
