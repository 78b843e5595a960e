"""The full engine: a simulation on the local world — moto, the real ladder ASL, the real events.

The accounts file is uploaded to the bucket (S3 notification → schedule λ → StartExecution per
account); each ladder is an execution of `infra/statemachines/ladder.asl.json` on moto's Step
Functions interpreter whose Wait states sleep on the virtual clock; replies are published to
the inbound topics and payments uploaded as files, each at its virtual instant. What the
handlers decided is read back from the audit table at the end.

It is the fidelity reference for the fast engine (rung.engine_fast): same input, same decisions.
Deterministic: the clock wakes executions in (instant, execution name) order, moto's ids are
seeded, and nothing reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any
from unittest import mock

from moto.core.exceptions import JsonRESTError
from moto.sesv2.models import SESV2Backend

from functions.adapters.dynamo import DynamoExperimentTally
from functions.bootstrap import LOCAL_UNSUBSCRIBE_KEY
from functions.core.approval import approve_lint_clean
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import Account, Channel, Suppression, UploadRecord
from functions.core.replies import load_reply_rules, read_reply
from functions.settings import PROJECT_ROOT
from rung.access.enforcer import Denial
from rung.engine import (
    SIMULATION_LOG_LEVEL,
    ProgressListener,
    ScriptedReply,
    SimulationFailed,
    SimulationInput,
    SimulationResult,
    receipt_of,
)
from rung.events import (
    UNSUBSCRIBE_URL,
    inbound_email_message,
    inbound_sms_message,
    payments_key,
    split_payments,
)
from rung.localworld import LocalWorld
from rung.moto_patches import HandlerError
from rung.provider_limits import ProviderLimits, Refusal
from rung.sms_voice import SmsVoiceBackend, SmsVoiceError

END_OF_RUN = "simulation period ended"

# Scripted events at one instant: files first (a payment lands before the rung that would
# have chased it), then borrower replies; ladder steps at that instant come after both.
_UPLOAD, _REPLY = 0, 1


class HandlerFailures(SimulationFailed):
    """A handler raised during the run. On moto nothing is transient, so this is a defect (or
    a configuration error) that would otherwise hide as missing decisions."""

    def __init__(self, errors: list[HandlerError]) -> None:
        first = errors[0]
        super().__init__(
            f"{len(errors)} handler invocation(s) failed; first: {first.function_name} raised "
            f"{first.error_type}: {first.message}"
        )
        self.errors = errors


class AccessRefused(SimulationFailed):
    """A handler made a call its role in the synthesized stack does not allow: deployed, this
    would fail the same way."""

    def __init__(self, denials: list[Denial]) -> None:
        lines = "\n  ".join(str(denial) for denial in denials[:10])
        super().__init__(f"{len(denials)} AWS call(s) refused by IAM:\n  {lines}")
        self.denials = denials


@dataclass(frozen=True)
class _Scripted:
    at: datetime
    order: int
    seq: int
    action: Callable[[], object]


def run_full(sim: SimulationInput, progress: ProgressListener | None = None) -> SimulationResult:
    """Run `sim` on the local world; `progress` is told each virtual instant reached."""
    with simulation_world(sim) as world:
        return run_in(world, sim, progress)


def simulation_world(sim: SimulationInput) -> LocalWorld:
    """The local world a simulation runs in (IAM enforced from the synthesized stack)."""
    # Signed like the fast engine's links (same base and key), so both render the same words.
    return LocalWorld(
        sim.start,
        lender_ids=(sim.lender_id,),
        unsubscribe_url=UNSUBSCRIBE_URL,
        unsubscribe_key=LOCAL_UNSUBSCRIBE_KEY,
        environment=sim.pacing_environment(),
        log_level=SIMULATION_LOG_LEVEL,
        pgp_key=sim.pgp_key,
    )


def run_in(
    world: LocalWorld, sim: SimulationInput, progress: ProgressListener | None = None
) -> SimulationResult:
    """Run `sim` in an entered world, which stays open for the caller to look into."""
    tick = None if progress is None else partial(progress, decisions=world.decision_count)
    lender = load_lender(PROJECT_ROOT, sim.lender_id)
    end = sim.start + timedelta(days=sim.days)
    settings = world.services.settings
    approve_lint_clean(
        world.services.templates,
        settings.config_root / "templates" / "messages",
        lender,
        sim.start,
    )
    accounts_key = f"uploads/{sim.lender_id}/{sim.accounts_file.name}"
    script = _script(world, sim, lender, accounts_key)
    with ExitStack() as patches:
        _limit_providers(patches, sim.provider_limits(), world)
        for event in sorted(script, key=lambda item: (item.at, item.order, item.seq)):
            if event.at > end:
                break
            world.clock.run_until(event.at, progress=tick)
            event.action()
            if tick is not None:
                tick(event.at)
        world.clock.run_until(end, inclusive=True, progress=tick)
        world.stop_running(cause=END_OF_RUN)
    if world.denials:
        raise AccessRefused(world.denials)
    # A refused send is the provider's answer, which the ladder retries and defers.
    defects = [e for e in world.handler_errors if e.error_type != "TransientSendError"]
    if defects:
        raise HandlerFailures(defects)
    return _result(world, sim, accounts_key)


class _SesThrottled(JsonRESTError):
    code = 429  # SES v2's TooManyRequestsException


class _SesFailing(JsonRESTError):
    code = 500  # SES v2's InternalServiceErrorException


def _limit_providers(patches: ExitStack, limits: ProviderLimits, world: LocalWorld) -> None:
    """The local End User Messaging model and moto's SES v2 refuse as `limits` say, with the
    errors their APIs model: End User Messaging ThrottlingException (400) /
    InternalServerException (500); SES v2 TooManyRequestsException (429) /
    InternalServiceErrorException (500)."""

    def refuse_sms() -> None:
        refusal = limits.refuse(Channel.SMS, world.clock.now())
        if refusal == Refusal.THROTTLED:
            raise SmsVoiceError("ThrottlingException", "simulated: throttled")
        if refusal == Refusal.OUTAGE:
            raise SmsVoiceError("InternalServerException", "simulated: outage", status=500)

    def refuse_email() -> None:
        refusal = limits.refuse(Channel.EMAIL, world.clock.now())
        if refusal == Refusal.THROTTLED:
            raise _SesThrottled("TooManyRequestsException", "simulated: throttled")
        if refusal == Refusal.OUTAGE:
            raise _SesFailing("InternalServiceErrorException", "simulated: outage")

    send_text, ses_send = SmsVoiceBackend.send_text_message, SESV2Backend.send_email

    def send_text_message(self: SmsVoiceBackend, request: Mapping[str, Any]) -> dict[str, Any]:
        refuse_sms()
        return send_text(self, request)

    def send_email(self: SESV2Backend, *args: Any, **kwargs: Any) -> Any:
        refuse_email()
        return ses_send(self, *args, **kwargs)

    patches.enter_context(
        mock.patch.object(SmsVoiceBackend, "send_text_message", send_text_message)
    )
    patches.enter_context(mock.patch.object(SESV2Backend, "send_email", send_email))


def _script(
    world: LocalWorld, sim: SimulationInput, lender: LenderConfig, accounts_key: str
) -> list[_Scripted]:
    """Every scripted event of the run; those before the start happen at the start."""
    accounts = sim.accounts_file.read_bytes()
    script = [_Scripted(sim.start, _UPLOAD, 0, partial(world.put_object, accounts_key, accounts))]
    if sim.payments_file is not None:
        for at, part in split_payments(sim.payments_file.read_bytes()):
            key = payments_key(sim.lender_id, at)
            script.append(
                _Scripted(
                    max(at, sim.start),
                    _UPLOAD,
                    len(script),
                    partial(world.put_object, key, part),
                )
            )
    for reply in sim.replies:
        script.append(
            _Scripted(
                max(reply.at, sim.start),
                _REPLY,
                len(script),
                partial(_deliver, world, lender, reply),
            )
        )
    return script


def _deliver(world: LocalWorld, lender: LenderConfig, reply: ScriptedReply) -> None:
    """A borrower reply, as AWS delivers it: two-way SMS JSON or an SES receipt notification."""
    if reply.channel.value == "sms":
        world.publish_inbound_sms(inbound_sms_message(reply, lender.sms_origination or ""))
    else:
        world.publish_inbound_email(inbound_email_message(reply, parseaddr(lender.email_from)[1]))


def _result(world: LocalWorld, sim: SimulationInput, accounts_key: str) -> SimulationResult:
    settings = world.services.settings
    records = world.gate_records()
    accounts = world.scan(
        settings.accounts_table, Account, skip_prefix=DynamoExperimentTally.PREFIX
    )
    suppressions = world.scan(settings.suppressions_table, Suppression)
    upload = next(
        (
            record
            for record in world.scan(settings.uploads_table, UploadRecord)
            if record.key == accounts_key
        ),
        None,
    )
    rules = load_reply_rules(settings.config_root)
    return SimulationResult(
        records=sorted(
            records,
            key=lambda record: (
                record.at_utc,
                record.account_id,
                record.rung,
                record.channel.value,
                record.decision.value,
            ),
        ),
        accounts=sorted(
            (account for account in accounts if account.lender_id == sim.lender_id),
            key=lambda account: account.account_id,
        ),
        suppressions=sorted(suppressions, key=lambda suppression: suppression.key),
        rows=upload.rows if upload else 0,
        rows_rejected=upload.rejected if upload else 0,
        file_error=upload.file_error if upload else "",
        receipt=receipt_of(upload),
        replies=[(reply, read_reply(reply.text, rules).intent.value) for reply in sim.replies],
        engine="full",
        ladders_failed=sum(1 for e in world.executions() if e["status"] == "FAILED"),
        sfn_transitions=sum(_transitions(world, e["executionArn"]) for e in world.executions()),
    )


def _transitions(world: LocalWorld, execution_arn: str) -> int:
    """What Step Functions bills for an execution: each state entered, and each retry of a
    Task (a Task entered once and scheduled three times was retried twice)."""
    events = (
        world.client("stepfunctions")
        .get_paginator("get_execution_history")
        .paginate(executionArn=execution_arn)
        .build_full_result()["events"]
    )
    entered = sum(1 for event in events if event["type"].endswith("StateEntered"))
    tasks = sum(1 for event in events if event["type"] == "TaskStateEntered")
    scheduled = sum(1 for event in events if event["type"] == "TaskScheduled")
    return entered + scheduled - tasks
