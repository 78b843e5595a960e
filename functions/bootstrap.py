"""Wiring: the Services container every handler uses, built once per Lambda container.

Handlers take an optional `services` argument; tests and the simulator pass in-memory
adapters or a virtual clock. In Lambda each function wires boto3 adapters for the ports it
uses, named by its own settings model (functions.settings), at its cold start; a port it
does not use is left unwired and fails loudly if ever touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from functions.core.channels import Channel
from functions.core.clock import Clock, SystemClock
from functions.core.errors import ConfigError
from functions.core.lenders import ShippedLenders
from functions.core.ports import (
    AccountStore,
    AddressLeases,
    AuditLog,
    ChannelSwitch,
    Continuations,
    DecisionLog,
    ErasedAddresses,
    ExperimentTally,
    FileDecryption,
    InboundLog,
    LadderControl,
    Ledger,
    LenderSource,
    MessageSender,
    ObjectStore,
    ProviderOptOuts,
    ReviewQueue,
    SendSlots,
    SuppressionStore,
    TemplateStore,
    UploadStore,
)
from functions.settings import (
    FunctionSettings,
    OptoutSettings,
    PlanSettings,
    ScheduleSettings,
    SendSettings,
    Settings,
    UnsubscribeSettings,
)

# A function's settings model; Services is covariant in it, so the local world's
# `Services[Settings]` (every function's settings) serves every handler.
SettingsT = TypeVar("SettingsT", bound=FunctionSettings, covariant=True)
FunctionSettingsT = TypeVar("FunctionSettingsT", bound=FunctionSettings)


class SmsProvider(MessageSender, ProviderOptOuts, Protocol):
    """End User Messaging sends texts and keeps its own list of numbers that texted STOP."""


@dataclass(frozen=True)
class Services(Generic[SettingsT]):
    settings: SettingsT
    clock: Clock
    accounts: AccountStore
    suppressions: SuppressionStore
    ledger: Ledger
    audit: AuditLog
    templates: TemplateStore
    # One sender per provider (functions.core.ports.MessageSender); `senders` maps channels.
    sms: SmsProvider  # End User Messaging SMS
    email: MessageSender  # SES v2
    push: MessageSender  # SNS mobile push
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
    lenders: LenderSource  # pushed to the bucket (no deploy), else shipped in config/lenders/
    # The HMAC key of one-click unsubscribe links; a function so it is fetched only when used.
    # Erasure pseudonyms are keyed with it too (functions.core.erasure).
    unsubscribe_key: Callable[[], bytes]
    erased: ErasedAddresses  # hashed suppressions of erased borrowers
    # Champion/challenger tallies and guardrail stops (functions.core.experiments).
    experiments: ExperimentTally

    @property
    def senders(self) -> Mapping[Channel, MessageSender]:
        return {Channel.SMS: self.sms, Channel.EMAIL: self.email, Channel.PUSH: self.push}

    @property
    def provider_opt_outs(self) -> Mapping[Channel, ProviderOptOuts]:
        """Providers that keep their own opt-out list, which a START lifts too."""
        return {Channel.SMS: self.sms}


PORTS = tuple(name for name in Services.__dataclass_fields__ if name not in ("settings", "clock"))


class Unwired:
    """A port a function's role and settings do not provide: any use of it is a defect."""

    def __init__(self, function: str, port: str) -> None:
        self._what = f"the {function} function has no {port} port (its settings name none)"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and hasattr probe for these
        raise ConfigError(self._what)

    def __call__(self, *args: object, **kwargs: object) -> Any:
        raise ConfigError(self._what)


def _wired(
    function: str, settings: FunctionSettingsT, clock: Clock | None, ports: dict[str, Any]
) -> Services[FunctionSettingsT]:
    unwired = {port: Unwired(function, port) for port in PORTS if port not in ports}
    return Services(settings=settings, clock=clock or SystemClock(), **unwired, **ports)


def _lenders(bucket: str, config_root: Path, *, cached: bool = True) -> LenderSource:
    """Lenders pushed to the stack's bucket, falling back to the shipped files; only the
    shipped files where no bucket is named (the simulator, the command line)."""
    from functions.adapters.lender_store import CACHE_SECONDS, S3LenderSource

    shipped = ShippedLenders(config_root)
    if not bucket:
        return shipped
    return S3LenderSource(bucket, shipped, cache_seconds=CACHE_SECONDS if cached else 0.0)


def _schedule_ports(settings: ScheduleSettings) -> dict[str, Any]:
    from functions.adapters.dynamo import (
        DynamoAccountStore,
        DynamoExperimentTally,
        DynamoUploadStore,
    )
    from functions.adapters.lambda_invoke import LambdaContinuations
    from functions.adapters.openpgp import OpenPgpDecryption
    from functions.adapters.s3_objects import S3ObjectStore
    from functions.adapters.secrets import pgp_secret_key
    from functions.adapters.ses_email import SesEmailSender
    from functions.adapters.step_functions import SfnLadderControl

    return {
        "accounts": DynamoAccountStore(
            settings.accounts_table, retention_days=settings.account_retention_days
        ),
        "uploads": DynamoUploadStore(
            settings.uploads_table, retention_days=settings.audit_retention_days
        ),
        "objects": S3ObjectStore(settings.uploads_bucket),
        "decryption": OpenPgpDecryption(lambda: pgp_secret_key(settings.pgp_secret_arn)),
        "email": SesEmailSender(),  # receipts to the lender
        "ladders": SfnLadderControl(settings.state_machine_arn),
        "continuations": LambdaContinuations(),
        "experiments": DynamoExperimentTally(settings.accounts_table),
        "lenders": _lenders(settings.lenders_bucket, settings.config_root),
    }


def _plan_ports(settings: PlanSettings) -> dict[str, Any]:
    from functions.adapters.openpgp import OpenPgpDecryption
    from functions.adapters.s3_objects import S3ObjectStore
    from functions.adapters.secrets import pgp_secret_key

    return {
        "objects": S3ObjectStore(settings.uploads_bucket),
        "decryption": OpenPgpDecryption(lambda: pgp_secret_key(settings.pgp_secret_arn)),
        "lenders": _lenders(settings.lenders_bucket, settings.config_root),
    }


def _send_ports(settings: SendSettings) -> dict[str, Any]:
    from functions.adapters.dynamo import (
        DynamoAccountStore,
        DynamoAddressLeases,
        DynamoAuditLog,
        DynamoChannelSwitch,
        DynamoLedger,
        DynamoSendSlots,
        DynamoSuppressionStore,
    )
    from functions.adapters.erasable import DynamoErasedAddresses
    from functions.adapters.secrets import signing_key
    from functions.adapters.ses_email import SesEmailSender
    from functions.adapters.sms_voice import SmsVoiceSender
    from functions.adapters.sns_push import SnsPushSender
    from functions.adapters.template_store import DynamoTemplateStore

    return {
        "accounts": DynamoAccountStore(
            settings.accounts_table, retention_days=settings.account_retention_days
        ),
        "suppressions": DynamoSuppressionStore(settings.suppressions_table),
        "channels": DynamoChannelSwitch(settings.suppressions_table),
        "ledger": DynamoLedger(settings.ledger_table, retention_days=settings.audit_retention_days),
        "slots": DynamoSendSlots(settings.ledger_table),
        "leases": DynamoAddressLeases(settings.ledger_table),
        "audit": DynamoAuditLog(settings.audit_table, retention_days=settings.audit_retention_days),
        "templates": DynamoTemplateStore(settings.templates_table),
        "sms": SmsVoiceSender(settings.sms_configuration_set),
        "email": SesEmailSender(),
        "push": SnsPushSender(),
        "unsubscribe_key": lambda: signing_key(settings.unsubscribe_secret_arn),
        "erased": DynamoErasedAddresses(settings.suppressions_table),
        "lenders": _lenders(settings.lenders_bucket, settings.config_root),
    }


def _optout_ports(settings: OptoutSettings) -> dict[str, Any]:
    from functions.adapters.dynamo import (
        DynamoAccountStore,
        DynamoChannelSwitch,
        DynamoDecisionLog,
        DynamoExperimentTally,
        DynamoInboundLog,
        DynamoLedger,
        DynamoReviewQueue,
        DynamoSuppressionStore,
    )
    from functions.adapters.ses_email import SesEmailSender
    from functions.adapters.sms_voice import SmsVoiceSender
    from functions.adapters.step_functions import SfnLadderControl

    return {
        "accounts": DynamoAccountStore(
            settings.accounts_table, retention_days=settings.account_retention_days
        ),
        "suppressions": DynamoSuppressionStore(settings.suppressions_table),
        "channels": DynamoChannelSwitch(settings.suppressions_table),
        "ledger": DynamoLedger(settings.ledger_table, retention_days=settings.audit_retention_days),
        "decisions": DynamoDecisionLog(
            settings.audit_table, retention_days=settings.audit_retention_days
        ),
        "inbound": DynamoInboundLog(settings.inbound_table),
        "reviews": DynamoReviewQueue(
            settings.reviews_table, retention_days=settings.audit_retention_days
        ),
        "ladders": SfnLadderControl(settings.state_machine_arn),
        "sms": SmsVoiceSender(
            settings.sms_configuration_set, opt_out_list=settings.sms_opt_out_list
        ),
        "email": SesEmailSender(),
        "experiments": DynamoExperimentTally(settings.accounts_table),
        "lenders": _lenders(settings.lenders_bucket, settings.config_root),
    }


def _unsubscribe_ports(settings: UnsubscribeSettings) -> dict[str, Any]:
    from functions.adapters.dynamo import (
        DynamoAccountStore,
        DynamoChannelSwitch,
        DynamoDecisionLog,
        DynamoSuppressionStore,
    )
    from functions.adapters.secrets import signing_key
    from functions.adapters.step_functions import SfnLadderControl

    return {
        "accounts": DynamoAccountStore(
            settings.accounts_table, retention_days=settings.account_retention_days
        ),
        "suppressions": DynamoSuppressionStore(settings.suppressions_table),
        "channels": DynamoChannelSwitch(settings.suppressions_table),
        "decisions": DynamoDecisionLog(
            settings.audit_table, retention_days=settings.audit_retention_days
        ),
        "ladders": SfnLadderControl(settings.state_machine_arn),
        "unsubscribe_key": lambda: signing_key(settings.unsubscribe_secret_arn),
        "lenders": _lenders(settings.lenders_bucket, settings.config_root),
    }


# Each builder imports its adapters when called, so pure-core users (CLI validate, when,
# reply) never import boto3. The cached ones run at a function's cold start; a missing or
# invalid variable fails it there, named (ConfigError).
@cache
def schedule_services() -> Services[ScheduleSettings]:
    settings = ScheduleSettings.from_environment()
    return _wired("schedule", settings, None, _schedule_ports(settings))


@cache
def send_services() -> Services[SendSettings]:
    settings = SendSettings.from_environment()
    return _wired("send", settings, None, _send_ports(settings))


@cache
def optout_services() -> Services[OptoutSettings]:
    settings = OptoutSettings.from_environment()
    return _wired("optout", settings, None, _optout_ports(settings))


@cache
def unsubscribe_services() -> Services[UnsubscribeSettings]:
    settings = UnsubscribeSettings.from_environment()
    return _wired("unsubscribe", settings, None, _unsubscribe_ports(settings))


@cache
def plan_services() -> Services[PlanSettings]:
    settings = PlanSettings.from_environment()
    return _wired("plan", settings, None, _plan_ports(settings))


def aws_services(settings: Settings, clock: Clock | None = None) -> Services[Settings]:
    """boto3 adapters for every port at once: the local world, where one process plays every
    function (each port wired as the function that uses it wires it)."""
    ports = {
        **_send_ports(settings),
        **_schedule_ports(settings),
        **_unsubscribe_ports(settings),
        **_optout_ports(settings),  # last: its SMS sender knows the opt-out list START lifts
        # One process plays every function, so no lender cache: each function's own reads
        # reach S3, as from its own container, and its own role is checked for them.
        "lenders": _lenders(settings.lenders_bucket, settings.config_root, cached=False),
    }
    return _wired("local", settings, clock, ports)


# Signs unsubscribe links in tests and simulations only: those links never leave the process.
LOCAL_UNSUBSCRIBE_KEY = b"rung-local-unsubscribe-signing-key-not-for-production"


def memory_services(
    settings: Settings | None = None, clock: Clock | None = None, **overrides: object
) -> Services[Settings]:
    """In-memory adapters for every port: tests and the simulator's fast engine."""
    from functions.adapters.memory import (
        MemoryAccountStore,
        MemoryAddressLeases,
        MemoryAuditLog,
        MemoryChannelSwitch,
        MemoryContinuations,
        MemoryDecisionLog,
        MemoryEmail,
        MemoryErasedAddresses,
        MemoryExperimentTally,
        MemoryInboundLog,
        MemoryLadderControl,
        MemoryLedger,
        MemoryObjectStore,
        MemoryPush,
        MemoryReviewQueue,
        MemorySendSlots,
        MemorySms,
        MemorySuppressionStore,
        MemoryUploadStore,
    )
    from functions.adapters.openpgp import OpenPgpDecryption
    from functions.adapters.template_store import MemoryTemplateStore

    settings = settings or Settings()
    services = Services(
        settings=settings,
        clock=clock or SystemClock(),
        accounts=MemoryAccountStore(),
        suppressions=MemorySuppressionStore(),
        ledger=MemoryLedger(),
        audit=MemoryAuditLog(),
        templates=MemoryTemplateStore(),
        sms=MemorySms(),
        email=MemoryEmail(),
        push=MemoryPush(),
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
        erased=MemoryErasedAddresses(),
        experiments=MemoryExperimentTally(),
        lenders=ShippedLenders(settings.config_root),
    )
    return replace(services, **overrides)  # type: ignore[arg-type]
