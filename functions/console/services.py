"""What the console's pages read and act on: the project's ports, plus the few reads only the
console needs (lists and per-account histories) and the log of console actions.

`ConsoleServices` is built by `functions.console.wiring`: over the stack's tables in AWS, over
the local world's (moto) tables for `rung console`. The pages never talk to boto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from functions.core.clock import Clock
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import AuditRecord, LedgerEntry, Suppression, UploadRecord
from functions.core.ports import (
    AccountStore,
    ChannelSwitch,
    DecisionLog,
    ObjectStore,
    ReviewQueue,
    SuppressionStore,
    TemplateStore,
)

CONSOLE_PREFIX = "console#"  # console actions' partition keys in the audit table


class ConsoleAction(BaseModel):
    """One thing a person did in the console: who, what, on what, why. Never an address in
    clear: `target` names a template version, a review id, a channel or a masked address."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    username: str
    groups: tuple[str, ...]
    action: str  # the identity.Action exercised, e.g. approve_templates
    verb: str  # what was done, e.g. approve, reject, submit, pause, lift
    target: str
    outcome: str = "done"  # done | refused
    comment: str = ""


class ConsoleRecords(Protocol):
    """Reads the console needs beyond the ports: whole lists and one account's history."""

    def uploads(self) -> list[UploadRecord]:
        """Every upload record, newest first."""
        ...

    def suppressions(self) -> list[Suppression]:
        """Every single-address suppression (channel pauses excluded)."""
        ...

    def gate_records(self, lender_id: str, account_id: str) -> list[AuditRecord]:
        """Every gate decision for the account, any cycle, in time order."""
        ...

    def attempts(self, lender_id: str, account_id: str) -> list[LedgerEntry]:
        """Every send attempt for the account (with its delivery receipt), in time order."""
        ...


class ConsoleLog(Protocol):
    """The append-only log of console actions (the audit table, `console#…` keys)."""

    def append(self, action: ConsoleAction) -> None: ...

    def recent(self, limit: int | None = 50) -> list[ConsoleAction]:
        """The newest actions first (all of them when `limit` is None)."""
        ...


class OutcomeReports(Protocol):
    """The outcome reports the KPIs, experiments and plan pages show: each the same JSON-shaped
    dict as the CLI's `--json` (`rung kpis`, `rung experiments report`, `rung plan`). Any may
    raise `ReportUnavailable` with a sentence saying why (no run yet, no upload yet)."""

    def kpis(self) -> dict[str, Any]:
        """May also carry `computed_at` ("YYYY-MM-DD HH:MM UTC"): when the figures were computed.
        May raise `ReportPending` while they are being computed."""
        ...

    def experiments(self) -> dict[str, Any]:
        """`{"experiments": [...]}`; each variant also carries `stopped`: why a guardrail
        stopped it ("" while it still takes accounts). In AWS, with `"source": "tally"`, the
        variants' tallies instead of the report (functions.console.outcomes)."""
        ...

    def plan(self) -> dict[str, Any]:
        """The planner's summary of the latest lender file, plus `file`, `start` and `days`;
        may also carry `computed_at` ("YYYY-MM-DD HH:MM UTC"): when the plan was computed."""
        ...


class ReportUnavailable(Exception):
    """A report cannot be shown: the message says why and where to get it instead."""


class ReportPending(ReportUnavailable):
    """A report is being computed off the request (Athena queries still running): the message
    says since when; asking again later picks up the same computation."""


@dataclass(frozen=True)
class ConsoleServices:
    clock: Clock
    config_root: Path  # config/, ladders/ and templates/ (lint rules, lenders)
    lender_ids: tuple[str, ...]
    templates: TemplateStore
    accounts: AccountStore
    suppressions: SuppressionStore
    channels: ChannelSwitch
    reviews: ReviewQueue
    decisions: DecisionLog
    objects: ObjectStore  # reject reports
    records: ConsoleRecords
    log: ConsoleLog
    # In AWS, Athena's (functions.console.outcomes); `rung console` wires the demo run's
    # reports. None: the pages say which command gives the figures.
    reports: OutcomeReports | None = None

    def lender(self, lender_id: str | None = None) -> LenderConfig:
        """A configured lender (the first one when none is named)."""
        return load_lender(self.config_root, lender_id or self.lender_ids[0])
