"""The plan Lambda: a lender file the schedule function accepted → its capacity plan, stored
under `plans/` in the uploads bucket for the console (functions.plan.uploads).

Invoked asynchronously by the schedule function once intake has finished a lender file, so
planning (minutes for a million rows) never holds up intake or a console request. Logs only
keys, counts and the verdict: never a phone number or an email address.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.bootstrap import Services, plan_services
from functions.observability import logger, metrics
from functions.plan.stored import PlanEvent, plan_key
from functions.settings import PlanSettings


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    services: Services[PlanSettings] | None = None,
) -> dict[str, Any]:
    # The planner and the lender-file reader load on the first plan, not at the cold start.
    from functions.plan.uploads import plan_upload

    services = services or plan_services()
    settings = services.settings
    request = PlanEvent.model_validate(event).rung_plan
    defaults = {
        "sms_per_second": settings.sms_per_second,
        "email_per_second": settings.email_per_second,
    }
    stored = plan_upload(services, request, services.clock.now(), settings.config_root, defaults)
    plan = stored.plan or {}
    outcome = {
        "upload_key": stored.key,
        "plan_key": plan_key(stored.key),
        "fits": plan.get("fits"),
        "accounts": plan.get("accounts"),
        "error": stored.error,
    }
    logger.info("plan not made: reason stored" if stored.error else "plan stored", extra=outcome)
    metrics.add_metric(
        name="PlansNotMade" if stored.error else "PlansStored", unit=MetricUnit.Count, value=1
    )
    return outcome
