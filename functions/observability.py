"""Logs and metrics: one logger and one metrics sink for every handler.

Every function logs structured JSON (never a phone number or an email: mask them with
`functions.core.masking`) and emits CloudWatch metrics in one namespace. Traces come from the
functions' active X-Ray tracing (the stack sets it): Lambda records each invocation's segment
and its initialisation without the X-Ray SDK in the function, whose import alone was a
quarter of a cold start (docs/decisions.md, "Cold start").
The service name (a metric dimension and a log field) comes from POWERTOOLS_SERVICE_NAME,
which the stack sets; the namespace is fixed here because the stack's alarms, metric filters
and dashboards watch it (infra/ reads `METRICS_NAMESPACE` from this module). Handlers apply
the decorators in one order: logger context, then metrics.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

METRICS_NAMESPACE = "Rung"

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
