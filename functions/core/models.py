"""Domain models shared by every part of Rung.

Pure data: no boto3, no environment, no clock. Each boundary (lender row, ladder state,
inbound message, template) has its own model elsewhere; these are the nouns they map to.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Channel lives in the registry (functions.core.channels); re-exported for the models here.
from functions.core.channels import Channel as Channel
from functions.core.channels import spec


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAYMENT_CLAIMED = "PAYMENT_CLAIMED"
    PROMISE_TO_PAY = "PROMISE_TO_PAY"  # held until the promised date plus a grace
    PAID = "PAID"
    DISPUTED = "DISPUTED"
    CEASE = "CEASE"
    BANKRUPTCY = "BANKRUPTCY"
    ATTORNEY = "ATTORNEY"
    DECEASED = "DECEASED"
    COMPLETED = "COMPLETED"


# States that block every reminder (docs/compliance.md, Who may be contacted).
BLOCKING_STATUSES = frozenset(
    {
        AccountStatus.PAID,
        AccountStatus.DISPUTED,
        AccountStatus.CEASE,
        AccountStatus.BANKRUPTCY,
        AccountStatus.ATTORNEY,
        AccountStatus.DECEASED,
        AccountStatus.COMPLETED,
    }
)


# Statuses set by what the borrower told us (attorney, bankruptcy, dispute, cease, deceased).
# Only a named person with a reason lifts one (`rung replies resolve … --as lift`); neither a
# reply nor a lender file does it by itself.
LEGAL_STATUSES = frozenset(
    {
        AccountStatus.DISPUTED,
        AccountStatus.CEASE,
        AccountStatus.BANKRUPTCY,
        AccountStatus.ATTORNEY,
        AccountStatus.DECEASED,
    }
)

# Statuses that hold the ladder for a while, then let it resume.
HOLDING_STATUSES = frozenset({AccountStatus.PAYMENT_CLAIMED, AccountStatus.PROMISE_TO_PAY})


# docs/compliance.md, Personal data: an account is closed once paid or once its ladder has run
# to the end; its data is deleted a configured number of days later (DynamoDB TTL).
CLOSED_STATUSES = frozenset({AccountStatus.PAID, AccountStatus.COMPLETED})


class Decision(StrEnum):
    """How a rung ended for one channel: every rung ends in exactly one of these."""

    SENT = "SENT"
    DEFERRED = "DEFERRED"
    SUPPRESSED = "SUPPRESSED"
    UNCERTAIN = "UNCERTAIN"  # provider outcome unknown: never re-sent automatically


class SuppressionScope(StrEnum):
    ADDRESS = "address"  # this phone number / email address on this channel
    CHANNEL = "channel"  # every address of the borrower on this channel
    ALL = "all"  # every channel


class SuppressionSource(StrEnum):
    REPLY = "reply"
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    LENDER = "lender"
    WRONG_NUMBER = "wrong_number"
    PROVIDER = "provider"  # the provider says the address is gone (a disabled push endpoint)
    ERASURE = "erasure"  # the borrower's data was erased; a keyed hash still blocks the address


class ContactPreference(BaseModel):
    """When or how a borrower does not want to be contacted (inconvenient time or medium).

    `channel` None means every channel. `excluded`: never on that channel. `preferred`: only
    on that channel. `not_before` / `not_after`: local wall-clock bounds of contact. `place`
    (e.g. "work") is recorded for ops; Rung cannot see where a borrower is, so the gate does
    not act on it. `source`: `reply` or `review` (the borrower said it), `lender_file` (the
    lender's file said it; replaced by each upload); `at`: when it was said or received.
    """

    model_config = ConfigDict(frozen=True)

    channel: Channel | None = None
    excluded: bool = False
    preferred: bool = False
    not_before: time | None = None
    not_after: time | None = None
    place: str = ""
    source: str = "reply"  # reply | review | lender_file
    rule: str = ""
    at: datetime


# The Account field holding each channel's address (the registry's `address_field`), looked up
# once: the send step reads every address of an account several times per step.
_ADDRESS_FIELDS = {channel: spec(channel).address_field for channel in Channel}


class Account(BaseModel):
    """One delinquent account as Rung stores it (`accounts` table)."""

    model_config = ConfigDict(frozen=True)

    lender_id: str
    account_id: str
    phone: str | None = None  # E.164
    email: str | None = None
    push_endpoint: str | None = None  # SNS platform endpoint ARN of the borrower's app
    amount_due: Decimal
    currency: str
    due_date: date
    first_name: str | None = None
    locale: str
    country: str | None = None  # ISO 3166-1 alpha-2
    state: str | None = None  # e.g. "WA"
    postal_code: str | None = None
    timezone: str | None = None  # IANA, given by the lender
    status: AccountStatus = AccountStatus.ACTIVE
    payment_link: str | None = None
    cycle: str = ""  # one delinquency = one ladder; defaults to the due date
    status_changed_at: datetime | None = None  # e.g. when PAYMENT_CLAIMED began
    hold_until: datetime | None = None  # PROMISE_TO_PAY: the promised date plus the grace
    contact_preferences: tuple[ContactPreference, ...] = ()
    upload_key: str | None = None  # the upload that last touched this account
    # The lender's own label for targeting experiments (never a protected characteristic),
    # and the champion/challenger arm the account joined (functions.core.experiments).
    segment: str | None = None
    experiment: str = ""
    variant: str = ""
    assignment: str = ""  # why that variant: `hash`, or `guardrail:{stopped variant}`

    @property
    def key(self) -> str:
        return f"{self.lender_id}#{self.account_id}"

    @property
    def ladder_key(self) -> str:
        return f"{self.lender_id}#{self.account_id}#{self.cycle}"

    def address(self, channel: Channel) -> str | None:
        value = getattr(self, _ADDRESS_FIELDS[channel])
        return str(value) if value else None


class Suppression(BaseModel):
    """A borrower's (or a bounce's) instruction not to be contacted (`suppressions` table)."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    address: str  # E.164, lower-case email or push endpoint ARN
    scope: SuppressionScope = SuppressionScope.ADDRESS
    source: SuppressionSource
    at: datetime
    detail: str = ""
    # None: binds every lender of the deployment (the collector). A lender id: binds only that
    # lender's messages (`scope: lender` in config/collector.yaml; functions.core.lender_scope).
    lender_id: str | None = None

    @property
    def key(self) -> str:
        return suppression_key(self.channel, self.address, self.lender_id)

    def key_matches(self, address: str) -> bool:
        return self.key == suppression_key(self.channel, address, self.lender_id)


def suppression_key(channel: Channel, address: str, lender_id: str | None = None) -> str:
    """The one place suppression keys are made: `sms#+E164`, `email#address` bind the whole
    deployment; `lender#{lender_id}#sms#+E164` binds one lender's messages only."""
    own = f"{channel.value}#{spec(channel).fold(address)}"
    return f"lender#{lender_id}#{own}" if lender_id else own


class ChannelPause(BaseModel):
    """A whole channel held for every borrower: email pauses itself on bad SES reputation before
    SES pauses the account (docs/compliance.md, Email reputation). Rungs defer; a person resumes."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    reason: str
    at: datetime
    by: str


class AuditRecord(BaseModel):
    """One gate decision, append-only (`audit` table, `messages.csv` row)."""

    model_config = ConfigDict(frozen=True)

    lender_id: str
    account_id: str
    cycle: str
    rung: int
    channel: Channel
    decision: Decision
    reason: str = ""
    rule: str = ""
    profile: str = ""
    profile_version: str = ""
    template_id: str = ""
    template_version: str = ""
    at_utc: datetime
    at_local: str = ""  # ISO local time with offset, in the zone that decided
    address_masked: str = ""
    segments: int = 0
    body: str = ""
    provider_message_id: str = ""
    deferred_until: datetime | None = None
    # The account's experiment and variant when the decision was taken ("" outside any).
    experiment: str = ""
    variant: str = ""


class LedgerEntry(BaseModel):
    """At-most-once record for (account, cycle, rung, channel), written before the provider call."""

    model_config = ConfigDict(frozen=True)

    ladder_key: str  # lender#account#cycle
    rung: int
    channel: Channel
    state: Decision = Field(default=Decision.UNCERTAIN)  # UNCERTAIN until the outcome is recorded
    attempted_at: datetime
    provider_message_id: str = ""
    address: str = ""
    # The provider's delivery receipt (SMS: up to 72 h later; may never come). Informational:
    # the next rung never waits on it (docs/design.md, Provider events).
    delivery: str = ""
    delivery_at: datetime | None = None

    @property
    def sort_key(self) -> str:
        return f"{self.rung:03d}#{self.channel.value}"


class TemplateStatus(StrEnum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"
    RETIRED = "RETIRED"


class TemplateVersion(BaseModel):
    """One stored version of a message template (`templates` table), keyed by content hash."""

    model_config = ConfigDict(frozen=True)

    template_id: str
    channel: Channel
    locale: str
    version: str  # content hash of `source`
    source: str  # the whole file: front matter + body, exactly as approved
    status: TemplateStatus = TemplateStatus.DRAFT
    author: str = ""
    created_at: datetime | None = None
    approver: str = ""
    approved_at: datetime | None = None
    lint: dict[str, object] = Field(default_factory=dict)  # rules version + findings


class UploadKind(StrEnum):
    ACCOUNTS = "accounts"  # uploads/{lender}/…csv
    PAYMENTS = "payments"  # payments/{lender}/…csv


class UploadRecord(BaseModel):
    """One lender file as processed (`uploads` table); rows = accepted + rejected, always."""

    model_config = ConfigDict(frozen=True)

    key: str  # S3 object key
    etag: str
    lender_id: str
    kind: UploadKind
    received_at: datetime
    finished: bool = False
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    file_error: str = ""
    report_key: str = ""  # rejects/{lender}/… CSV, when anything was rejected
    attempt: int = 1  # a file rejected whole is taken up again when delivered again
    ladders_started: int = 0
    reasons: dict[str, int] = Field(default_factory=dict)  # rejected rows per kind of reason
    receipt_to: tuple[str, ...] = ()  # who the receipt went to (functions.core.receipts)
    receipt_error: str = ""  # why it did not reach someone

    @property
    def pk(self) -> str:
        return f"{self.key}#{self.etag}"

    @property
    def rejected_whole(self) -> bool:
        """Finished with a whole-file error: nothing of it took effect, it may be tried again."""
        return self.finished and bool(self.file_error) and self.rows == 0


class ReviewState(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class ReviewItem(BaseModel):
    """A reply a person must look at (`reviews` table): not understood, read with low
    confidence, or carrying legal weight. The effect of a legal intent has already been
    applied when the item is opened; the reviewer confirms, corrects or lifts it."""

    model_config = ConfigDict(frozen=True)

    review_id: str  # deterministic per inbound message: a redelivery opens nothing new
    at: datetime
    channel: Channel
    address: str  # the sender (shown masked)
    text: str  # the reply as written (an attorney's contact details are kept for ops)
    intent: str
    also: tuple[str, ...] = ()
    why: str  # other | low_confidence | legal
    rule: str = ""
    rules_version: str = ""
    normalised: str = ""
    accounts: tuple[str, ...] = ()  # lender#account keys the sender's address belongs to
    state: ReviewState = ReviewState.OPEN
    resolved_as: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = None
    reason: str = ""


# Partition-key prefix of inbound decisions in the audit table (gate records: lender#account#…).
INBOUND_PREFIX = "inbound#"
# Partition-key prefix of erasure records in the audit table (functions.adapters.erasable).
ERASURE_PREFIX = "erasure#"


class InboundDecision(BaseModel):
    """One decision taken on inbound input, append-only (`audit` table under `inbound#…`):
    an opt-out, opt-in (with the suppression it lifted), claim, status, promise, preference,
    review opened or resolved. Nothing is ever overwritten or deleted before its retention."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    channel: Channel
    address: str
    event: str  # suppressed | lifted | status | promise | preference | review_opened | …
    message_id: str = ""  # the inbound message, or the review id
    intent: str = ""
    rule: str = ""
    rules_version: str = ""
    normalised: str = ""
    account: str = ""  # lender#account, when the decision concerns one
    detail: str = ""  # e.g. the suppression lifted, the status set, the promised date
    by: str = "rung"  # rung, or the reviewer's name
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{INBOUND_PREFIX}{suppression_key(self.channel, self.address)}"


class ErasedAddress(BaseModel):
    """The hashed suppression an erasure leaves (suppressions table, `erased#…`): no raw
    address, and it never expires, so an erased address is never contacted again."""

    model_config = ConfigDict(frozen=True)

    pseudonym: str  # functions.core.erasure.address_pseudonym
    at: datetime
    erasure_id: str


class ErasureRecord(BaseModel):
    """The audit's record of one erasure (audit table, `erasure#…`): pseudonymous only."""

    model_config = ConfigDict(frozen=True)

    erasure_id: str
    at: datetime
    by: str
    accounts: tuple[str, ...]  # account pseudonyms
    addresses: tuple[str, ...]  # address pseudonyms
    removed: dict[str, int] = Field(default_factory=dict)  # deleted, per kind of record
    pseudonymised: dict[str, int] = Field(default_factory=dict)  # kept, with pseudonyms
    kept: dict[str, str] = Field(default_factory=dict)  # kept as they were, and why
