"""Ports: the small interfaces core logic talks through.

Each has a boto3 adapter (`functions.adapters.aws`) and an in-memory adapter
(`functions.adapters.memory`); one contract test suite runs against both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol

from functions.core.experiments import VariantTally
from functions.core.lenders import LenderConfig
from functions.core.models import (
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    ChannelPause,
    ContactPreference,
    Decision,
    ErasedAddress,
    ErasureRecord,
    InboundDecision,
    LedgerEntry,
    ReviewItem,
    Suppression,
    TemplateVersion,
    UploadRecord,
)


class AccountStore(Protocol):
    def get(self, lender_id: str, account_id: str) -> Account | None: ...

    def put_many(self, accounts: Iterable[Account]) -> None:
        """Insert or replace accounts (batched on DynamoDB)."""
        ...

    def set_status(
        self,
        lender_id: str,
        account_id: str,
        status: AccountStatus,
        at: datetime,
        *,
        hold_until: datetime | None = None,
    ) -> None:
        """Set the status (and, for PROMISE_TO_PAY, the end of its hold; cleared otherwise)."""
        ...

    def add_preference(
        self, lender_id: str, account_id: str, preference: ContactPreference
    ) -> None: ...

    def find_by_address(self, channel: Channel, address: str) -> list[Account]:
        """Every account whose phone (sms) or email (email) is `address`."""
        ...


class SuppressionStore(Protocol):
    """`lender_id` None: the deployment-wide suppression of the address; a lender id: the one
    binding only that lender (functions.core.lender_scope)."""

    def get(
        self, channel: Channel, address: str, *, lender_id: str | None = None
    ) -> Suppression | None: ...

    def put(self, suppression: Suppression) -> None: ...

    def delete(self, channel: Channel, address: str, *, lender_id: str | None = None) -> None: ...


class SendSlots(Protocol):
    def take(self, counter: str, expires: datetime) -> int:
        """Atomically count one more reservation on `counter`; return the count after it.

        Every call counts, even one beyond the counter's capacity (its caller moves on):
        an unconditional increment never fails and never needs a retry.
        `expires`: when the counter may be deleted (DynamoDB TTL).
        """
        ...


class AddressLeases(Protocol):
    def take(self, key: str, owner: str, now: datetime, until: datetime) -> bool:
        """Hold `key` for `owner` until `until` — unless another owner holds it past `now`.

        Atomic (a conditional write): of two concurrent takers, one holds it. The holder may
        take it again (a repeated invocation). True if `owner` now holds it.
        """
        ...


class Ledger(Protocol):
    def claim(self, entry: LedgerEntry) -> bool:
        """Conditional put before the provider call; False if this rung+channel was tried."""
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

    def record_delivery(self, provider_message_id: str, status: str, at: datetime) -> bool:
        """Note a delivery receipt on the attempt the provider named; False if none matches."""
        ...

    def release(self, ladder_key: str, rung: int, channel: Channel) -> None:
        """Delete a claim whose provider call certainly did not happen (throttled, 5xx)."""
        ...

    def sent_to_address_since(
        self, address: str, since: datetime, *, lender_id: str | None = None
    ) -> list[datetime]:
        """Instants of attempts (SENT or UNCERTAIN) to `address` at or after `since`; only
        those for `lender_id`'s accounts when given (caps per lender)."""
        ...

    def sent_for_ladder_since(
        self, ladder_key: str, channel: Channel | None, since: datetime
    ) -> list[datetime]:
        """Instants of attempts for one account ladder (one channel, or all) since `since`."""
        ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> None: ...


class DecisionLog(Protocol):
    """Append-only record of every inbound decision (the `audit` table, `inbound#…` keys)."""

    def append(self, decision: InboundDecision) -> None: ...

    def history(self, channel: Channel, address: str) -> list[InboundDecision]: ...


class ReviewQueue(Protocol):
    def open(self, item: ReviewItem) -> bool:
        """Store a new OPEN item; False if this review id exists (a redelivered message)."""
        ...

    def get(self, review_id: str) -> ReviewItem | None: ...

    def pending(self) -> list[ReviewItem]:
        """Every OPEN item, oldest first."""
        ...

    def resolve(self, item: ReviewItem) -> None:
        """Store the RESOLVED item; raises ReviewClosed if it was resolved already."""
        ...


class TemplateStore(Protocol):
    def put_draft(self, version: TemplateVersion) -> bool:
        """Store a new DRAFT version; False if that content hash is already stored."""
        ...

    def get(
        self, template_id: str, channel: Channel, locale: str, version: str
    ) -> TemplateVersion | None: ...

    def approve(
        self,
        template_id: str,
        channel: Channel,
        locale: str,
        version: str,
        by: str,
        at: datetime,
        lint: Mapping[str, object] | None = None,
    ) -> TemplateVersion:
        """Bind an approval (who, when, the lint result) to that exact content hash."""
        ...

    def versions(self, template_id: str | None = None) -> list[TemplateVersion]: ...

    def newest_approved(
        self, template_id: str, channel: Channel, locale: str
    ) -> TemplateVersion | None: ...


@dataclass(frozen=True)
class OutboundMessage:
    """One message for a provider, whatever the channel (functions.core.channels)."""

    channel: Channel
    to: str  # the channel's address: E.164, email address, push endpoint ARN
    body: str  # the SMS text, the email's plain-text part, the push notification text
    subject: str = ""  # the heading: email subject, push title
    html: str = ""  # the email's HTML part
    headers: Mapping[str, str] = field(default_factory=dict)  # email: List-Unsubscribe, …
    origination: str | None = None  # sent from: the SMS number / sender id, the email From
    configuration_set: str | None = None  # the provider configuration set to name, if any


class MessageSender(Protocol):
    """One adapter per provider: End User Messaging SMS, SES email, SNS mobile push."""

    def send(self, message: OutboundMessage) -> str:
        """Send; return the provider message id. Raises TransientSendError, PermanentSendError
        (with `address_gone` when the address itself is dead) or UncertainSendError."""
        ...


class ProviderOptOuts(Protocol):
    """A provider's own opt-out list (End User Messaging keeps numbers that texted STOP)."""

    def opt_in(self, address: str) -> bool:
        """Lift the provider's own opt-out of `address` after the borrower's START.

        False when the provider refused (End User Messaging allows it once per 30 days).
        """
        ...


class LadderControl(Protocol):
    def start(self, name: str, state_json: str) -> bool:
        """Start the named ladder execution; False if that name already exists (idempotent)."""
        ...

    def stop(self, name: str, cause: str) -> bool:
        """Stop the named execution if it is running; False if there was nothing to stop."""
        ...


class ChannelSwitch(Protocol):
    def paused(self, channel: Channel) -> ChannelPause | None: ...

    def pause(self, pause: ChannelPause) -> None: ...

    def resume(self, channel: Channel) -> None: ...


class UploadStore(Protocol):
    def begin(self, record: UploadRecord) -> UploadRecord | None:
        """Conditionally record a new upload. Returns the existing record if key+etag was seen."""
        ...

    def finish(self, record: UploadRecord) -> None: ...

    def reopen(self, seen: UploadRecord, record: UploadRecord) -> UploadRecord | None:
        """Take up again a file `seen` rejected whole (its lender was not configured, say),
        as `record` with the next attempt number. None if `seen` did not end in a whole-file
        error, or another delivery of the same file took it up first (conditional write)."""
        ...


class ObjectStore(Protocol):
    """S3 (or a local folder): lender files in, reject reports out."""

    def open(self, key: str) -> BinaryIO:
        """A streaming, binary, file-like reader: never read a whole lender file into memory."""
        ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def link(self, key: str, valid_for: timedelta) -> str:
        """A link that lets its holder download `key` until it expires (S3: presigned)."""
        ...


class FileDecryption(Protocol):
    """OpenPGP-encrypted lender files (`….csv.pgp`, `.gpg`, `.asc`) to their plaintext."""

    def open(self, encrypted: BinaryIO, signed_by: str | None) -> AbstractContextManager[BinaryIO]:
        """The decrypted file, seekable, for the duration of the `with`. When `signed_by` (an
        armored public key) is given, the file must carry a valid signature by that key.
        Raises FileRejected naming the reason (no key installed, not for our key, tampered,
        not signed by the lender)."""
        ...


class Continuations(Protocol):
    def continue_later(self, function_arn: str, payload: str) -> None:
        """Invoke a function asynchronously with `payload` (a large upload's next chunk, or an
        accepted lender file to plan)."""
        ...


class LenderSource(Protocol):
    """Lender configurations: pushed to the stack's bucket (`rung lenders push`) or shipped in
    `config/lenders/`; a pushed file wins. Read on use, so a new lender needs no deploy."""

    def get(self, lender_id: str) -> LenderConfig:
        """The lender's validated configuration; ConfigError naming the file and field, or
        `unknown lender` when neither place has it."""
        ...

    def ids(self) -> list[str]: ...

    def all(self) -> list[LenderConfig]: ...


class InboundLog(Protocol):
    def first_time(self, message_id: str, at: datetime) -> bool:
        """Conditional put of an inbound message id; False if seen before (SNS redelivers)."""
        ...


class ErasedAddresses(Protocol):
    """Hashed suppressions left by erasures (functions.core.erasure): the send gate asks by
    pseudonym, so an erased address is recognised without being stored."""

    def get(self, pseudonym: str) -> ErasedAddress | None: ...

    def put(self, mark: ErasedAddress) -> None: ...


@dataclass(frozen=True)
class ErasureScope:
    """What one erasure covers (functions.core.erasure.find_borrower)."""

    accounts: tuple[Account, ...]
    addresses: tuple[tuple[Channel, str], ...]  # every form of every address, as stored
    replacements: Mapping[str, str]  # raw address -> its pseudonym
    lender_ids: tuple[str, ...]  # whose lender-scoped suppressions to look under


@dataclass
class ErasureTally:
    removed: Counter[str] = field(default_factory=Counter)  # kind of record -> deleted
    pseudonymised: Counter[str] = field(default_factory=Counter)  # kind -> kept, pseudonymous


class BorrowerRecords(Protocol):
    """Every place Rung keeps a borrower's data (tables and files), for an erasure."""

    def erase(self, scope: ErasureScope) -> ErasureTally:
        """Delete what no retention duty keeps; replace raw addresses by pseudonyms in what it
        keeps. Idempotent: erasing again finds nothing left to change."""
        ...

    def record(self, erasure: ErasureRecord) -> None:
        """Append the erasure to the audit (kept for the records retention)."""


class ExperimentTally(Protocol):
    """Per experiment variant (functions.core.experiments): accounts assigned, opt-outs and
    complaints counted as they happen, and the guardrail stop. Counters only grow."""

    def get(self, lender_id: str, experiment: str, variant: str) -> VariantTally: ...

    def add(self, lender_id: str, experiment: str, variant: str, counter: str) -> VariantTally:
        """Add one to `counter` (accounts, opt_outs or complaints) atomically; the new tally."""
        ...

    def stop(self, lender_id: str, experiment: str, variant: str, reason: str) -> bool:
        """Stop the variant taking new accounts; True only for the call that stopped it."""
        ...
