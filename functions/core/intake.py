"""Intake of lender files: accounts upserted, ladders started or stopped, every row accounted for.

Pure over the ports (accounts, ladders, uploads, objects); the schedule Lambda is a thin shell
around `ingest`. The rules, in the order a reader asks about them:

- Idempotent. `UploadStore.begin` on key+ETag: a finished upload seen again (a duplicate S3
  event, the same file uploaded twice) changes nothing. An unfinished one seen again is a
  retry after a crash and is processed again from the top, which is safe: every account row
  carries a mark `{key}#{etag}@{row}` in `Account.upload_key`, execution names are
  deterministic per (lender, account, cycle), and a partial payment already applied by the
  same row is recognised by its mark.
- Incremental. A known account is updated (balance, dates, contacts) without restarting its
  ladder; its status is kept unless the file sets one; its cycle is kept while the due date
  is unchanged. A new account, or a new cycle, starts one ladder at rung 0 now — the send
  function applies the catch-up policy (user story 9), so intake does no ladder arithmetic.
- Ordered for crashes. Per batch: stop superseded ladders, write the accounts, then start
  new ladders. A crash between two steps is repaired by replaying the batch.
- Streaming. Rows reach the store in batches of `BATCH_SIZE`; after every `BATCH_SIZE` rows
  (accounts or payments) `should_pause` may end the invocation, and the returned
  `Continuation` resumes at the exact byte.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pydantic import BaseModel, ConfigDict

from functions.core.csv_safety import SafeCsvWriter
from functions.core.csv_stream import Cursor
from functions.core.errors import ConfigError, FileRejected
from functions.core.experiments import ExperimentBook, assign, load_experiments
from functions.core.ladder import LadderState, execution_name, to_sfn_timestamp
from functions.core.lender_file import (
    LenderFile,
    LenderRow,
    RowError,
    RowResult,
    duplicate_error,
    parse_amount,
)
from functions.core.lenders import LenderConfig
from functions.core.models import (
    BLOCKING_STATUSES,
    LEGAL_STATUSES,
    Account,
    AccountStatus,
    UploadKind,
    UploadRecord,
)
from functions.core.payments_file import PaymentRow, PaymentsFile
from functions.core.ports import (
    AccountStore,
    ExperimentTally,
    FileDecryption,
    LadderControl,
    LenderSource,
    MessageSender,
    ObjectStore,
    UploadStore,
)
from functions.core.preferences import LENDER_FILE
from functions.core.receipts import add_reasons, reason_kind, send_receipt

BATCH_SIZE = 500  # accounts per put_many (DynamoDB BatchWriteItem takes 25; the adapter splits)
REPORT_HEADER = ("row", "account_id", "field", "reason")
REPORT_CONTENT_TYPE = "text/csv; charset=utf-8"
# Statuses that belong to one delinquency: a new cycle (a new due date) starts afresh.
# The others (CEASE, BANKRUPTCY, ATTORNEY, DECEASED, DISPUTED) describe the borrower or the
# debt and outlive the cycle (docs/compliance.md): a new due date must not re-open contact.
PER_CYCLE_STATUSES = frozenset(
    {
        AccountStatus.PAID,
        AccountStatus.PAYMENT_CLAIMED,
        AccountStatus.PROMISE_TO_PAY,
        AccountStatus.COMPLETED,
    }
)
_PREFIXES = {"uploads": UploadKind.ACCOUNTS, "payments": UploadKind.PAYMENTS}
ENCRYPTED_SUFFIXES = (".pgp", ".gpg", ".asc")  # OpenPGP, binary or ASCII-armored


class IntakePorts(Protocol):
    """What intake needs from `functions.bootstrap.Services` (which satisfies it)."""

    @property
    def accounts(self) -> AccountStore: ...
    @property
    def ladders(self) -> LadderControl: ...
    @property
    def uploads(self) -> UploadStore: ...
    @property
    def objects(self) -> ObjectStore: ...
    @property
    def decryption(self) -> FileDecryption: ...
    @property
    def email(self) -> MessageSender: ...  # receipts to the lender
    @property
    def experiments(self) -> ExperimentTally: ...  # accounts assigned, guardrail stops
    @property
    def lenders(self) -> LenderSource: ...  # pushed to the bucket, else shipped


class Continuation(BaseModel):
    """Where a paused intake resumes: the record so far and the byte after the last batch."""

    model_config = ConfigDict(frozen=True)

    record: UploadRecord
    cursor: Cursor
    blank_lines: int = 0


@dataclass(frozen=True)
class IntakeOutcome:
    record: UploadRecord  # cumulative over every invocation so far
    duplicate: bool = False  # key+ETag already finished: nothing was done
    continuation: Continuation | None = None  # set when paused: invoke again with it
    accepted: int = 0  # rows accepted by this invocation (metrics)
    rejected: int = 0
    ladders_started: int = 0
    blank_lines: int = 0
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class UploadKey:
    """`uploads/{lender_id}/{name}.csv` or `payments/{lender_id}/{name}.csv`, optionally
    OpenPGP-encrypted: `{name}.csv.pgp` (or `.gpg`, `.asc`)."""

    key: str
    kind: UploadKind
    lender_id: str
    name: str
    encrypted: bool = False

    @classmethod
    def parse(cls, key: str) -> UploadKey:
        prefix, _, rest = key.partition("/")
        lender_id, _, name = rest.partition("/")
        kind = _PREFIXES.get(prefix, UploadKind.ACCOUNTS)
        encrypted = name.lower().endswith(ENCRYPTED_SUFFIXES)
        stem = name.rsplit(".", 1)[0] if encrypted else name
        stem = stem[:-4] if stem.lower().endswith(".csv") else stem
        return cls(key=key, kind=kind, lender_id=lender_id, name=stem, encrypted=encrypted)

    def report_key(self, reports_prefix: str) -> str:
        kind = "" if self.kind is UploadKind.ACCOUNTS else ".payments"
        lender = self.lender_id or "_unknown"
        name = self.name or "_unnamed"
        return f"{reports_prefix}{lender}/{name}{kind}.rejects.csv"


def upload_mark(record: UploadRecord, row: int) -> str:
    return f"{record.pk}@{row}"


def marked_row(account: Account | None, record: UploadRecord) -> int | None:
    """The row of *this* upload that last wrote `account`, if this upload wrote it."""
    if account is None or not account.upload_key:
        return None
    upload, _, row = account.upload_key.rpartition("@")
    return int(row) if upload == record.pk and row.isdigit() else None


def never() -> bool:
    return False


def ingest(
    ports: IntakePorts,
    key: str,
    etag: str,
    now: datetime,
    config_root: Path,
    reports_prefix: str = "rejects/",
    resume: Continuation | None = None,
    should_pause: Callable[[], bool] = never,
    configuration_set: str | None = None,
) -> IntakeOutcome:
    """Process one lender file (or resume one) and record the upload. Never raises for a bad file:
    an unreadable file, a bad key or an unknown lender ends as `record.file_error` + report."""
    upload = UploadKey.parse(key)
    if resume is None:
        record = UploadRecord(
            key=key, etag=etag, lender_id=upload.lender_id, kind=upload.kind, received_at=now
        )
        seen = ports.uploads.begin(record)
        if seen is not None and seen.finished:
            reopened = ports.uploads.reopen(seen, record)
            if reopened is None:
                return IntakeOutcome(record=seen, duplicate=True)
            record = reopened
    else:
        record = resume.record
    report = RejectReport(ports.objects, upload.report_key(reports_prefix), record.report_key)
    lender: LenderConfig | None = None
    try:
        lender = _lender_for(upload, ports.lenders)
        run = _Run(
            ports, lender, record, now, report, load_experiments(config_root, lender.lender_id)
        )
        outcome = run.process(upload, resume, should_pause)
    except FileRejected as exc:
        report.add_file_error(str(exc))
        report.save()
        record = record.model_copy(
            update={"finished": True, "file_error": str(exc), "report_key": report.key}
        )
        outcome = IntakeOutcome(record=record)
    if lender is not None and outcome.record.finished:
        # An unknown lender has no one to send a receipt to: its file is in the reject report.
        receipted = send_receipt(
            ports.email, ports.objects, lender, outcome.record, upload.name, configuration_set
        )
        outcome = replace(outcome, record=receipted)
    ports.uploads.finish(outcome.record)
    return outcome


def _lender_for(upload: UploadKey, lenders: LenderSource) -> LenderConfig:
    if upload.kind is UploadKind.ACCOUNTS and not upload.key.startswith("uploads/"):
        raise FileRejected(f"key {upload.key!r} is neither uploads/… nor payments/…")
    if not upload.lender_id or not upload.name:
        raise FileRejected(f"key {upload.key!r} is not uploads/{{lender_id}}/{{name}}.csv")
    try:
        return lenders.get(upload.lender_id)
    except ConfigError as exc:
        raise FileRejected(str(exc)) from exc


@dataclass
class _Counts:
    accepted: int = 0
    rejected: int = 0
    ladders_started: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class _Merge:
    account: Account
    row: int
    stop_cycle: str | None  # a running ladder to stop first (superseded cycle, blocking status)
    start: bool


class _Run:
    """One invocation's work on one file."""

    def __init__(
        self,
        ports: IntakePorts,
        lender: LenderConfig,
        record: UploadRecord,
        now: datetime,
        report: RejectReport,
        experiments: ExperimentBook,
    ) -> None:
        self.ports = ports
        self.lender = lender
        self.record = record
        self.now = now
        self.report = report
        self.experiments = experiments
        self.counts = _Counts()
        self.pending: dict[str, _Merge] = {}
        self._stopped: dict[str, frozenset[str]] = {}  # per experiment, read once per run

    @contextmanager
    def _plaintext(self, upload: UploadKey) -> Iterator[BinaryIO]:
        with self.ports.objects.open(upload.key) as stored:
            if not upload.encrypted:
                yield stored
                return
            with self.ports.decryption.open(stored, self.lender.pgp_signing_key) as plain:
                yield plain

    def process(
        self, upload: UploadKey, resume: Continuation | None, should_pause: Callable[[], bool]
    ) -> IntakeOutcome:
        start = resume.cursor if resume else None
        with self._plaintext(upload) as stream:
            reader: LenderFile | PaymentsFile
            if upload.kind is UploadKind.ACCOUNTS:
                reader = LenderFile(stream, self.lender, start)
                judge: Callable[[Any], RowResult[Any]] = self._account_row
            else:
                reader = PaymentsFile(stream, self.lender, start)
                judge = self._payment_row
            paused = False
            file_error = ""
            try:
                for result in reader.results():
                    verdict = judge(result) if result.accepted else result
                    self._count(verdict)
                    if (self.counts.accepted + self.counts.rejected) % BATCH_SIZE == 0:
                        self._flush()
                        if should_pause():
                            paused = True
                            break
            except FileRejected as exc:
                # Unreadable part-way (a broken quote, a line of binary): the rows before it
                # stand, and the file is recorded as failed at that line.
                file_error = str(exc)
                self.report.add_file_error(file_error)
            self._flush()
            blank = (resume.blank_lines if resume else 0) + reader.blank_lines
            cursor = reader.cursor
        self.report.save()
        record = self.record.model_copy(
            update={
                "rows": self.record.rows + self.counts.accepted + self.counts.rejected,
                "accepted": self.record.accepted + self.counts.accepted,
                "rejected": self.record.rejected + self.counts.rejected,
                "ladders_started": self.record.ladders_started + self.counts.ladders_started,
                "reasons": add_reasons(self.record.reasons, self.counts.reasons),
                "report_key": self.report.saved_key,
                "finished": not paused,
                "file_error": file_error,
            }
        )
        continuation = (
            Continuation(record=record, cursor=cursor, blank_lines=blank) if paused else None
        )
        return IntakeOutcome(
            record=record,
            continuation=continuation,
            accepted=self.counts.accepted,
            rejected=self.counts.rejected,
            ladders_started=self.counts.ladders_started,
            blank_lines=blank,
            ignored_columns=reader.header.ignored,
        )

    def _count(self, result: RowResult[Any]) -> None:
        if result.accepted:
            self.counts.accepted += 1
        else:
            self.counts.rejected += 1
            self.counts.reasons.update(reason_kind(e.field, e.reason) for e in result.errors)
            self.report.add(result)

    # -- accounts ------------------------------------------------------------------------

    def _account_row(self, result: RowResult[LenderRow]) -> RowResult[LenderRow]:
        row = result.value
        assert row is not None  # accepted rows carry their value
        pending = self.pending.get(row.account_id)
        existing = pending.account if pending else self._stored(row.account_id)
        first = marked_row(existing, self.record)
        if first is not None and first < result.row:
            return result.rejected_with(duplicate_error(first))
        replay = first == result.row  # a retried invocation meets its own earlier write
        incoming = row.to_account(self.lender).model_copy(
            update={
                "upload_key": upload_mark(self.record, result.row),
                "contact_preferences": row.contact_preferences(self.now),
            }
        )
        merge = merge_account(existing, incoming, row.status, self.now, result.row, replay)
        if merge.start and not merge.account.experiment:
            merge = self._assigned(merge)
        self.pending[row.account_id] = merge
        return result

    def _assigned(self, merge: _Merge) -> _Merge:
        """A ladder starting for an account in no experiment: the first running experiment
        that targets its segment takes it (functions.core.experiments), and counts it."""
        account = merge.account
        chosen = assign(self.experiments, account.account_id, account.segment, self.now)
        if chosen is None:
            return merge
        stopped = self._stopped_variants(chosen.experiment)
        if chosen.variant in stopped:
            chosen = assign(
                self.experiments,
                account.account_id,
                account.segment,
                self.now,
                {chosen.experiment: stopped},
            )
            assert chosen is not None  # the same experiment, now falling back to its champion
        self.ports.experiments.add(
            self.lender.lender_id, chosen.experiment, chosen.variant, "accounts"
        )
        update = {
            "experiment": chosen.experiment,
            "variant": chosen.variant,
            "assignment": chosen.reason,
        }
        return replace(merge, account=account.model_copy(update=update))

    def _stopped_variants(self, experiment_id: str) -> frozenset[str]:
        if experiment_id not in self._stopped:
            experiment = self.experiments.get(experiment_id)
            names = [v.name for v in experiment.variants] if experiment else []
            self._stopped[experiment_id] = frozenset(
                name
                for name in names
                if self.ports.experiments.get(self.lender.lender_id, experiment_id, name).stopped
            )
        return self._stopped[experiment_id]

    def _stored(self, account_id: str) -> Account | None:
        return self.ports.accounts.get(self.lender.lender_id, account_id)

    def _flush(self) -> None:
        if not self.pending:
            return
        merges = list(self.pending.values())
        self.pending.clear()
        lender_id = self.lender.lender_id
        for merge in merges:
            if merge.stop_cycle is not None:
                name = execution_name(lender_id, merge.account.account_id, merge.stop_cycle)
                self.ports.ladders.stop(name, "superseded by the lender's file")
        self.ports.accounts.put_many(merge.account for merge in merges)
        for merge in merges:
            if merge.start:
                account = merge.account
                state = LadderState(
                    lender_id=lender_id,
                    account_id=account.account_id,
                    cycle=account.cycle,
                    rung=0,
                    next_at=to_sfn_timestamp(self.now),
                    done=False,
                    started_at=to_sfn_timestamp(self.now),
                )
                name = execution_name(lender_id, account.account_id, account.cycle)
                if self.ports.ladders.start(name, state.model_dump_json()):
                    self.counts.ladders_started += 1

    # -- payments ------------------------------------------------------------------------

    def _payment_row(self, result: RowResult[PaymentRow]) -> RowResult[PaymentRow]:
        payment = result.value
        assert payment is not None  # accepted rows carry their value
        account = self._stored(payment.account_id)
        if account is None:
            error = RowError("account_id", f"unknown account_id for lender {self.lender.lender_id}")
            return result.rejected_with(error)
        try:
            amount = parse_amount(str(payment.amount), account.currency)
        except ValueError as exc:
            return result.rejected_with(RowError("amount", str(exc)))
        applied = marked_row(account, self.record)
        if account.status is AccountStatus.PAID or (applied is not None and applied >= result.row):
            return result  # paid already, or this very row applied before a crash
        if amount >= account.amount_due:
            # Paid in full: the status blocks every later rung at the gate, and the ladder
            # is stopped now so no Wait state wakes up to a paid account (user story 4).
            self.ports.accounts.set_status(
                account.lender_id, account.account_id, AccountStatus.PAID, self.now
            )
            name = execution_name(account.lender_id, account.account_id, account.cycle)
            self.ports.ladders.stop(name, f"paid in full (payments file row {result.row})")
            return result
        self.ports.accounts.put_many(
            [
                account.model_copy(
                    update={
                        "amount_due": account.amount_due - amount,
                        "upload_key": upload_mark(self.record, result.row),
                    }
                )
            ]
        )
        return result


def merge_account(
    existing: Account | None,
    incoming: Account,
    file_status: AccountStatus | None,
    now: datetime,
    row: int,
    replay: bool = False,
) -> _Merge:
    """The stored account after this row, and what happens to its ladders."""
    if existing is None:
        status = file_status or AccountStatus.ACTIVE
        account = incoming.model_copy(
            update={"status": status, "status_changed_at": now if file_status else None}
        )
        return _Merge(account, row, stop_cycle=None, start=status not in BLOCKING_STATUSES)
    same_cycle = existing.due_date == incoming.due_date
    if file_status is not None and not (
        existing.status in LEGAL_STATUSES and file_status not in BLOCKING_STATUSES
    ):
        # A file may set any status, except lift what the borrower told us (attorney,
        # bankruptcy, dispute, cease, deceased): only a named reviewer lifts those.
        status = file_status
    elif same_cycle or existing.status not in PER_CYCLE_STATUSES:
        status = existing.status
    else:
        status = AccountStatus.ACTIVE
    blocking = status in BLOCKING_STATUSES
    was_blocking = existing.status in BLOCKING_STATUSES
    account = incoming.model_copy(
        update={
            "status": status,
            "cycle": existing.cycle if same_cycle else incoming.cycle,
            "status_changed_at": (existing.status_changed_at if status == existing.status else now),
            "hold_until": existing.hold_until if status == existing.status else None,
            # An experiment's variant is the account's for good (functions.core.experiments).
            "experiment": existing.experiment,
            "variant": existing.variant,
            "assignment": existing.assignment,
            # What the borrower asked for outlives the lender's re-upload; the lender file's
            # own preferences are replaced by this upload's.
            "contact_preferences": (
                *(p for p in existing.contact_preferences if p.source != LENDER_FILE),
                *incoming.contact_preferences,
            ),
        }
    )
    if not same_cycle:
        return _Merge(account, row, stop_cycle=existing.cycle, start=not blocking)
    stop = existing.cycle if blocking and not was_blocking else None
    # Same cycle: the running ladder goes on. Start only if contact re-opens (the lender
    # lifted a blocking status) or on a replay, where a crash may have come before the start.
    start = not blocking and (was_blocking or replay)
    return _Merge(account, row, stop_cycle=stop, start=start)


@dataclass
class RejectReport:
    """`rejects/{lender}/{name}.rejects.csv`: one line per (row, field, reason), neutralised.

    Written once per invocation; a resumed invocation appends to what the earlier ones wrote.
    UTF-8 with BOM so that Excel shows Chinese account ids and names as text.
    """

    objects: ObjectStore
    key: str
    saved_key: str = ""  # the report key once anything has been written
    _spool: Any = field(default=None, repr=False)
    _writer: SafeCsvWriter | None = field(default=None, repr=False)

    def add(self, result: RowResult[Any]) -> None:
        for error in result.errors:
            self._csv().writerow((result.row, result.account_id, error.field, error.reason))

    def add_file_error(self, reason: str) -> None:
        self._csv().writerow(("", "", "file", reason))

    def save(self) -> None:
        if self._spool is None:
            return
        body = io.BytesIO()
        if self.saved_key:
            with self.objects.open(self.saved_key) as earlier:
                shutil.copyfileobj(earlier, body)
        else:
            body.write("\ufeff".encode())
            SafeCsvWriter(_Utf8(body)).writerow(REPORT_HEADER)
        self._spool.seek(0)
        for chunk in iter(lambda: self._spool.read(64 * 1024), ""):
            body.write(chunk.encode("utf-8"))
        self.objects.put(self.key, body.getvalue(), REPORT_CONTENT_TYPE)
        self.saved_key = self.key
        self._spool.close()
        self._spool = self._writer = None

    def _csv(self) -> SafeCsvWriter:
        if self._writer is None:
            # Rejects stay in memory up to 1 MiB, then spill to /tmp.
            self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in save()
                max_size=1024 * 1024, mode="w+", encoding="utf-8", newline=""
            )
            self._writer = SafeCsvWriter(self._spool)
        return self._writer


@dataclass
class _Utf8:
    sink: io.BytesIO

    def write(self, text: str, /) -> int:
        return self.sink.write(text.encode("utf-8"))
