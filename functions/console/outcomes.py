"""The outcome pages in AWS: the KPIs computed by Athena, inside API Gateway's 30 seconds, and
the capacity plan the plan function stored for the latest lender file.

`AthenaOutcomes.kpis()` runs the queries `rung kpis --athena` runs (functions.kpis), in the
stack's workgroup, and gives the same JSON. A request never waits for Athena longer than
`wait_seconds`: the ten queries are started together and their execution ids kept in a small
item beside Athena's results (`{results_prefix}console/kpis.json`, in the analytics bucket).
If they have not finished in time the page says the figures are being computed and reloads
itself; the next request, whoever makes it, waits on the SAME executions (never a second run)
and, once they have succeeded, reads their results. Finished figures are served from those
executions for `fresh_minutes`; after that the next request runs the queries again.

The capacity plan is not computed here either: planning a large file takes minutes, so the
plan function plans each accepted lender file off the request path and stores the result under
`plans/` in the uploads bucket (functions.plan); `plan()` shows the newest stored one, with
the file it is for and when it was computed.

The experiments page shows what AWS holds about each configured experiment
(`TalliedExperiments`): per variant the accounts assigned, opt-outs and complaints counted as
they happen, and a guardrail's stop, read from the tally with one GetItem per variant, beside
the shipped guardrails. The intervals and sample sizes of `rung experiments report` are not
computed here (docs/decisions.md, "Experiments: tallies in AWS, statistics on the CLI"): the
page says so and names the command that gives them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from functions.adapters.records import ObjectNotFound
from functions.console.services import ReportPending, ReportUnavailable
from functions.core.clock import Clock
from functions.core.errors import ConfigError
from functions.core.experiments import (
    Experiment,
    VariantTally,
    load_experiments,
    load_guardrails,
)
from functions.core.ports import ExperimentTally, ObjectStore
from functions.kpis.athena import AthenaQueries, Timer
from functions.kpis.queries import all_kpi_sql, load_kpi_config
from functions.kpis.report import KpiEngineError, gather
from functions.plan.stored import StoredPlan

BATCH_ITEM = "console/kpis.json"  # under the workgroup's results prefix

STATISTICS_ELSEWHERE = (
    "Cure rates with their 95% ranges, the difference from the champion and the accounts still "
    "needed are computed with statsmodels, which is too large for the console's Lambda."
)
NO_PLAN_YET = (
    "No lender file has been planned yet. Each lender file is planned once it is accepted; "
    "its plan shows here when the planning is done (minutes for a large file)."
)


class StoredPlans(Protocol):
    def latest(self) -> StoredPlan | None:
        """The plan stored last (functions.plan.stored), None while none is stored."""
        ...


class QueryBatch(BaseModel):
    """The KPI queries' executions, started together at `started`; `digest` names the SQL
    they ran (a change of the queries or of config/kpis.yaml starts a new batch)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    digest: str
    started: datetime
    executions: dict[str, str]  # KPI name → Athena query execution id


@dataclass(frozen=True)
class AthenaOutcomes:
    """The `OutcomeReports` of the console Lambda."""

    queries: AthenaQueries
    store: ObjectStore  # the analytics bucket
    plans: StoredPlans  # the capacity plans under plans/ in the uploads bucket
    results_prefix: str  # the workgroup's results prefix, e.g. athena-results/
    clock: Clock
    config_root: Path  # kpis/ and config/kpis.yaml
    wait_seconds: float  # the longest a request waits for Athena
    fresh_minutes: int  # how long finished figures are served before the queries run again
    tallies: TalliedExperiments  # the experiments page
    timer: Timer = field(default_factory=Timer)

    @property
    def batch_key(self) -> str:
        return f"{self.results_prefix}{BATCH_ITEM}"

    def kpis(self) -> dict[str, Any]:
        try:
            config = load_kpi_config(self.config_root)
            sql = all_kpi_sql(self.config_root, config)
        except ConfigError as exc:
            raise ReportUnavailable(str(exc)) from exc
        try:
            batch = self._batch(sql)
            ids = list(batch.executions.values())
            executions = self.queries.wait(ids, self.wait_seconds, timer=self.timer)
            if executions is None:
                raise ReportPending(
                    "Athena is computing these figures (queries started "
                    f"{batch.started:%Y-%m-%d %H:%M} UTC). This page reloads itself until "
                    "they are ready."
                )
            rows = {
                name: self.queries.rows(query_id) for name, query_id in batch.executions.items()
            }
        except KpiEngineError as exc:
            self._forget()
            raise ReportUnavailable(f"{exc}. Reloading this page runs the queries again.") from exc
        except (BotoCoreError, ClientError) as exc:  # throttled, or a service unreachable
            raise ReportUnavailable(f"AWS: {exc}. Reload this page to try again.") from exc
        completed = [e.completed for e in executions if e.completed is not None]
        computed_at = max(completed) if completed else batch.started
        return {
            **gather("athena", config, rows),
            "computed_at": f"{computed_at:%Y-%m-%d %H:%M} UTC",
        }

    def experiments(self) -> dict[str, Any]:
        return self.tallies.report(self.clock)

    def plan(self) -> dict[str, Any]:
        """The newest stored plan as `rung plan --json` gives it, plus the file, its start
        and days, and when it was computed."""
        try:
            stored = self.plans.latest()
        except (BotoCoreError, ClientError) as exc:
            raise ReportUnavailable(f"AWS: {exc}. Reload this page to try again.") from exc
        except ValidationError as exc:
            raise ReportUnavailable(f"The latest stored plan is unreadable: {exc}") from exc
        if stored is None:
            raise ReportUnavailable(NO_PLAN_YET)
        computed_at = f"{stored.computed_at:%Y-%m-%d %H:%M} UTC"
        if stored.plan is None:
            raise ReportUnavailable(
                f"The latest lender file, {stored.file} (lender {stored.lender_id}), could not "
                f"be planned ({computed_at}): {stored.error}"
            )
        return {
            **stored.plan,
            "file": stored.file,
            "start": stored.start,
            "days": stored.days,
            "computed_at": computed_at,
        }

    def _batch(self, sql: dict[str, str]) -> QueryBatch:
        """The batch to wait on: the stored one if it ran this SQL and is fresh, else a new
        one, started now and stored."""
        digest = hashlib.sha256(json.dumps(sql, sort_keys=True).encode()).hexdigest()
        now = self.clock.now()
        stored = self._stored()
        if (
            stored is not None
            and stored.digest == digest
            and set(stored.executions) == set(sql)
            and now - stored.started < timedelta(minutes=self.fresh_minutes)
        ):
            return stored
        started = QueryBatch(
            digest=digest,
            started=now,
            executions={name: self.queries.start(text) for name, text in sql.items()},
        )
        self.store.put(self.batch_key, started.model_dump_json().encode(), "application/json")
        return started

    def _stored(self) -> QueryBatch | None:
        try:
            with self.store.open(self.batch_key) as body:
                return QueryBatch.model_validate_json(body.read())
        except ObjectNotFound:
            return None
        except ValidationError:
            return None  # an item of an earlier version: start a new batch over it

    def _forget(self) -> None:
        """A failed batch is not waited on again: an empty item makes the next request start
        a new one."""
        self.store.put(self.batch_key, b"{}", "application/json")


@dataclass(frozen=True)
class TalliedExperiments:
    """Each configured experiment of each lender served, with its variants' tallies: what the
    send and reply paths have counted, read with one GetItem per variant (no scan)."""

    tally: ExperimentTally
    config_root: Path  # config/experiments/ and config/experiment_guardrails.yaml
    lender_ids: tuple[str, ...]

    def report(self, clock: Clock) -> dict[str, Any]:
        """`{"source": "tally", "guardrails": …, "experiments": [...], "statistics": …}`; each
        experiment names its lender and whether any tally exists yet (`counted`)."""
        try:
            rules = load_guardrails(self.config_root)
            books = [
                (lender, load_experiments(self.config_root, lender)) for lender in self.lender_ids
            ]
        except ConfigError as exc:
            raise ReportUnavailable(str(exc)) from exc
        now = clock.now()
        try:
            experiments = [
                self._experiment(lender, experiment, now)
                for lender, book in books
                for experiment in book.experiments
            ]
        except (BotoCoreError, ClientError) as exc:
            raise ReportUnavailable(f"AWS: {exc}. Reload this page to try again.") from exc
        return {
            "source": "tally",
            "guardrails": rules.model_dump(),
            "experiments": experiments,
            "statistics": STATISTICS_ELSEWHERE,
        }

    def _experiment(self, lender: str, experiment: Experiment, now: datetime) -> dict[str, Any]:
        tallies = [
            (variant.name, self.tally.get(lender, experiment.id, variant.name))
            for variant in experiment.variants
        ]
        if now < experiment.start:
            state = "not started"
        elif experiment.running(now):
            state = "running"
        else:
            state = "ended"
        return {
            "lender": lender,
            "experiment": experiment.id,
            "description": experiment.description,
            "champion": experiment.champion,
            "start": f"{experiment.start:%Y-%m-%d}",
            "end": f"{experiment.end:%Y-%m-%d}",
            "state": state,
            "counted": any(t != VariantTally() for _, t in tallies),
            "variants": [
                _variant(name, name == experiment.champion, tally) for name, tally in tallies
            ],
        }


def _variant(name: str, champion: bool, tally: VariantTally) -> dict[str, Any]:
    """One variant's counts and rates per account assigned (None before any account)."""
    accounts = tally.accounts
    return {
        "variant": name,
        "champion": champion,
        "accounts": accounts,
        "opt_outs": tally.opt_outs,
        "opt_out_rate": tally.opt_outs / accounts if accounts else None,
        "complaints": tally.complaints,
        "complaint_rate": tally.complaints / accounts if accounts else None,
        "stopped": tally.stopped,
    }
