"""The fast engine: the production handlers on in-memory adapters and a discrete-event clock.

It interprets no ASL. It plays the part Step Functions plays in production — wait until
`next_at`, invoke the send handler, loop until `done` — and S3/SNS deliver their events to
the schedule and optout handlers at their virtual times. Everything that decides (the gate,
the ladder, rendering, intake, replies) is the same code the Lambdas run, so a test can
prove that this engine and the full moto + ASL engine record the same decisions.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from functools import cache, partial
from pathlib import Path

from functions.adapters.memory import (
    MemoryAccountStore,
    MemoryAuditLog,
    MemoryLadderControl,
    MemoryObjectStore,
    MemorySuppressionStore,
    MemoryUploadStore,
)
from functions.adapters.openpgp import OpenPgpDecryption
from functions.adapters.template_store import MemoryTemplateStore
from functions.bootstrap import memory_services
from functions.core.approval import approve_lint_clean
from functions.core.clock import FixedClock
from functions.core.errors import RungError
from functions.core.ladder import LadderState
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import AuditRecord, Channel, Decision, UploadRecord
from functions.core.replies import load_reply_rules, read_reply
from functions.observability import metrics
from functions.optout import handler as optout
from functions.schedule import handler as schedule
from functions.send import handler as send
from functions.settings import Settings
from rung.engine import (
    SIMULATION_LOG_LEVEL,
    ProgressListener,
    ScriptedReply,
    SimulationInput,
    SimulationResult,
    receipt_of,
    record_key,
)
from rung.events import (
    UNSUBSCRIBE_URL,
    LocalContext,
    inbound_email_message,
    inbound_sms_message,
    payments_key,
    s3_put_event,
    sns_event,
    split_payments,
)
from rung.heap import large_heap
from rung.ladder_retry import send_rung_policy
from rung.lambda_logs import lambda_logs
from rung.provider_limits import LimitedEmail, LimitedPush, LimitedSms
from rung.response_model import ResponseModel, respond

BUCKET = "rung-simulator"
HANDLER_MODULES = (optout.__name__, schedule.__name__, send.__name__)
INBOUND_TOPIC = "arn:aws:sns:us-east-1:123456789012:rung-inbound-sms"
EMAIL_TOPIC = "arn:aws:sns:us-east-1:123456789012:rung-inbound-email"


# Order of events falling on the same instant: files first (a payment lands before the rung
# that would have chased it), then borrower replies, then ladder steps.
_UPLOAD, _REPLY, _STEP = 0, 1, 2


# A queued event: (at, order, name, seq, action), compared as a tuple — heapq compares events
# millions of times in a large run, and a tuple compares in C where a dataclass's __lt__ is
# Python. Ladder steps due together run in execution-name order, as in the full engine; `seq`
# is unique, so `action` is never compared.
_Event = tuple[datetime, int, str, int, Callable[[], None]]


class _Ladders(MemoryLadderControl):
    """Step Functions' part: a started ladder is a pending step at its `next_at`."""

    def __init__(self, engine: FastEngine) -> None:
        super().__init__()
        # Weak: the engine holds this, so a strong reference back would keep a finished run's
        # whole state alive until a full garbage collection.
        self._engine = weakref.proxy(engine)

    def start(self, name: str, state_json: str) -> bool:
        started = super().start(name, state_json)
        if started and name not in self._engine.pending:
            state = LadderState.model_validate_json(state_json)
            self._engine.wait(name, state)
        return started


class FastEngine:
    def __init__(
        self,
        sim: SimulationInput,
        settings: Settings | None = None,
        templates: MemoryTemplateStore | None = None,
    ) -> None:
        """`templates`: a store the run's templates are already approved in (`approved`)."""
        self.sim = sim
        self.end = sim.start + timedelta(days=sim.days)
        self.clock = FixedClock(sim.start)
        self.settings = settings or Settings(
            uploads_bucket=BUCKET,
            unsubscribe_url=UNSUBSCRIBE_URL,
            # The stack's pacing defaults: the rates this run's providers accept.
            sms_per_second=dict(sim.rates).get(Channel.SMS),
            email_per_second=dict(sim.rates).get(Channel.EMAIL),
        )
        self.lender = load_lender(self.settings.config_root, sim.lender_id)
        self.ladders = _Ladders(self)
        self.accounts = MemoryAccountStore()
        self.suppressions = MemorySuppressionStore()
        self.audit = MemoryAuditLog()
        self.uploads = MemoryUploadStore()
        self.objects = MemoryObjectStore()
        self.templates = templates if templates is not None else MemoryTemplateStore()
        self._approved = templates is not None
        self.limits = sim.provider_limits()
        self.policy = send_rung_policy()
        self.failed: list[str] = []  # ladders a defect failed
        self.transitions = 0  # Step Functions state transitions, as billed
        self.services = memory_services(
            self.settings,
            self.clock,
            ladders=self.ladders,
            accounts=self.accounts,
            suppressions=self.suppressions,
            audit=self.audit,
            uploads=self.uploads,
            objects=self.objects,
            templates=self.templates,
            decryption=OpenPgpDecryption(lambda: sim.pgp_key),
            sms=LimitedSms(self.limits, self.clock),
            email=LimitedEmail(self.limits, self.clock),
            push=LimitedPush(self.limits, self.clock),
        )
        self.reply_rules = load_reply_rules(self.settings.config_root)
        self.pending: dict[str, LadderState] = {}  # execution name -> state waiting
        self.replies: list[tuple[ScriptedReply, str]] = []
        self._paying: set[str] = set()  # accounts the response model has paying already
        self.synthetic: list[tuple[str, str, Channel, datetime]] = []
        self._queue: list[_Event] = []
        self._seq = itertools.count()

    # -- scheduling ----------------------------------------------------------------------

    def _at(self, at: datetime, order: int, action: Callable[[], None], name: str = "") -> None:
        heapq.heappush(self._queue, (at, order, name, next(self._seq), action))

    def wait(self, name: str, state: LadderState) -> None:
        """The ASL's Wait on `$.next_at`."""
        self.transitions += 1  # WaitForRung entered
        self.pending[name] = state
        self._at(max(state.next_instant, self.clock.now()), _STEP, lambda: self._step(name), name)

    # -- handlers ------------------------------------------------------------------------

    @staticmethod
    def _discard_metrics() -> None:
        """Powertools keeps metrics it was told not to publish and prints them at 100 values;
        a preview publishes none, so drop them after every invocation."""
        metrics.clear_metrics()

    def _step(self, name: str) -> None:
        state = self.pending.pop(name, None)
        if state is None:
            return
        self._attempt(name, state, {})

    def _attempt(self, name: str, state: LadderState, tries: dict[int, int]) -> None:
        """The SendRung Task with the ASL's own Retry and Catch (rung.ladder_retry): a
        transient error is retried after the ASL's jittered back-off, then caught into
        DeferRung; any other RungError fails the ladder, as the execution fails on AWS."""
        if name not in self.ladders.running:
            return  # stopped (payment, opt-out of every channel) while it waited
        self.transitions += 1  # SendRung entered, or retried
        try:
            following = self._send(state, None)
        except RungError as exc:
            # A bug (any other exception) is not caught: the simulator must fail loudly
            # rather than report a broken run as a failed ladder.
            error = type(exc).__name__
            retrier = self.policy.retrier(error)
            attempt = tries.get(retrier, 0) if retrier is not None else 0
            if retrier is not None and attempt < self.policy.retriers[retrier].max_attempts:
                delay = self.policy.retriers[retrier].delay(attempt, name, self.clock.now())
                retry = partial(self._attempt, name, state, {**tries, retrier: attempt + 1})
                self._at(self.clock.now() + delay, _STEP, retry, name)
                return
            catcher = self.policy.catcher(error)
            if catcher is None or catcher.result_path is None:
                self.failed.append(name)  # the execution fails at SendRung
                self.ladders.finish(name)
                return
            self.transitions += 1  # DeferRung
            # The Catch puts the fault at its ResultPath; the handler reads `$.transient`.
            fault = send.TaskError(Error=error, Cause=str(exc))
            following = self._send(state, fault if catcher.result_path == "$.transient" else None)
        self.transitions += 1  # RungsLeft
        if following.done:
            self.transitions += 1  # LadderDone
            self.ladders.finish(name)
        else:
            self.wait(name, following)

    def _send(self, state: LadderState, fault: send.TaskError | None) -> LadderState:
        """The send handler's work (`take_step`): the state stays a model between steps, as
        the ASL's JSON would give it back; no Lambda wrapping, no metrics (a preview publishes
        none)."""
        before = len(self.audit.records)
        following = send.take_step(state, fault, self.services).state
        if self.sim.response_model is not None:
            self._respond(self.sim.response_model, self.audit.records[before:])
        return following

    def _respond(self, model: ResponseModel, records: list[AuditRecord]) -> None:
        """The response model's part: after each message sent, the borrower may pay in full
        (a payments file arrives then) or reply STOP (a reply arrives then) — through the same
        handlers as a lender's files and a borrower's texts (rung.response_model)."""
        for record in records:
            if record.decision is not Decision.SENT:
                continue
            account = self.accounts.get(record.lender_id, record.account_id)
            if account is None:
                continue
            response = respond(model, self.sim.seed, record, account)
            pays_at = response.pays_at
            if pays_at is not None and account.key not in self._paying and pays_at <= self.end:
                self._paying.add(account.key)
                key = f"payments/{account.lender_id}/synthetic-{len(self._paying):06d}.csv"
                body = io.StringIO()
                writer = csv.writer(body)
                writer.writerow(("account_id", "paid_at", "amount"))
                writer.writerow((account.account_id, _utc(pays_at), str(account.amount_due)))
                upload = partial(self._upload, key, body.getvalue().encode())
                self._at(pays_at, _UPLOAD, upload)
                self.synthetic.append(("payment", account.account_id, record.channel, pays_at))
            address = account.address(record.channel)
            opts_out_at = response.opts_out_at
            if opts_out_at is not None and address and opts_out_at <= self.end:
                reply = ScriptedReply(
                    at=opts_out_at, sender=address, channel=record.channel, text="STOP"
                )
                self._at(opts_out_at, _REPLY, partial(self._reply, reply))
                self.synthetic.append(("opt_out", account.account_id, record.channel, opts_out_at))

    def _upload(self, key: str, body: bytes) -> None:
        self.objects.put(key, body, "text/csv")
        event = s3_put_event(BUCKET, key, body, self.clock.now())
        schedule.handler(event, LocalContext("schedule"), services=self.services)
        self._discard_metrics()

    def _reply(self, reply: ScriptedReply) -> None:
        self.replies.append((reply, read_reply(reply.text, self.reply_rules).intent.value))
        if reply.sender.startswith("+"):
            origination = self.lender.sms_origination or ""
            message = inbound_sms_message(reply, origination)
            event = sns_event(INBOUND_TOPIC, message, reply.at)
        else:
            recipient = parseaddr(self.lender.email_from)[1]
            event = sns_event(EMAIL_TOPIC, inbound_email_message(reply, recipient), reply.at)
        optout.handler(event, LocalContext("optout"), services=self.services)
        self._discard_metrics()

    # -- the run -------------------------------------------------------------------------

    def run(self, progress: ProgressListener | None = None) -> SimulationResult:
        if not self._approved:
            approve(self.templates, self.settings.config_root, self.lender, self.sim.start)
        name = self.sim.accounts_file.name
        body = self.sim.accounts_file.read_bytes()
        accounts_key = f"uploads/{self.sim.lender_id}/{name}"
        self._at(self.sim.start, _UPLOAD, lambda: self._upload(accounts_key, body))
        for reply in self.sim.replies:
            at = max(reply.at, self.sim.start)  # a reply before the run is read at its start
            self._at(at, _REPLY, partial(self._reply, reply))
        if self.sim.payments_file is not None:
            for at, part in split_payments(self.sim.payments_file.read_bytes()):
                key = payments_key(self.sim.lender_id, at)
                self._at(max(at, self.sim.start), _UPLOAD, partial(self._upload, key, part))

        queue, end = self._queue, self.end
        while queue and queue[0][0] <= end:
            at, _, _, _, action = heapq.heappop(queue)
            self.clock.set(at)
            action()
            if progress is not None:
                progress(at, decisions=self._decisions)
        # What waits past the end never runs; its callbacks hold the engine, as a cycle.
        queue.clear()
        return self._result()

    def accounts_upload(self) -> UploadRecord | None:
        """The accounts file as intake took it (None before it arrived)."""
        key = f"uploads/{self.sim.lender_id}/{self.sim.accounts_file.name}"
        return next((u for u in self.uploads.records.values() if u.key == key), None)

    def _decisions(self) -> int:
        return len(self.audit.records)

    def _result(self) -> SimulationResult:
        upload = self.accounts_upload()
        return SimulationResult(
            records=sorted(self.audit.records, key=record_key),
            accounts=sorted(self.accounts.all(), key=lambda a: a.account_id),
            suppressions=self.suppressions.all(),
            rows=upload.rows if upload else 0,
            rows_rejected=upload.rejected if upload else 0,
            file_error=upload.file_error if upload else "",
            receipt=receipt_of(upload),
            replies=self.replies,
            engine="fast",
            ladders_failed=len(self.failed),
            sfn_transitions=self.transitions,
            synthetic=self.sim.response_model is not None,
            synthetic_responses=sorted(self.synthetic, key=lambda r: (r[3], r[1], r[0])),
        )


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def simulation() -> Iterator[None]:
    """What a run needs around it: the handlers' logs quiet, garbage collected rarely."""
    try:
        with lambda_logs(HANDLER_MODULES, level=SIMULATION_LOG_LEVEL), large_heap():
            yield
    finally:
        # The send handler keeps a sender per services object, as a warm container does;
        # a run's services hold all its state, which must go when the run ends.
        send._sender.cache_clear()


def approve(
    templates: MemoryTemplateStore, config_root: Path, lender: LenderConfig, start: datetime
) -> None:
    """Approve the shipped templates that lint clean for `lender` at `start`."""
    approve_lint_clean(templates, config_root / "templates" / "messages", lender, start)


@cache
def approved(config_root: Path, lender_id: str, start: datetime) -> MemoryTemplateStore:
    """A template store approved as a run starting at `start` approves it: made once per
    process and shared by its runs (a run only reads it)."""
    templates = MemoryTemplateStore()
    approve(templates, config_root, load_lender(config_root, lender_id), start)
    return templates


def run_fast(sim: SimulationInput, progress: ProgressListener | None = None) -> SimulationResult:
    with simulation():
        return FastEngine(sim).run(progress)
