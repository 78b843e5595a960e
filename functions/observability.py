"""Logs, metrics and traces: one logger, one metrics sink and one tracer for every handler.

Every function logs structured JSON (never a phone number or an email: mask them with
`functions.core.masking`), emits CloudWatch metrics in one namespace and traces with X-Ray.
The service name (a metric dimension and a log field) comes from POWERTOOLS_SERVICE_NAME,
which the stack sets; the namespace is fixed here because the stack's alarms, metric filters
and dashboards watch it (infra/ reads `METRICS_NAMESPACE` from this module). Handlers apply
the decorators in one order: logger context, metrics, tracer.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "Rung"

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
tracer = Tracer()
