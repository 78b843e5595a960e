"""In-memory adapters for every port: the simulator's engine room and the tests' fakes.

They follow the DynamoDB / SNS / SES / Step Functions adapters rule for rule (conditional
writes, append-only audit, idempotent starts, case-insensitive email suppression); the
contract suite in tests/integration/test_port_contracts.py runs the same checks on both.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from functions.adapters.records import (
    ATTEMPT_STATES,
    AuditConflict,
    ClaimCompleted,
    ObjectNotFound,
    RecordNotFound,
    ReviewClosed,
    audit_partition_key,
    audit_sort_key,
    decision_sort_key,
    ledger_sort_key,
    utc_iso,
)
from functions.core.erasure import (
    LENDER_FILE_PREFIXES,
    file_replacements,
    mentions,
    scrub_bytes,
    scrub_value,
    suppression_keys_for,
)
from functions.core.errors import PermanentSendError
from functions.core.experiments import TALLY_COUNTERS, VariantTally
from functions.core.models import (
    INBOUND_PREFIX,
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
    ReviewState,
    Suppression,
    UploadRecord,
    suppression_key,
)
from functions.core.ports import ErasureScope, ErasureTally, OutboundMessage
from functions.core.sending import lease_key


class MemoryAccountStore:
    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}

    def get(self, lender_id: str, account_id: str) -> Account | None:
        return self._accounts.get(f"{lender_id}#{account_id}")

    def put_many(self, accounts: Iterable[Account]) -> None:
        for account in accounts:
            self._accounts[account.key] = account

    def set_status(
        self,
        lender_id: str,
        account_id: str,
        status: AccountStatus,
        at: datetime,
        *,
        hold_until: datetime | None = None,
    ) -> None:
        """Raises RecordNotFound for an unknown account (DynamoDB: attribute_exists condition)."""
        account = self._existing(lender_id, account_id)
        utc_iso(at)  # same rule as DynamoDB: naive instants are refused
        self._accounts[account.key] = account.model_copy(
            update={"status": status, "status_changed_at": at, "hold_until": hold_until}
        )

    def add_preference(
        self, lender_id: str, account_id: str, preference: ContactPreference
    ) -> None:
        account = self._existing(lender_id, account_id)
        utc_iso(preference.at)
        self._accounts[account.key] = account.model_copy(
            update={"contact_preferences": (*account.contact_preferences, preference)}
        )

    def _existing(self, lender_id: str, account_id: str) -> Account:
        key = f"{lender_id}#{account_id}"
        account = self._accounts.get(key)
        if account is None:
            raise RecordNotFound(f"no account {key}")
        return account

    def find_by_address(self, channel: Channel, address: str) -> list[Account]:
        return [a for a in self._accounts.values() if a.address(channel) == address]

    def all(self) -> list[Account]:
        """Every stored account (simulator reports; DynamoDB has no cheap equivalent)."""
        return list(self._accounts.values())


class MemorySuppressionStore:
    """Keyed by `suppression_key`, so email addresses match whatever their case."""

    def __init__(self) -> None:
        self._suppressions: dict[str, Suppression] = {}

    def get(
        self, channel: Channel, address: str, *, lender_id: str | None = None
    ) -> Suppression | None:
        return self._suppressions.get(suppression_key(channel, address, lender_id))

    def put(self, suppression: Suppression) -> None:
        utc_iso(suppression.at)
        self._suppressions[suppression.key] = suppression

    def delete(self, channel: Channel, address: str, *, lender_id: str | None = None) -> None:
        self._suppressions.pop(suppression_key(channel, address, lender_id), None)

    def all(self) -> list[Suppression]:
        """Every suppression held (simulator reports)."""
        return sorted(self._suppressions.values(), key=lambda s: (s.at, s.key))


class MemoryChannelSwitch:
    def __init__(self) -> None:
        self._pauses: dict[Channel, ChannelPause] = {}

    def paused(self, channel: Channel) -> ChannelPause | None:
        return self._pauses.get(channel)

    def pause(self, pause: ChannelPause) -> None:
        utc_iso(pause.at)
        self._pauses[pause.channel] = pause

    def resume(self, channel: Channel) -> None:
        self._pauses.pop(channel, None)


class MemoryLedger:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], LedgerEntry] = {}
        # Completed claims; a completed UNCERTAIN entry looks like an open claim otherwise.
        self._completed: set[tuple[str, str]] = set()
        # The DynamoDB table's partition key and GSI, as indexes (the simulator asks often).
        self._by_ladder: dict[str, set[tuple[str, str]]] = {}
        self._by_address: dict[str, set[tuple[str, str]]] = {}
        self._by_message: dict[str, tuple[str, str]] = {}

    def claim(self, entry: LedgerEntry) -> bool:
        """Conditional put BEFORE the provider call: the second claim loses (at-most-once)."""
        utc_iso(entry.attempted_at)
        key = (entry.ladder_key, entry.sort_key)
        if key in self._entries:
            return False
        self._entries[key] = entry
        self._by_ladder.setdefault(entry.ladder_key, set()).add(key)
        if entry.address:
            self._by_address.setdefault(entry.address, set()).add(key)
        return True

    def get(self, ladder_key: str, rung: int, channel: Channel) -> LedgerEntry | None:
        return self._entries.get((ladder_key, ledger_sort_key(rung, channel)))

    def complete(
        self,
        ladder_key: str,
        rung: int,
        channel: Channel,
        state: Decision,
        provider_message_id: str = "",
    ) -> None:
        """Record the outcome of a claimed attempt; completing an unclaimed one is a bug."""
        key = (ladder_key, ledger_sort_key(rung, channel))
        entry = self._entries.get(key)
        if entry is None:
            raise RecordNotFound(f"no ledger claim {ladder_key} {key[1]}")
        self._entries[key] = entry.model_copy(
            update={"state": state, "provider_message_id": provider_message_id}
        )
        self._completed.add(key)
        if provider_message_id:
            self._by_message[provider_message_id] = key

    def record_delivery(self, provider_message_id: str, status: str, at: datetime) -> bool:
        key = self._by_message.get(provider_message_id)
        if key is None:
            return False
        utc_iso(at)
        self._entries[key] = self._entries[key].model_copy(
            update={"delivery": status, "delivery_at": at}
        )
        return True

    def release(self, ladder_key: str, rung: int, channel: Channel) -> None:
        """Undo a claim whose provider call certainly did not happen (throttled, 5xx).

        Only a claim without an outcome is released (one completed as UNCERTAIN must never
        be re-sent automatically: docs/design.md, At most once); releasing a missing claim is a
        no-op.
        """
        key = (ladder_key, ledger_sort_key(rung, channel))
        entry = self._entries.get(key)
        if entry is None:
            return
        if key in self._completed:
            raise ClaimCompleted(f"ledger entry {ladder_key} {key[1]} is {entry.state.value}")
        del self._entries[key]
        self._by_ladder[ladder_key].discard(key)
        self._by_address.get(entry.address, set()).discard(key)

    def sent_to_address_since(
        self, address: str, since: datetime, *, lender_id: str | None = None
    ) -> list[datetime]:
        entries = (self._entries[key] for key in self._by_address.get(address, ()))
        prefix = f"{lender_id}#" if lender_id else ""
        return sorted(
            e.attempted_at
            for e in entries
            if e.state in ATTEMPT_STATES
            and e.attempted_at >= since
            and e.ladder_key.startswith(prefix)
        )

    def sent_for_ladder_since(
        self, ladder_key: str, channel: Channel | None, since: datetime
    ) -> list[datetime]:
        entries = (self._entries[key] for key in self._by_ladder.get(ladder_key, ()))
        return sorted(
            e.attempted_at
            for e in entries
            if (channel is None or e.channel is channel)
            and e.state in ATTEMPT_STATES
            and e.attempted_at >= since
        )

    def entries(self) -> list[LedgerEntry]:
        return list(self._entries.values())


class MemoryAuditLog:
    """Append-only. Re-appending an identical record is a no-op (a replayed invocation);
    a different record under the same key raises AuditConflict instead of overwriting."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._by_key: dict[tuple[str, str], AuditRecord] = {}

    def append(self, record: AuditRecord) -> None:
        key = (audit_partition_key(record), audit_sort_key(record))
        existing = self._by_key.get(key)
        if existing is not None:
            if existing == record:
                return
            raise AuditConflict(f"audit record {key[0]} {key[1]} already holds another decision")
        self._by_key[key] = record
        self.records.append(record)


class MemoryDecisionLog:
    """Append-only, as the audit log: an identical replay is a no-op, never an overwrite."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], InboundDecision] = {}

    def append(self, decision: InboundDecision) -> None:
        utc_iso(decision.at)
        key = (decision.key, decision_sort_key(decision))
        existing = self._by_key.setdefault(key, decision)
        if existing != decision:
            raise AuditConflict(f"inbound decision {key[1]} already holds another")

    def history(self, channel: Channel, address: str) -> list[InboundDecision]:
        prefix = f"{INBOUND_PREFIX}{suppression_key(channel, address)}"
        return [d for (pk, _), d in sorted(self._by_key.items()) if pk == prefix]

    def all(self) -> list[InboundDecision]:
        return sorted(self._by_key.values(), key=lambda d: (d.at, decision_sort_key(d)))


class MemoryReviewQueue:
    def __init__(self) -> None:
        self._items: dict[str, ReviewItem] = {}

    def open(self, item: ReviewItem) -> bool:
        utc_iso(item.at)
        if item.review_id in self._items:
            return False
        self._items[item.review_id] = item
        return True

    def get(self, review_id: str) -> ReviewItem | None:
        return self._items.get(review_id)

    def pending(self) -> list[ReviewItem]:
        return sorted(
            (i for i in self._items.values() if i.state is ReviewState.OPEN),
            key=lambda i: (i.at, i.review_id),
        )

    def resolve(self, item: ReviewItem) -> None:
        current = self._items.get(item.review_id)
        if current is None:
            raise RecordNotFound(f"no review {item.review_id}")
        if current.state is not ReviewState.OPEN:
            raise ReviewClosed(f"review {item.review_id} is already {current.state.value}")
        self._items[item.review_id] = item


class MemorySendSlots:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def take(self, counter: str, expires: datetime) -> int:
        self.counts[counter] += 1
        return self.counts[counter]


class MemoryAddressLeases:
    def __init__(self) -> None:
        self.held: dict[str, tuple[str, datetime]] = {}  # key -> (owner, until)

    def take(self, key: str, owner: str, now: datetime, until: datetime) -> bool:
        holder = self.held.get(key)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self.held[key] = (owner, until)
        return True


class _FailureQueue:
    """Failures to raise on the next sends, for tests of retry and error mapping."""

    def __init__(self) -> None:
        self._pending: list[Exception] = []

    def fail_next(self, exc: Exception, times: int = 1) -> None:
        self._pending.extend([exc] * times)

    def raise_if_due(self) -> None:
        if self._pending:
            raise self._pending.pop(0)


class MemorySms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        # Numbers on the provider's own opt-out list (End User Messaging's, of the origination).
        self.opted_out: set[str] = set()
        self._failures = _FailureQueue()

    def fail_next(self, exc: Exception, times: int = 1) -> None:
        """The next `times` sends raise `exc` and record nothing (as a refused provider call)."""
        self._failures.fail_next(exc, times)

    def opt_in(self, address: str) -> bool:
        self.opted_out.discard(address)
        return True

    def send(self, message: OutboundMessage) -> str:
        self._failures.raise_if_due()
        if message.to in self.opted_out:
            raise PermanentSendError("sms_opted_out", "number is on the provider opt-out list")
        message_id = f"mem-sms-{len(self.sent) + 1:06d}"
        self.sent.append((message_id, message))
        return message_id


class MemoryEmail:
    def __init__(self) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self._failures = _FailureQueue()

    def fail_next(self, exc: Exception, times: int = 1) -> None:
        """The next `times` sends raise `exc` and record nothing (as a refused provider call)."""
        self._failures.fail_next(exc, times)

    def send(self, message: OutboundMessage) -> str:
        self._failures.raise_if_due()
        message_id = f"mem-email-{len(self.sent) + 1:06d}"
        self.sent.append((message_id, message))
        return message_id


class MemoryPush:
    """SNS mobile push: endpoints the platform disabled refuse, as SNS does."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.disabled: set[str] = set()  # endpoint ARNs whose Enabled attribute is false
        self._failures = _FailureQueue()

    def fail_next(self, exc: Exception, times: int = 1) -> None:
        """The next `times` sends raise `exc` and record nothing (as a refused provider call)."""
        self._failures.fail_next(exc, times)

    def send(self, message: OutboundMessage) -> str:
        self._failures.raise_if_due()
        if message.to in self.disabled:
            raise PermanentSendError(
                "push_endpoint_disabled", "endpoint is disabled", address_gone=True
            )
        message_id = f"mem-push-{len(self.sent) + 1:06d}"
        self.sent.append((message_id, message))
        return message_id


class MemoryLadderControl:
    """Step Functions' naming rules without the executor.

    As in Step Functions, a name is used once: starting it again is refused (False), except
    that the same name with the same input while still running is an idempotent success.
    The simulator drives the ladders itself and calls `finish` when one ends.
    """

    def __init__(self) -> None:
        self.started: dict[str, str] = {}  # name -> state JSON it was started with
        self.stopped: list[str] = []
        self.running: set[str] = set()

    def start(self, name: str, state_json: str) -> bool:
        if name in self.started:
            return name in self.running and self.started[name] == state_json
        self.started[name] = state_json
        self.running.add(name)
        return True

    def stop(self, name: str, cause: str) -> bool:
        if name not in self.running:
            return False
        self.running.discard(name)
        self.stopped.append(name)
        return True

    def finish(self, name: str) -> None:
        """The execution ended on its own (last rung done); its name stays used."""
        self.running.discard(name)


class MemoryUploadStore:
    def __init__(self) -> None:
        self.records: dict[str, UploadRecord] = {}

    def begin(self, record: UploadRecord) -> UploadRecord | None:
        """Returns the existing record when this key+ETag was seen (a duplicate S3 event)."""
        existing = self.records.get(record.pk)
        if existing is not None:
            return existing
        utc_iso(record.received_at)
        self.records[record.pk] = record
        return None

    def finish(self, record: UploadRecord) -> None:
        self.records[record.pk] = record

    def reopen(self, seen: UploadRecord, record: UploadRecord) -> UploadRecord | None:
        if not seen.rejected_whole or self.records.get(record.pk) != seen:
            return None
        reopened = record.model_copy(update={"attempt": seen.attempt + 1})
        self.records[record.pk] = reopened
        return reopened


class MemoryObjectStore:
    """A dict of bytes, or a folder on disk when `root` is given (the simulator's --out)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root.resolve() if root is not None else None
        self._objects: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}

    def _path(self, key: str) -> Path:
        assert self._root is not None
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise ValueError(f"object key {key!r} escapes the store's folder")
        return path

    def open(self, key: str) -> BinaryIO:
        if self._root is None:
            if key not in self._objects:
                raise ObjectNotFound(f"no object {key!r}")
            return io.BytesIO(self._objects[key])
        path = self._path(key)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"no object {key!r}") from exc

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.content_types[key] = content_type
        if self._root is None:
            self._objects[key] = body
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def stored_keys(self) -> list[str]:
        """Every stored key (the erasure looks through them all)."""
        if self._root is None:
            return sorted(self._objects)
        found = (p for p in self._root.rglob("*") if p.is_file())
        return sorted(p.relative_to(self._root).as_posix() for p in found)

    def delete(self, key: str) -> None:
        self.content_types.pop(key, None)
        if self._root is None:
            self._objects.pop(key, None)
        else:
            self._path(key).unlink(missing_ok=True)

    def content_type(self, key: str) -> str:
        return self.content_types.get(key, "application/octet-stream")

    def link(self, key: str, valid_for: timedelta) -> str:
        """The file itself when kept in a folder, else a `memory:` name (nothing expires here)."""
        return self._path(key).as_uri() if self._root is not None else f"memory:{key}"


class MemoryContinuations:
    """Records asynchronous invocations; the caller (a test, the simulator) decides to run them."""

    def __init__(self) -> None:
        self.invocations: list[tuple[str, str]] = []

    def continue_later(self, function_arn: str, payload: str) -> None:
        self.invocations.append((function_arn, payload))


class MemoryInboundLog:
    def __init__(self) -> None:
        self.seen: dict[str, datetime] = {}

    def first_time(self, message_id: str, at: datetime) -> bool:
        """False for a redelivered message id (SNS delivers at least once)."""
        if message_id in self.seen:
            return False
        self.seen[message_id] = at
        return True


class MemoryErasedAddresses:
    """Hashed suppressions left by erasures, by pseudonym (never expire)."""

    def __init__(self) -> None:
        self.marks: dict[str, ErasedAddress] = {}

    def get(self, pseudonym: str) -> ErasedAddress | None:
        return self.marks.get(pseudonym)

    def put(self, mark: ErasedAddress) -> None:
        utc_iso(mark.at)
        self.marks.setdefault(mark.pseudonym, mark)  # the first erasure's mark stays


class MemoryBorrowerRecords:
    """The in-memory stores a borrower's data lives in, erased as the DynamoDB + S3 adapter
    (functions.adapters.erasable) erases the tables and the bucket."""

    def __init__(
        self,
        *,
        accounts: MemoryAccountStore,
        suppressions: MemorySuppressionStore,
        ledger: MemoryLedger,
        audit: MemoryAuditLog,
        decisions: MemoryDecisionLog,
        reviews: MemoryReviewQueue,
        objects: MemoryObjectStore,
        leases: MemoryAddressLeases,
        lender_file_prefixes: tuple[str, ...] = LENDER_FILE_PREFIXES,
    ) -> None:
        self._accounts = accounts
        self._suppressions = suppressions
        self._ledger = ledger
        self._audit = audit
        self._decisions = decisions
        self._reviews = reviews
        self._objects = objects
        self._leases = leases
        self._lender_files = lender_file_prefixes
        self.erasures: list[ErasureRecord] = []

    def erase(self, scope: ErasureScope) -> ErasureTally:
        tally = ErasureTally()
        swap = scope.replacements
        for account in scope.accounts:
            if self._accounts._accounts.pop(account.key, None) is not None:
                tally.removed["accounts"] += 1
        for channel, address in scope.addresses:
            for key in suppression_keys_for(channel, address, scope.lender_ids):
                if self._suppressions._suppressions.pop(key, None) is not None:
                    tally.removed["suppressions"] += 1
            if self._leases.held.pop(lease_key(channel, address), None) is not None:
                tally.removed["address_leases"] += 1
        ledger = self._ledger
        for address in swap:
            for entry_key in ledger._by_address.pop(address, set()):
                ledger._entries[entry_key] = ledger._entries[entry_key].model_copy(
                    update={"address": swap[address]}
                )
                ledger._by_address.setdefault(swap[address], set()).add(entry_key)
                tally.pseudonymised["ledger"] += 1
        audit = self._audit
        for index, record in enumerate(audit.records):
            scrubbed = AuditRecord.model_validate(scrub_value(record.model_dump(), swap))
            if scrubbed != record:
                audit.records[index] = scrubbed
                audit._by_key[(audit_partition_key(record), audit_sort_key(record))] = scrubbed
                tally.pseudonymised["audit"] += 1
        decisions = self._decisions._by_key
        for decision_key, decision in list(decisions.items()):
            scrubbed_decision = InboundDecision.model_validate(
                scrub_value(decision.model_dump(), swap)
            )
            if scrubbed_decision != decision:
                del decisions[decision_key]
                decisions[(scrubbed_decision.key, decision_sort_key(scrubbed_decision))] = (
                    scrubbed_decision
                )
                tally.pseudonymised["inbound_decisions"] += 1
        reviews = self._reviews._items
        for review_id, item in list(reviews.items()):
            scrubbed_item = ReviewItem.model_validate(scrub_value(item.model_dump(), swap))
            if scrubbed_item != item:
                reviews[review_id] = scrubbed_item
                tally.pseudonymised["reviews"] += 1
        self._erase_objects(file_replacements(swap), tally)
        return tally

    def _erase_objects(self, forms: dict[str, str], tally: ErasureTally) -> None:
        for key in self._objects.stored_keys():
            with self._objects.open(key) as stream:
                data = stream.read()
            if not mentions(data, forms):
                continue
            if key.startswith(self._lender_files):
                self._objects.delete(key)
                tally.removed["lender_files"] += 1
            else:
                self._objects.put(key, scrub_bytes(data, forms), self._objects.content_type(key))
                tally.pseudonymised["reports"] += 1

    def record(self, erasure: ErasureRecord) -> None:
        utc_iso(erasure.at)
        if all(e.erasure_id != erasure.erasure_id for e in self.erasures):
            self.erasures.append(erasure)


class MemoryExperimentTally:
    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, str], VariantTally] = {}

    def get(self, lender_id: str, experiment: str, variant: str) -> VariantTally:
        return self._tallies.get((lender_id, experiment, variant), VariantTally())

    def add(self, lender_id: str, experiment: str, variant: str, counter: str) -> VariantTally:
        if counter not in TALLY_COUNTERS:
            raise ValueError(f"no experiment counter {counter!r}")
        tally = self.get(lender_id, experiment, variant)
        tally = tally.model_copy(update={counter: getattr(tally, counter) + 1})
        self._tallies[(lender_id, experiment, variant)] = tally
        return tally

    def stop(self, lender_id: str, experiment: str, variant: str, reason: str) -> bool:
        tally = self.get(lender_id, experiment, variant)
        if tally.stopped:
            return False
        self._tallies[(lender_id, experiment, variant)] = tally.model_copy(
            update={"stopped": reason}
        )
        return True
