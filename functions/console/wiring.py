"""The console's services: boto3 adapters over the stack's tables (`aws_services`), or over
the local world's moto tables with its virtual clock (`local_services`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.console.services import ConsoleServices
from functions.core.clock import Clock, SystemClock
from functions.settings import ConsoleLambdaSettings, ConsoleSettings

if TYPE_CHECKING:
    from functions.console.outcomes import AthenaOutcomes


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


def athena_outcomes(settings: ConsoleLambdaSettings, clock: Clock) -> AthenaOutcomes:
    """The KPIs, experiments and plan pages' reports in AWS: Athena in the analytics
    workgroup, its batch item in the analytics bucket; the plans stored in the uploads
    bucket; the experiments' tallies in the accounts table."""
    import boto3

    from functions.adapters.dynamo import DynamoExperimentTally
    from functions.adapters.s3_objects import S3ObjectStore
    from functions.console.outcomes import AthenaOutcomes, TalliedExperiments
    from functions.kpis.athena import AthenaQueries
    from functions.plan.stored import S3StoredPlans

    return AthenaOutcomes(
        queries=AthenaQueries(
            boto3.client("athena"), settings.analytics_workgroup, settings.analytics_database
        ),
        store=S3ObjectStore(settings.analytics_bucket),
        plans=S3StoredPlans(settings.uploads_bucket),
        results_prefix=settings.analytics_results_prefix,
        clock=clock,
        config_root=settings.config_root,
        wait_seconds=settings.report_wait_seconds,
        fresh_minutes=settings.report_fresh_minutes,
        tallies=TalliedExperiments(
            tally=DynamoExperimentTally(settings.accounts_table),
            config_root=settings.config_root,
            lender_ids=settings.lenders,
        ),
    )


def session_key(secret_arn: str) -> bytes:
    """The HMAC key of sign-in state and CSRF tokens, read from Secrets Manager."""
    from functions.adapters.secrets import console_session_key

    return console_session_key(secret_arn)
