"""DynamoDB adapters for the storage ports (table schemas: docs/design.md, Data).

Low-level client plus TypeSerializer/TypeDeserializer: amounts stay `Decimal` end to end
(the resource API would also do that, but the client is what moto, Stubber and the
retry logic below share, and it keeps one code path). Instants are stored as fixed-width
ISO strings in UTC (`records.utc_iso`) so that range keys sort as time does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from functions.adapters.records import (
    ATTEMPT_STATES,
    AuditConflict,
    ClaimCompleted,
    RecordNotFound,
    ReviewClosed,
    audit_partition_key,
    audit_sort_key,
    decision_sort_key,
    ledger_sort_key,
    utc_iso,
)
from functions.core.errors import RungError
from functions.core.experiments import TALLY_COUNTERS, VariantTally
from functions.core.models import (
    CLOSED_STATUSES,
    INBOUND_PREFIX,
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    ChannelPause,
    ContactPreference,
    Decision,
    InboundDecision,
    LedgerEntry,
    ReviewItem,
    ReviewState,
    Suppression,
    UploadRecord,
    suppression_key,
)

TTL_ATTRIBUTE = "expires_at"  # epoch seconds; the tables' DynamoDB TTL attribute
Item = dict[str, Any]  # a plain-Python item (before serialisation / after deserialisation)
WireItem = dict[str, Any]  # the same in DynamoDB's typed JSON ({"S": …}, {"N": …})

BATCH_WRITE_LIMIT = 25  # BatchWriteItem accepts at most 25 put requests per call
BATCH_WRITE_ATTEMPTS = 8  # first try + 7 retries of UnprocessedItems (≈ 6 s of back-off in all)
BATCH_BACKOFF_BASE_S = 0.05

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class UnprocessedWrites(RungError):
    """BatchWriteItem left items unprocessed after every retry: nothing is dropped silently."""

    def __init__(self, table: str, keys: list[str]) -> None:
        super().__init__(f"{len(keys)} item(s) not written to {table} after retries")
        self.table = table
        self.keys = keys


def to_wire(item: Item) -> WireItem:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def from_wire(item: WireItem) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _plain(value: object) -> object:
    """A model field as DynamoDB stores it: Decimal stays a Number, instants/dates/times ISO
    strings; nested models (a list of contact preferences) the same, None left out."""
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date | wall_time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def model_item(model: BaseModel, **keys: object) -> Item:
    """Every set field of `model` plus the table's keys.

    None is left out rather than stored as NULL: GSI key attributes (phone, email,
    address) must be absent, not NULL, for an item to stay out of the index.
    """
    item: Item = {name: _plain(v) for name, v in model.model_dump(exclude_none=True).items()}
    item.update(keys)
    return item


class Table:
    """One table, its name and a boto3 client made on first use (cold start stays cheap)."""

    def __init__(self, table_name: str, *, client: Any | None = None) -> None:
        self.table_name = table_name
        self._given_client = client

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client("dynamodb")

    def _get(self, key: Item) -> Item | None:
        # Consistent reads: a claim, an opt-out or a status written a moment ago must be seen.
        response = self.client.get_item(
            TableName=self.table_name, Key=to_wire(key), ConsistentRead=True
        )
        return from_wire(response["Item"]) if "Item" in response else None

    def _put_new(self, item: Item) -> Item | None:
        """Conditional put; returns the item already stored under this key (not overwritten)."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_wire(item),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            return from_wire(exc.response.get("Item", {}))
        return None

    def _query(self, **kwargs: Any) -> Iterator[Item]:
        for page in self.client.get_paginator("query").paginate(
            TableName=self.table_name, **kwargs
        ):
            for item in page["Items"]:
                yield from_wire(item)


class DynamoAccountStore(Table):
    _INDEX: ClassVar[dict[Channel, tuple[str, str]]] = {
        Channel.SMS: ("by_phone", "phone"),
        Channel.EMAIL: ("by_email", "email"),
    }

    def __init__(
        self,
        table_name: str,
        *,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retention_days: int | None = None,
    ) -> None:
        super().__init__(table_name, client=client)
        self._sleep = sleep
        self._retention = timedelta(days=retention_days) if retention_days else None

    def _expires_at(self, status: AccountStatus, changed_at: datetime | None) -> int | None:
        """TTL (epoch seconds) of a closed account: the retention after closing
        (docs/compliance.md, Personal data)."""
        if self._retention is None or status not in CLOSED_STATUSES or changed_at is None:
            return None
        return int((changed_at + self._retention).timestamp())

    def _item(self, account: Account) -> Item:
        item = model_item(account, pk=account.key)
        expires_at = self._expires_at(account.status, account.status_changed_at)
        if expires_at is not None:
            item[TTL_ATTRIBUTE] = expires_at
        return item

    def get(self, lender_id: str, account_id: str) -> Account | None:
        item = self._get({"pk": f"{lender_id}#{account_id}"})
        return Account.model_validate(item) if item is not None else None

    def put_many(self, accounts: Iterable[Account]) -> None:
        """Insert or replace, 25 per BatchWriteItem.

        A key repeated within one batch is refused by DynamoDB, so the later row replaces
        the earlier one inside the batch (the same result as two puts in file order).
        """
        batch: dict[str, Item] = {}
        for account in accounts:
            batch[account.key] = self._item(account)
            if len(batch) == BATCH_WRITE_LIMIT:
                self._write_batch(list(batch.values()))
                batch = {}
        if batch:
            self._write_batch(list(batch.values()))

    def _write_batch(self, items: list[Item]) -> None:
        """Retry UnprocessedItems with exponential back-off and full jitter, as AWS advises
        for throttled batch writes; raise UnprocessedWrites rather than drop an account."""
        requests: list[WireItem] = [{"PutRequest": {"Item": to_wire(i)}} for i in items]
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0, BATCH_BACKOFF_BASE_S * 2**attempt))  # noqa: S311
            response = self.client.batch_write_item(RequestItems={self.table_name: requests})
            requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not requests:
                return
        keys = [r["PutRequest"]["Item"]["pk"]["S"] for r in requests]
        raise UnprocessedWrites(self.table_name, keys)

    def set_status(
        self,
        lender_id: str,
        account_id: str,
        status: AccountStatus,
        at: datetime,
        *,
        hold_until: datetime | None = None,
    ) -> None:
        key = f"{lender_id}#{account_id}"
        values: Item = {":status": status.value, ":at": utc_iso(at)}
        sets, removes = ["#status = :status", "status_changed_at = :at"], []
        expires_at = self._expires_at(status, at)
        if expires_at is None:
            removes.append(TTL_ATTRIBUTE)
        else:
            sets.append(f"{TTL_ATTRIBUTE} = :ttl")
            values[":ttl"] = expires_at
        if hold_until is None:
            removes.append("hold_until")
        else:
            sets.append("hold_until = :hold")
            values[":hold"] = utc_iso(hold_until)
        update = f"SET {', '.join(sets)} REMOVE {', '.join(removes)}"
        self._update_existing(key, update, values, {"#status": "status"})

    def add_preference(
        self, lender_id: str, account_id: str, preference: ContactPreference
    ) -> None:
        self._update_existing(
            f"{lender_id}#{account_id}",
            "SET contact_preferences = list_append(if_not_exists(contact_preferences, :none), :p)",
            {":none": [], ":p": [_plain(preference.model_dump())]},
        )

    def _update_existing(
        self, key: str, update: str, values: Item, names: dict[str, str] | None = None
    ) -> None:
        extra = {"ExpressionAttributeNames": names} if names else {}  # "status" is reserved
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_wire({"pk": key}),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",  # never create a half account
                ExpressionAttributeValues=to_wire(values),
                **extra,
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise RecordNotFound(f"no account {key}") from exc

    def find_by_address(self, channel: Channel, address: str) -> list[Account]:
        index, attribute = self._INDEX[channel]
        items = self._query(
            IndexName=index,
            KeyConditionExpression="#a = :a",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues=to_wire({":a": address}),
        )
        return [Account.model_validate(item) for item in items]


class DynamoSuppressionStore(Table):
    """`pk` = suppression_key(): email addresses are matched whatever their case."""

    def get(
        self, channel: Channel, address: str, *, lender_id: str | None = None
    ) -> Suppression | None:
        item = self._get({"pk": suppression_key(channel, address, lender_id)})
        return Suppression.model_validate(item) if item is not None else None

    def put(self, suppression: Suppression) -> None:
        self.client.put_item(
            TableName=self.table_name, Item=to_wire(model_item(suppression, pk=suppression.key))
        )

    def delete(self, channel: Channel, address: str, *, lender_id: str | None = None) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key=to_wire({"pk": suppression_key(channel, address, lender_id)}),
        )


class DynamoSendSlots(Table):
    """Send-slot counters (functions.core.pacing) in the ledger table, under `slot#…` keys
    that no ladder key can take (a ladder key starts with a lender id, never `slot#`)."""

    SORT_KEY = "count"

    def take(self, counter: str, expires: datetime) -> int:
        # ADD is atomic and creates the item at 0: concurrent reservations each get their own
        # count, with no read and no condition to fail.
        response = self.client.update_item(
            TableName=self.table_name,
            Key=to_wire({"pk": counter, "sk": self.SORT_KEY}),
            UpdateExpression=f"ADD #n :one SET {TTL_ATTRIBUTE} = :expires",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues=to_wire({":one": 1, ":expires": int(expires.timestamp())}),
            ReturnValues="UPDATED_NEW",
        )
        return int(from_wire(response["Attributes"])["n"])


class DynamoAddressLeases(Table):
    """Address leases (functions.core.sending) in the ledger table, under `lease#…` keys."""

    SORT_KEY = "lease"

    def take(self, key: str, owner: str, now: datetime, until: datetime) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_wire(
                    {
                        "pk": key,
                        "sk": self.SORT_KEY,
                        "owner": owner,
                        "until": int(until.timestamp()),
                        TTL_ATTRIBUTE: int((until + timedelta(days=1)).timestamp()),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR #until <= :now OR #owner = :owner",
                ExpressionAttributeNames={"#until": "until", "#owner": "owner"},
                ExpressionAttributeValues=to_wire({":now": int(now.timestamp()), ":owner": owner}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoChannelSwitch(Table):
    """Channel pauses live in the suppressions table under `pause#{channel}` — a whole channel
    held for everyone — apart from the `{channel}#{address}` keys of single addresses."""

    @staticmethod
    def _key(channel: Channel) -> dict[str, str]:
        return {"pk": f"pause#{channel.value}"}

    def paused(self, channel: Channel) -> ChannelPause | None:
        item = self._get(self._key(channel))
        return ChannelPause.model_validate(item) if item is not None else None

    def pause(self, pause: ChannelPause) -> None:
        item = model_item(pause, **self._key(pause.channel))
        self.client.put_item(TableName=self.table_name, Item=to_wire(item))

    def resume(self, channel: Channel) -> None:
        self.client.delete_item(TableName=self.table_name, Key=to_wire(self._key(channel)))


def _ledger_item(entry: LedgerEntry, retention: timedelta | None) -> Item:
    item = model_item(entry, pk=entry.ladder_key, sk=entry.sort_key)
    if retention is not None:
        # docs/compliance.md, Records and erasure: an attempt is a record of collection activity.
        item[TTL_ATTRIBUTE] = int((entry.attempted_at + retention).timestamp())
    # An empty string may not be a GSI key: without `address` the entry is not in by_address,
    # without `provider_message_id` (until a send completes) not in by_message.
    for index_key in ("address", "provider_message_id"):
        if not item.get(index_key):
            item.pop(index_key, None)
    return item


class DynamoLedger(Table):
    """Attempts, `pk` = ladder key, `sk` = rung#channel. With `retention_days` each attempt
    carries its TTL (the records retention after the attempt)."""

    def __init__(
        self, table_name: str, *, retention_days: int | None = None, client: Any | None = None
    ) -> None:
        super().__init__(table_name, client=client)
        self._retention = timedelta(days=retention_days) if retention_days else None

    def claim(self, entry: LedgerEntry) -> bool:
        """Conditional put BEFORE the provider call: only the first claim of a
        (ladder, rung, channel) wins, so retries and duplicate events cannot send twice."""
        return self._put_new(_ledger_item(entry, self._retention)) is None

    def get(self, ladder_key: str, rung: int, channel: Channel) -> LedgerEntry | None:
        item = self._get({"pk": ladder_key, "sk": ledger_sort_key(rung, channel)})
        return LedgerEntry.model_validate(item) if item is not None else None

    def complete(
        self,
        ladder_key: str,
        rung: int,
        channel: Channel,
        state: Decision,
        provider_message_id: str = "",
    ) -> None:
        sort_key = ledger_sort_key(rung, channel)
        # `completed` tells an outcome of UNCERTAIN from a claim still open (release).
        update = "SET #state = :state, completed = :completed"
        values: Item = {":state": state.value, ":completed": True}
        if provider_message_id:
            # Only a real id: an empty string may not be a key of the by_message index.
            update += ", provider_message_id = :id"
            values[":id"] = provider_message_id
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_wire({"pk": ladder_key, "sk": sort_key}),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",  # only a claimed attempt completes
                ExpressionAttributeNames={"#state": "state"},  # a reserved word
                ExpressionAttributeValues=to_wire(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise RecordNotFound(f"no ledger claim {ladder_key} {sort_key}") from exc

    def record_delivery(self, provider_message_id: str, status: str, at: datetime) -> bool:
        """Find the attempt by the provider's id (GSI by_message), note the receipt on it."""
        keys = list(
            self._query(
                IndexName="by_message",
                KeyConditionExpression="provider_message_id = :id",
                ExpressionAttributeValues=to_wire({":id": provider_message_id}),
            )
        )
        for key in keys:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_wire({"pk": key["pk"], "sk": key["sk"]}),
                UpdateExpression="SET delivery = :status, delivery_at = :at",
                ExpressionAttributeValues=to_wire({":status": status, ":at": utc_iso(at)}),
            )
        return bool(keys)

    def release(self, ladder_key: str, rung: int, channel: Channel) -> None:
        """Undo a claim whose provider call certainly did not happen (throttled, 5xx).

        The delete is conditional on the claim having no outcome yet: a completed entry
        stays (even UNCERTAIN, which is never re-sent automatically: docs/design.md, At most once),
        or a retry could send twice. Releasing a missing claim is a no-op (the condition holds).
        """
        sort_key = ledger_sort_key(rung, channel)
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=to_wire({"pk": ladder_key, "sk": sort_key}),
                ConditionExpression="attribute_not_exists(completed)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            state = from_wire(exc.response.get("Item", {})).get("state", "?")
            raise ClaimCompleted(f"ledger entry {ladder_key} {sort_key} is {state}") from exc

    @staticmethod
    def _attempt_filter() -> tuple[str, dict[str, str]]:
        """Only SENT and UNCERTAIN attempts count towards caps (records.ATTEMPT_STATES)."""
        values = {f":attempt{i}": state.value for i, state in enumerate(sorted(ATTEMPT_STATES))}
        return f"#state IN ({', '.join(values)})", values

    def sent_to_address_since(
        self, address: str, since: datetime, *, lender_id: str | None = None
    ) -> list[datetime]:
        """Frequency caps across every account sharing an address (or only one lender's
        accounts: their ladder keys begin `{lender_id}#`): GSI by_address."""
        state_filter, state_values = self._attempt_filter()
        values = {":address": address, ":since": utc_iso(since), **state_values}
        if lender_id:
            state_filter = f"{state_filter} AND begins_with(pk, :lender)"
            values[":lender"] = f"{lender_id}#"
        items = self._query(
            IndexName="by_address",
            KeyConditionExpression="address = :address AND attempted_at >= :since",
            FilterExpression=state_filter,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_wire(values),
        )
        return sorted(datetime.fromisoformat(item["attempted_at"]) for item in items)

    def sent_for_ladder_since(
        self, ladder_key: str, channel: Channel | None, since: datetime
    ) -> list[datetime]:
        state_filter, values = self._attempt_filter()
        filters = [state_filter, "attempted_at >= :since"]
        values = {**values, ":pk": ladder_key, ":since": utc_iso(since)}
        if channel is not None:
            filters.append("channel = :channel")
            values[":channel"] = channel.value
        items = self._query(
            KeyConditionExpression="pk = :pk",
            FilterExpression=" AND ".join(filters),
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_wire(values),
            ConsistentRead=True,
        )
        return sorted(datetime.fromisoformat(item["attempted_at"]) for item in items)


class DynamoAuditLog(Table):
    def __init__(self, table_name: str, *, retention_days: int, client: Any | None = None) -> None:
        super().__init__(table_name, client=client)
        self.retention = timedelta(days=retention_days)

    def append(self, record: AuditRecord) -> None:
        """Append-only: a conditional put never overwrites. Replaying an identical record
        (a retried invocation) is a no-op; a different one under the same key is an
        AuditConflict. `expires_at` (epoch seconds) lets DynamoDB TTL apply the retention."""
        expires_at = int((record.at_utc + self.retention).timestamp())
        item = model_item(
            record,
            pk=audit_partition_key(record),
            sk=audit_sort_key(record),
            **{TTL_ATTRIBUTE: expires_at},
        )
        existing = self._put_new(item)
        if existing is not None and AuditRecord.model_validate(existing) != record:
            raise AuditConflict(f"audit record {item['pk']} {item['sk']} already holds another")


class DynamoDecisionLog(Table):
    """Inbound decisions in the audit table under `inbound#{channel}#{address}`, apart from
    the gate's `lender#account#cycle` keys; append-only with the same TTL retention."""

    def __init__(self, table_name: str, *, retention_days: int, client: Any | None = None) -> None:
        super().__init__(table_name, client=client)
        self.retention = timedelta(days=retention_days)

    def append(self, decision: InboundDecision) -> None:
        expires_at = int((decision.at + self.retention).timestamp())
        item = model_item(
            decision,
            pk=decision.key,
            sk=decision_sort_key(decision),
            **{TTL_ATTRIBUTE: expires_at},
        )
        existing = self._put_new(item)
        if existing is not None and InboundDecision.model_validate(existing) != decision:
            raise AuditConflict(f"inbound decision {item['sk']} already holds another")

    def history(self, channel: Channel, address: str) -> list[InboundDecision]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_wire(
                {":pk": f"{INBOUND_PREFIX}{suppression_key(channel, address)}"}
            ),
            ConsistentRead=True,
        )
        return [InboundDecision.model_validate(item) for item in items]


class DynamoReviewQueue(Table):
    """`pk` = review id. The queue is small (ops reads it daily): a filtered scan lists it.
    A resolved item (it holds the reply as written) expires after the retention; an open one
    stays until a person resolves it."""

    def __init__(self, table_name: str, *, retention_days: int, client: Any | None = None) -> None:
        super().__init__(table_name, client=client)
        self.retention = timedelta(days=retention_days)

    def open(self, item: ReviewItem) -> bool:
        return self._put_new(model_item(item, pk=item.review_id)) is None

    def get(self, review_id: str) -> ReviewItem | None:
        item = self._get({"pk": review_id})
        return ReviewItem.model_validate(item) if item is not None else None

    def pending(self) -> list[ReviewItem]:
        items = [
            from_wire(item)
            for page in self.client.get_paginator("scan").paginate(
                TableName=self.table_name,
                FilterExpression="#state = :open",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_wire({":open": ReviewState.OPEN.value}),
                ConsistentRead=True,
            )
            for item in page["Items"]
        ]
        found = [ReviewItem.model_validate(item) for item in items]
        return sorted(found, key=lambda i: (i.at, i.review_id))

    def resolve(self, item: ReviewItem) -> None:
        try:
            expires = item.resolved_at or item.at
            stored = model_item(
                item,
                pk=item.review_id,
                **{TTL_ATTRIBUTE: int((expires + self.retention).timestamp())},
            )
            self.client.put_item(
                TableName=self.table_name,
                Item=to_wire(stored),
                ConditionExpression="#state = :open",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_wire({":open": ReviewState.OPEN.value}),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise ReviewClosed(f"review {item.review_id} is not open") from exc


class DynamoUploadStore(Table):
    """One item per lender file, `pk` = key#etag. With `retention_days` each carries its TTL:
    the records retention after the file was received (docs/compliance.md, Records and
    erasure)."""

    def __init__(
        self, table_name: str, *, retention_days: int | None = None, client: Any | None = None
    ) -> None:
        super().__init__(table_name, client=client)
        self._retention = timedelta(days=retention_days) if retention_days else None

    def _item(self, record: UploadRecord) -> Item:
        item = model_item(record, pk=record.pk)
        if self._retention is not None:
            item[TTL_ATTRIBUTE] = int((record.received_at + self._retention).timestamp())
        return item

    def begin(self, record: UploadRecord) -> UploadRecord | None:
        """Conditional put of key+ETag: a duplicate S3 event finds the first record instead."""
        existing = self._put_new(self._item(record))
        return UploadRecord.model_validate(existing) if existing is not None else None

    def finish(self, record: UploadRecord) -> None:
        self.client.put_item(TableName=self.table_name, Item=to_wire(self._item(record)))

    def reopen(self, seen: UploadRecord, record: UploadRecord) -> UploadRecord | None:
        if not seen.rejected_whole:
            return None
        reopened = record.model_copy(update={"attempt": seen.attempt + 1})
        # Records written before attempts were counted have none: they are the first attempt.
        first = " OR attribute_not_exists(#attempt)" if seen.attempt == 1 else ""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_wire(self._item(reopened)),
                ConditionExpression=f"#error = :error AND (#attempt = :attempt{first})",
                ExpressionAttributeNames={"#error": "file_error", "#attempt": "attempt"},
                ExpressionAttributeValues=to_wire(
                    {":error": seen.file_error, ":attempt": seen.attempt}
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return reopened


class DynamoInboundLog(Table):
    def __init__(self, table_name: str, *, ttl_days: int = 30, client: Any | None = None) -> None:
        super().__init__(table_name, client=client)
        self.ttl = timedelta(days=ttl_days)

    def first_time(self, message_id: str, at: datetime) -> bool:
        """SNS delivers at least once: the conditional put lets one delivery act.
        Ids are kept `ttl_days` (far beyond SNS's redelivery window), then expire."""
        item: Item = {
            "pk": message_id,
            "received_at": utc_iso(at),
            TTL_ATTRIBUTE: int((at + self.ttl).timestamp()),
        }
        return self._put_new(item) is None


class DynamoExperimentTally(Table):
    """Experiment tallies (functions.core.experiments) in the accounts table, one item per
    variant under `~experiment#{lender}#{experiment}#{variant}`: no account key can start with
    `~` (a lender id starts with a letter or digit), and the item carries neither phone nor
    email, so it stays out of the address indexes."""

    PREFIX = "~experiment#"

    def _key(self, lender_id: str, experiment: str, variant: str) -> dict[str, str]:
        return {"pk": f"{self.PREFIX}{lender_id}#{experiment}#{variant}"}

    @staticmethod
    def _tally(item: Item | None) -> VariantTally:
        if item is None:
            return VariantTally()
        return VariantTally.model_validate({k: v for k, v in item.items() if k != "pk"})

    def get(self, lender_id: str, experiment: str, variant: str) -> VariantTally:
        return self._tally(self._get(self._key(lender_id, experiment, variant)))

    def add(self, lender_id: str, experiment: str, variant: str, counter: str) -> VariantTally:
        if counter not in TALLY_COUNTERS:
            raise ValueError(f"no experiment counter {counter!r}")
        # ADD is atomic and creates the item at 0: concurrent invocations never lose a count.
        response = self.client.update_item(
            TableName=self.table_name,
            Key=to_wire(self._key(lender_id, experiment, variant)),
            UpdateExpression="ADD #c :one",
            ExpressionAttributeNames={"#c": counter},
            ExpressionAttributeValues=to_wire({":one": 1}),
            ReturnValues="ALL_NEW",
        )
        return self._tally(from_wire(response["Attributes"]))

    def stop(self, lender_id: str, experiment: str, variant: str, reason: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_wire(self._key(lender_id, experiment, variant)),
                UpdateExpression="SET stopped = :reason",
                ConditionExpression="attribute_not_exists(stopped)",
                ExpressionAttributeValues=to_wire({":reason": reason}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
