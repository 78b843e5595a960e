"""Ports: the small interfaces core logic talks through.

Each has a boto3 adapter (`functions.adapters.aws`) and an in-memory adapter
(`functions.adapters.memory`); one contract test suite runs against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from functions.core.models import (
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    Decision,
    LedgerEntry,
    Suppression,
    TemplateVersion,
)


class AccountStore(Protocol):
    def get(self, lender_id: str, account_id: str) -> Account | None: ...

    def put_many(self, accounts: Iterable[Account]) -> None:
        """Insert or replace accounts (batched on DynamoDB)."""
        ...

    def set_status(
        self, lender_id: str, account_id: str, status: AccountStatus, at: datetime
    ) -> None: ...

    def find_by_address(self, channel: Channel, address: str) -> list[Account]:
        """Every account whose phone (sms) or email (email) is `address`."""
        ...


class SuppressionStore(Protocol):
    def get(self, channel: Channel, address: str) -> Suppression | None: ...

    def put(self, suppression: Suppression) -> None: ...

    def delete(self, channel: Channel, address: str) -> None: ...


class Ledger(Protocol):
    def claim(self, entry: LedgerEntry) -> bool:
        """Conditional put before the provider call. False if this rung+channel was already tried."""
        ...

    def get(self, ladder_key: str, rung: int, channel: Channel) -> LedgerEntry | None: ...

    def complete(
        self,
        ladder_key: str,
        rung: int,
        channel: Channel,
        state: Decision,
        provider_message_id: str = "",
    ) -> None: ...

    def sent_to_address_since(self, address: str, since: datetime) -> list[datetime]:
        """Instants of attempts (SENT or UNCERTAIN) to `address` at or after `since`."""
        ...

    def sent_for_ladder_since(
        self, ladder_key: str, channel: Channel | None, since: datetime
    ) -> list[datetime]:
        """Instants of attempts for one account ladder (one channel, or all) since `since`."""
        ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> None: ...


class TemplateStore(Protocol):
    def put_draft(self, version: TemplateVersion) -> bool:
        """Store a new DRAFT version; False if that content hash is already stored."""
        ...

    def get(self, template_id: str, channel: Channel, locale: str, version: str) -> (
        TemplateVersion | None
    ): ...

    def approve(
        self, template_id: str, channel: Channel, locale: str, version: str, by: str, at: datetime
    ) -> TemplateVersion: ...

    def versions(self, template_id: str | None = None) -> list[TemplateVersion]: ...

    def newest_approved(
        self, template_id: str, channel: Channel, locale: str
    ) -> TemplateVersion | None: ...


@dataclass(frozen=True)
class OutboundSms:
    to: str
    body: str
    origination: str | None  # the lender's origination identity (number / sender id)


@dataclass(frozen=True)
class OutboundEmail:
    to: str
    from_address: str
    subject: str
    text: str
    html: str
    headers: Mapping[str, str]  # List-Unsubscribe, List-Unsubscribe-Post
    configuration_set: str | None


class SmsSender(Protocol):
    def send_sms(self, message: OutboundSms) -> str:
        """Send; return the provider message id. Raises TransientSendError / PermanentSendError."""
        ...


class EmailSender(Protocol):
    def send_email(self, message: OutboundEmail) -> str:
        """Send; return the provider message id. Raises TransientSendError / PermanentSendError."""
        ...


class LadderControl(Protocol):
    def start(self, name: str, state_json: str) -> bool:
        """Start the named ladder execution; False if that name already exists (idempotent)."""
        ...

    def stop(self, name: str, cause: str) -> bool:
        """Stop the named execution if it is running; False if there was nothing to stop."""
        ...
