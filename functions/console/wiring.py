"""The console's services: boto3 adapters over the stack's tables (`aws_services`), or over
the local world's moto tables with its virtual clock (`local_services`)."""

from __future__ import annotations

from typing import Any

from functions.console.services import ConsoleServices
from functions.core.clock import Clock, SystemClock
from functions.settings import ConsoleSettings


def aws_services(
    settings: ConsoleSettings, clock: Clock | None = None, client: Any | None = None
) -> ConsoleServices:
    """Real adapters, named by the settings; `client`: one DynamoDB client for all tables."""
    from functions.adapters.dynamo import (
        DynamoAccountStore,
        DynamoChannelSwitch,
        DynamoDecisionLog,
        DynamoReviewQueue,
        DynamoSuppressionStore,
    )
    from functions.adapters.s3_objects import S3ObjectStore
    from functions.adapters.template_store import DynamoTemplateStore
    from functions.console.tables import DynamoConsoleLog, DynamoConsoleRecords

    retention = settings.audit_retention_days
    return ConsoleServices(
        clock=clock or SystemClock(),
        config_root=settings.config_root,
        lender_ids=settings.lenders,
        templates=DynamoTemplateStore(settings.templates_table, client=client),
        accounts=DynamoAccountStore(
            settings.accounts_table,
            retention_days=settings.account_retention_days,
            client=client,
        ),
        suppressions=DynamoSuppressionStore(settings.suppressions_table, client=client),
        channels=DynamoChannelSwitch(settings.suppressions_table, client=client),
        reviews=DynamoReviewQueue(settings.reviews_table, retention_days=retention, client=client),
        decisions=DynamoDecisionLog(settings.audit_table, retention_days=retention, client=client),
        objects=S3ObjectStore(settings.uploads_bucket),
        records=DynamoConsoleRecords(
            uploads_table=settings.uploads_table,
            suppressions_table=settings.suppressions_table,
            audit_table=settings.audit_table,
            ledger_table=settings.ledger_table,
            client=client,
        ),
        log=DynamoConsoleLog(settings.audit_table, retention_days=retention, client=client),
    )


def session_key(secret_arn: str) -> bytes:
    """The HMAC key of sign-in state and CSRF tokens, read from Secrets Manager."""
    from functions.adapters.secrets import console_session_key

    return console_session_key(secret_arn)
