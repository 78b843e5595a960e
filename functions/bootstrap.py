"""Wiring: the Services container every handler uses, built once per Lambda container.

Handlers take an optional `services` argument; tests and the simulator pass in-memory
adapters or a virtual clock, production uses `default_services()` (boto3 adapters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

from functions.core.clock import Clock, SystemClock
from functions.core.ports import (
    AccountStore,
    AddressLeases,
    AuditLog,
    ChannelSwitch,
    Continuations,
    DecisionLog,
    EmailSender,
    FileDecryption,
    InboundLog,
    LadderControl,
    Ledger,
    ObjectStore,
    ReviewQueue,
    SendSlots,
    SmsSender,
    SuppressionStore,
    TemplateStore,
    UploadStore,
)
from functions.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    accounts: AccountStore
    suppressions: SuppressionStore
    ledger: Ledger
    audit: AuditLog
    templates: TemplateStore
    sms: SmsSender
    email: EmailSender
    ladders: LadderControl
    uploads: UploadStore
    objects: ObjectStore
    decryption: FileDecryption  # OpenPGP-encrypted lender files
    inbound: InboundLog
    continuations: Continuations
    channels: ChannelSwitch
    reviews: ReviewQueue  # replies ops must look at
    decisions: DecisionLog  # every inbound decision, append-only
    slots: SendSlots  # pacing counters (functions.core.pacing)
    leases: AddressLeases  # one send at a time per address (functions.core.sending)
    # The HMAC key of one-click unsubscribe links; a function so it is fetched only when used.
    unsubscribe_key: Callable[[], bytes]


def aws_services(settings: Settings, clock: Clock | None = None) -> Services:
    """boto3 adapters for every port, named by `settings` (the CDK stack sets RUNG_* variables)."""
    # Imported here so that pure-core users (CLI validate, when, reply) never import boto3.
    from functions.adapters.dynamo import (
        DynamoAccountStore,
        DynamoAddressLeases,
        DynamoAuditLog,
        DynamoChannelSwitch,
        DynamoDecisionLog,
        DynamoInboundLog,
        DynamoLedger,
        DynamoReviewQueue,
        DynamoSendSlots,
        DynamoSuppressionStore,
        DynamoUploadStore,
    )
    from functions.adapters.messaging import (
        LambdaContinuations,
        S3ObjectStore,
        SesEmailSender,
        SfnLadderControl,
        SmsVoiceSender,
    )
    from functions.adapters.openpgp import OpenPgpDecryption
    from functions.adapters.secrets import pgp_secret_key, signing_key
    from functions.adapters.template_store import DynamoTemplateStore

    return Services(
        settings=settings,
        clock=clock or SystemClock(),
        accounts=DynamoAccountStore(
            settings.accounts_table, retention_days=settings.account_retention_days
        ),
        suppressions=DynamoSuppressionStore(settings.suppressions_table),
        ledger=DynamoLedger(settings.ledger_table),
        audit=DynamoAuditLog(settings.audit_table, retention_days=settings.audit_retention_days),
        templates=DynamoTemplateStore(settings.templates_table),
        sms=SmsVoiceSender(settings.sms_configuration_set, opt_out_list=settings.sms_opt_out_list),
        email=SesEmailSender(),
        ladders=SfnLadderControl(settings.state_machine_arn),
        uploads=DynamoUploadStore(settings.uploads_table),
        objects=S3ObjectStore(settings.uploads_bucket),
        decryption=OpenPgpDecryption(lambda: pgp_secret_key(settings.pgp_secret_arn)),
        inbound=DynamoInboundLog(settings.inbound_table),
        continuations=LambdaContinuations(),
        channels=DynamoChannelSwitch(settings.suppressions_table),
        reviews=DynamoReviewQueue(
            settings.reviews_table, retention_days=settings.audit_retention_days
        ),
        decisions=DynamoDecisionLog(
            settings.audit_table, retention_days=settings.audit_retention_days
        ),
        slots=DynamoSendSlots(settings.ledger_table),
        leases=DynamoAddressLeases(settings.ledger_table),
        unsubscribe_key=lambda: signing_key(settings.unsubscribe_secret_arn),
    )


# Signs unsubscribe links in tests and simulations only: those links never leave the process.
LOCAL_UNSUBSCRIBE_KEY = b"rung-local-unsubscribe-signing-key-not-for-production"


def memory_services(
    settings: Settings | None = None, clock: Clock | None = None, **overrides: object
) -> Services:
    """In-memory adapters for every port: tests and the simulator's fast engine."""
    from functions.adapters.memory import (
        MemoryAccountStore,
        MemoryAddressLeases,
        MemoryAuditLog,
        MemoryChannelSwitch,
        MemoryContinuations,
        MemoryDecisionLog,
        MemoryEmail,
        MemoryInboundLog,
        MemoryLadderControl,
        MemoryLedger,
        MemoryObjectStore,
        MemoryReviewQueue,
        MemorySendSlots,
        MemorySms,
        MemorySuppressionStore,
        MemoryUploadStore,
    )
    from functions.adapters.openpgp import OpenPgpDecryption
    from functions.adapters.template_store import MemoryTemplateStore

    services = Services(
        settings=settings or Settings(),
        clock=clock or SystemClock(),
        accounts=MemoryAccountStore(),
        suppressions=MemorySuppressionStore(),
        ledger=MemoryLedger(),
        audit=MemoryAuditLog(),
        templates=MemoryTemplateStore(),
        sms=MemorySms(),
        email=MemoryEmail(),
        ladders=MemoryLadderControl(),
        uploads=MemoryUploadStore(),
        objects=MemoryObjectStore(),
        decryption=OpenPgpDecryption(lambda: ""),  # no key: encrypted files are rejected
        inbound=MemoryInboundLog(),
        continuations=MemoryContinuations(),
        channels=MemoryChannelSwitch(),
        reviews=MemoryReviewQueue(),
        decisions=MemoryDecisionLog(),
        slots=MemorySendSlots(),
        leases=MemoryAddressLeases(),
        unsubscribe_key=lambda: LOCAL_UNSUBSCRIBE_KEY,
    )
    return replace(services, **overrides)  # type: ignore[arg-type]


@cache
def default_services() -> Services:
    """Built on first use in a Lambda container, then reused by every warm invocation."""
    return aws_services(Settings())
