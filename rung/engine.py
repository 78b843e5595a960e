"""What a simulation takes and gives, whichever engine runs it.

Two engines run the same handlers (`functions.*.handler`) on a virtual clock:
- `fast` (rung.engine_fast): in-memory adapters and a discrete-event scheduler;
- `full` (rung.engine_full): moto — S3 notifications, the real ladder ASL on moto's
  Step Functions executor, DynamoDB, SNS, SES — with the Lambda handlers run in-process.
Both return a SimulationResult; a test proves their decisions are identical.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from functions.core.errors import RungError
from functions.core.intake import UploadKey
from functions.core.models import Account, AuditRecord, Channel, Suppression, UploadRecord
from functions.core.receipts import subject as receipt_subject
from rung.provider_limits import Outage, ProviderLimits
from rung.response_model import ResponseModel

# The handlers' own log lines and warnings during a simulation (rung.lambda_logs): errors only,
# on stderr. A preview prints its own account of every decision.
SIMULATION_LOG_LEVEL = "ERROR"


class ProgressListener(Protocol):
    """Told each virtual instant a run reaches, and how to count the gate decisions made so far
    (called only when a progress bar redraws: counting may cost a table scan)."""

    def __call__(
        self, virtual_now: datetime, /, decisions: Callable[[], int] | None = None
    ) -> None: ...


class SimulationFailed(RungError):
    """The run itself failed (a handler raised, or made a call its role does not allow):
    deployed, the same would fail, so there is no result to report."""


@dataclass(frozen=True)
class ScriptedReply:
    """One row of a replies file: `at, from, channel, text` (docs/design.md, Replies file)."""

    at: datetime  # UTC
    sender: str  # E.164 phone or email address
    channel: Channel
    text: str


@dataclass(frozen=True)
class SimulationInput:
    accounts_file: Path
    lender_id: str
    start: datetime  # UTC; the accounts file "arrives" at this instant
    days: int
    replies: tuple[ScriptedReply, ...] = ()
    payments_file: Path | None = None
    # Messages per second SNS SMS / SES accept (None: no limit), and provider outages.
    rates: tuple[tuple[Channel, int | None], ...] = ()
    outages: tuple[Outage, ...] = ()
    pgp_key: str = ""  # our OpenPGP secret key, for an encrypted accounts file
    # Synthetic payments and replies drawn after every send (rung.response_model), seeded.
    response_model: ResponseModel | None = None
    seed: int = 0

    def provider_limits(self) -> ProviderLimits:
        """Fresh limits for one run (they count what the providers accepted)."""
        return ProviderLimits(rates=dict(self.rates), outages=self.outages)

    def pacing_environment(self) -> dict[str, str]:
        """The stack's pacing defaults for this run: the rates its providers accept (a lender's
        own `send_rates` still wins, as on AWS)."""
        names = {Channel.SMS: "RUNG_SMS_PER_SECOND", Channel.EMAIL: "RUNG_EMAIL_PER_SECOND"}
        return {names[channel]: str(rate) for channel, rate in self.rates if rate is not None}


@dataclass
class SimulationResult:
    records: list[AuditRecord]  # every gate decision, in time order
    accounts: list[Account]  # final state of every account
    suppressions: list[Suppression]  # final suppressions (opt-outs, bounces)
    rows: int = 0
    rows_rejected: int = 0
    file_error: str = ""
    receipt: dict[str, Any] = field(default_factory=dict)  # to, subject (functions.core.receipts)
    replies: list[tuple[ScriptedReply, str]] = field(default_factory=list)  # (reply, intent)
    engine: str = ""
    ladders_failed: int = 0  # executions a defect failed
    # What Step Functions bills: every state entered, and every retry of a Task.
    sfn_transitions: int = 0
    # Payments and replies came from a response model (rung.response_model), not a lender.
    synthetic: bool = False
    # What the response model drew: (kind, account_id, channel, at), kind = payment | opt_out.
    synthetic_responses: list[tuple[str, str, Channel, datetime]] = field(default_factory=list)


RecordKey = tuple[datetime, str, int, str, str]


def record_key(record: AuditRecord) -> RecordKey:
    """The order of a run's decisions (messages.csv): time, account, rung, channel, decision."""
    return (
        record.at_utc,
        record.account_id,
        record.rung,
        record.channel.value,
        record.decision.value,
    )


def read_replies(path: Path) -> tuple[ScriptedReply, ...]:
    """Parse a replies file; a bad row raises ValueError naming the row and the field."""
    replies: list[ScriptedReply] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"at", "from", "channel", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            try:
                at = datetime.fromisoformat(row["at"].replace("Z", "+00:00"))
                if at.tzinfo is None:
                    raise ValueError("time must be ISO UTC (end in Z)")
                channel = Channel(row["channel"].strip().lower())
            except ValueError as exc:
                raise ValueError(f"{path.name} line {number}: {exc}") from exc
            replies.append(
                ScriptedReply(at=at, sender=row["from"].strip(), channel=channel, text=row["text"])
            )
    return tuple(sorted(replies, key=lambda reply: reply.at))


def receipt_of(upload: UploadRecord | None) -> dict[str, Any]:
    """What the lender was sent about the accounts file, as summary.json shows it."""
    if upload is None:
        return {}
    name = UploadKey.parse(upload.key).name
    return {
        "to": list(upload.receipt_to),
        "subject": receipt_subject(upload, name),
        "error": upload.receipt_error,
    }
