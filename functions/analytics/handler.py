"""The analytics Lambda: DynamoDB Streams (accounts, audit, ledger) → events → Firehose.

Thin: read the batch's table changes, map each to analytics events (functions.core.analytics:
decisions, replies, delivery receipts, uploads, status changes, payments), put them to the
Firehose stream. Nothing personal leaves: an account is only its HMAC key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.adapters.analytics_stream import FirehoseEvents, analytics_key, table_changes
from functions.adapters.dynamo import DynamoAccountStore
from functions.core.analytics import AnalyticsEvent, StreamTable, change_events
from functions.core.lenders import UnitPrices, load_lender
from functions.core.models import Account, Channel
from functions.observability import logger, metrics
from functions.settings import AnalyticsSettings


class EventSink(Protocol):
    def put(self, events: list[AnalyticsEvent]) -> None: ...


class AddressBook(Protocol):
    def find_by_address(self, channel: Channel, address: str) -> list[Account]: ...


@dataclass(frozen=True)
class AnalyticsServices:
    settings: AnalyticsSettings
    sink: EventSink
    secret: bytes
    accounts: AddressBook  # who holds the address a reply came from


@cache
def _services() -> AnalyticsServices:
    settings = AnalyticsSettings.from_environment()
    return AnalyticsServices(
        settings=settings,
        sink=FirehoseEvents(settings.analytics_stream),
        secret=analytics_key(settings.analytics_key_secret_arn),
        accounts=DynamoAccountStore(settings.accounts_table),
    )


@logger.inject_lambda_context
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: LambdaContext, services: AnalyticsServices | None = None
) -> dict[str, Any]:
    services = services or _services()
    settings = services.settings
    tables = {
        settings.accounts_table: StreamTable.ACCOUNTS,
        settings.audit_table: StreamTable.AUDIT,
        settings.ledger_table: StreamTable.LEDGER,
    }

    @cache
    def prices(lender_id: str) -> UnitPrices:
        return load_lender(settings.config_root, lender_id).prices

    def holders(channel: Channel, address: str) -> list[tuple[str, str]]:
        found = services.accounts.find_by_address(channel, address)
        return [(a.lender_id, a.account_id) for a in found]

    events: list[AnalyticsEvent] = []
    for change in table_changes(event, tables):
        events.extend(
            change_events(
                change.table, change.old, change.new, change.at, services.secret, prices, holders
            )
        )
    if events:
        services.sink.put(events)
    metrics.add_metric(name="AnalyticsEvents", unit=MetricUnit.Count, value=len(events))
    logger.info(
        "analytics events", extra={"records": len(event.get("Records", [])), "events": len(events)}
    )
    return {"events": len(events)}
