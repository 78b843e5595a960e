"""The console's KPIs in AWS (functions.console.outcomes) at the Athena boundary, on moto: the
SQL sent is the shipped queries', the rows are read as `rung kpis --athena` reads them, and no
request waits past its budget; a reload waits on the same executions, never a second run. The
capacity plan: the newest plan the plan function stored in the uploads bucket."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager
from moto.s3.models import s3_backends

from functions.adapters.memory import MemoryExperimentTally
from functions.adapters.s3_objects import S3ObjectStore
from functions.console.app import create_app
from functions.console.outcomes import (
    BATCH_ITEM,
    NO_PLAN_YET,
    AthenaOutcomes,
    TalliedExperiments,
)
from functions.console.pages import REFRESH_SECONDS
from functions.console.services import ConsoleServices, ReportPending, ReportUnavailable
from functions.core.clock import FixedClock
from functions.kpis.athena import AthenaQueries, Execution, Timer
from functions.kpis.queries import KPI_QUERIES, all_kpi_sql, load_kpi_config
from functions.kpis.report import KpiEngineError
from functions.plan.stored import S3StoredPlans, StoredPlan, plan_key
from functions.settings import PROJECT_ROOT
from rung.cli import main
from rung.console_local import LOCAL_USERS
from tests.unit.test_console_app import SECRET, as_user
from tests.unit.test_console_app import services as services

REGION = "us-east-1"
WORKGROUP, DATABASE, BUCKET, PREFIX = "rung-kpis", "rung_analytics", "analytics", "athena-results/"
UPLOADS = "uploads"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
# What Athena answers for each KPI query: its columns (name, Athena type) and rows as text.
ANSWERS: dict[str, tuple[tuple[tuple[str, str], ...], list[tuple[str | None, ...]]]] = {
    "overview": (
        (
            ("accounts", "bigint"),
            ("cured", "bigint"),
            ("cure_rate", "double"),
            ("contacts", "bigint"),
            ("cost", "decimal"),
            ("contacts_per_cured", "double"),
            ("cost_per_cured", "double"),
        ),
        [("120", "30", "0.25", "410", "4.1000", "13.666666666666666", "0.13666666666666666")],
    ),
    "by_channel": (
        (("channel", "varchar"), ("sent", "bigint"), ("delivery_rate", "double")),
        [("email", "150", None), ("sms", "260", "0.98")],
    ),
    "by_rung": (
        (("rung", "integer"), ("sent", "bigint"), ("payments", "bigint")),
        [("1", "120", "12"), ("2", "96", "9")],
    ),
}


def athena_result(name: str) -> QueryResults:
    columns, rows = ANSWERS.get(name, ((("lender", "varchar"),), []))
    header = {"Data": [{"VarCharValue": column} for column, _ in columns]}
    data = [
        {"Data": [{} if cell is None else {"VarCharValue": cell} for cell in row]} for row in rows
    ]
    info = [{"Name": column, "Type": kind} for column, kind in columns]
    return QueryResults(rows=[header, *data], column_info=info)


def queue_answers() -> None:
    """Athena's answer to each KPI query, in the order the queries are read (KPI_QUERIES)."""
    backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.query_results_queue.extend(athena_result(name) for name in KPI_QUERIES)


def executions() -> dict[str, Any]:
    return dict(athena_backends[DEFAULT_ACCOUNT_ID][REGION].executions)


@dataclass
class FakeTimer:
    """Time that moves only when slept: every sleep is recorded."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def timer(self) -> Timer:
        return Timer(monotonic=self.monotonic, sleep=self.sleep)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=UPLOADS)
        boto3.client("athena", region_name=REGION).create_work_group(
            Name=WORKGROUP,
            Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/{PREFIX}"}},
        )
        yield
        state_manager.unset_transition("athena::execution")


def outcomes(clock: FixedClock, timer: FakeTimer | None = None) -> AthenaOutcomes:
    return AthenaOutcomes(
        queries=AthenaQueries(boto3.client("athena", region_name=REGION), WORKGROUP, DATABASE),
        store=S3ObjectStore(BUCKET, client=boto3.client("s3", region_name=REGION)),
        plans=S3StoredPlans(UPLOADS, client=boto3.client("s3", region_name=REGION)),
        results_prefix=PREFIX,
        clock=clock,
        config_root=PROJECT_ROOT,
        wait_seconds=8,
        fresh_minutes=60,
        tallies=TalliedExperiments(MemoryExperimentTally(), PROJECT_ROOT, ("demo",)),
        timer=(timer or FakeTimer()).timer(),
    )


def hold_queries() -> None:
    """Athena keeps every query queued until `release_queries`."""
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 10**6})


def release_queries() -> None:
    state_manager.unset_transition("athena::execution")


def cli_athena_json() -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "kpis",
                "--athena",
                "--workgroup",
                WORKGROUP,
                "--database",
                DATABASE,
                "--region",
                REGION,
                "--json",
            ]
        )
    assert code == 0
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


# -- the Athena boundary ------------------------------------------------------------------------


def test_the_sql_sent_is_the_shipped_queries_in_the_workgroup_and_database(aws: None) -> None:
    queue_answers()
    outcomes(FixedClock(NOW)).kpis()
    sent = sorted(
        (e.query, e.workgroup.name if e.workgroup else None, e.context["Database"])
        for e in executions().values()
    )
    shipped = all_kpi_sql(PROJECT_ROOT, load_kpi_config(PROJECT_ROOT))
    assert sent == sorted((sql, WORKGROUP, DATABASE) for sql in shipped.values())


def test_the_kpis_are_what_rung_kpis_athena_json_prints(aws: None) -> None:
    queue_answers()
    expected = cli_athena_json()
    queue_answers()
    got = outcomes(FixedClock(NOW)).kpis()
    computed_at = got.pop("computed_at")
    assert got == expected
    assert expected["accounts"] == 120 and expected["cost"] == 4.1
    assert expected["by_channel"][0] == {"channel": "email", "sent": 150, "delivery_rate": None}
    assert computed_at.endswith(" UTC")


def test_the_page_shows_the_figures_and_when_they_were_computed(
    aws: None, services: ConsoleServices
) -> None:
    queue_answers()
    reports = outcomes(FixedClock(NOW))
    app = create_app(replace(services, reports=reports), lambda e: LOCAL_USERS["vic"], SECRET)
    body = as_user(app, "vic").get("/kpis")["body"]
    assert 'data-kpi="accounts"><dt>Accounts</dt>' in body.replace("\n  ", "")
    assert "<strong>120</strong>" in body and "<strong>25.0%</strong>" in body
    assert 'data-testid="computed-at">' in body
    assert 'http-equiv="refresh"' not in body


# -- within API Gateway's 30 seconds ------------------------------------------------------------


def test_unfinished_queries_give_a_page_that_reloads_itself_and_picks_them_up(
    aws: None, services: ConsoleServices
) -> None:
    hold_queries()
    timer = FakeTimer()
    reports = outcomes(FixedClock(NOW), timer)
    app = create_app(replace(services, reports=reports), lambda e: LOCAL_USERS["vic"], SECRET)
    vic = as_user(app, "vic")
    first = vic.get("/kpis")
    assert first["statusCode"] == 200
    assert f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' in first["body"]
    assert "Athena is computing these figures" in first["body"]
    assert "<script>" not in first["body"]  # the reload is the meta tag: the CSP allows no inline
    assert sum(timer.slept) == 8  # the request waited its budget, not a moment more
    started = set(executions())
    assert len(started) == len(KPI_QUERIES)
    again = vic.get("/kpis")
    assert 'data-testid="pending"' in again["body"]
    assert set(executions()) == started  # the reload waited on the same executions
    release_queries()
    queue_answers()
    done = vic.get("/kpis")["body"]
    assert set(executions()) == started
    assert "<strong>120</strong>" in done and 'http-equiv="refresh"' not in done


def test_figures_are_served_from_the_same_executions_until_they_are_stale(aws: None) -> None:
    clock = FixedClock(NOW)
    queue_answers()
    reports = outcomes(clock)
    first = reports.kpis()
    started = set(executions())
    clock.set(NOW + timedelta(minutes=59))
    assert reports.kpis() == first and set(executions()) == started
    clock.set(NOW + timedelta(minutes=60))
    queue_answers()
    reports.kpis()
    assert len(set(executions()) - started) == len(KPI_QUERIES)


def test_a_failed_query_is_named_and_the_next_request_starts_again(aws: None) -> None:
    hold_queries()
    clock = FixedClock(NOW)
    reports = outcomes(clock)
    with pytest.raises(ReportPending):
        reports.kpis()
    backend = athena_backends[DEFAULT_ACCOUNT_ID][REGION]
    first = next(iter(backend.executions.values()))
    first.status = "FAILED"
    release_queries()
    with pytest.raises(ReportUnavailable, match="runs the queries again"):
        reports.kpis()
    store = S3ObjectStore(BUCKET, client=boto3.client("s3", region_name=REGION))
    assert store.open(PREFIX + BATCH_ITEM).read() == b"{}"
    queue_answers()
    assert reports.kpis()["accounts"] == 120
    assert len(executions()) == 2 * len(KPI_QUERIES)


# -- the budget, with a fake clock --------------------------------------------------------------


@dataclass
class ScriptedAthena:
    """GetQueryExecution answers: each id's states in turn, the last one repeated."""

    states: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)

    def start_query_execution(self, **kwargs: Any) -> Any:
        raise AssertionError("waiting never starts a query")

    def get_query_execution(self, **kwargs: Any) -> Any:
        query_id = kwargs["QueryExecutionId"]
        self.asked.append(query_id)
        script = self.states[query_id]
        state = script.pop(0) if len(script) > 1 else script[0]
        reason = {"StateChangeReason": "TABLE_NOT_FOUND: events"} if state == "FAILED" else {}
        return {"QueryExecution": {"Status": {"State": state, **reason}}}

    def get_paginator(self, operation_name: Any) -> Any:
        raise AssertionError("waiting reads no results")


def test_waiting_returns_once_every_query_has_succeeded() -> None:
    athena = ScriptedAthena(
        {"a": ["QUEUED", "RUNNING", "SUCCEEDED"], "b": ["RUNNING", "SUCCEEDED"]}
    )
    timer = FakeTimer()
    done = AthenaQueries(athena, WORKGROUP, DATABASE).wait(
        ["a", "b"], 8, poll_seconds=1, timer=timer.timer()
    )
    assert done == [Execution("a", "SUCCEEDED"), Execution("b", "SUCCEEDED")]
    assert timer.slept == [1, 1]
    assert athena.asked == ["a", "b", "a", "b", "a"]  # a finished query is not asked again


def test_waiting_stops_at_the_budget_and_never_sleeps_past_it() -> None:
    athena = ScriptedAthena({"a": ["RUNNING"]})
    timer = FakeTimer()
    assert (
        AthenaQueries(athena, WORKGROUP, DATABASE).wait(
            ["a"], 2.5, poll_seconds=1, timer=timer.timer()
        )
        is None
    )
    assert timer.slept == [1, 1, 0.5] and timer.now == 2.5


def test_a_failed_query_stops_the_wait_with_athenas_reason() -> None:
    athena = ScriptedAthena({"a": ["RUNNING", "FAILED"], "b": ["RUNNING"]})
    with pytest.raises(KpiEngineError, match="Athena query a: TABLE_NOT_FOUND: events"):
        AthenaQueries(athena, WORKGROUP, DATABASE).wait(
            ["a", "b"], 8, poll_seconds=1, timer=FakeTimer().timer()
        )


# -- the capacity plan: stored by the plan function, shown as stored ----------------------------


def rung_plan_json() -> dict[str, Any]:
    """What `rung plan --json` prints for the sample lender file."""
    printed = io.StringIO()
    with redirect_stdout(printed):
        arguments = ["--lender", "demo", "--json", "--start", "2026-12-01T09:30:00Z"]
        assert main(["plan", str(PROJECT_ROOT / "samples" / "accounts.csv"), *arguments]) == 0
    planned: dict[str, Any] = json.loads(printed.getvalue())
    return planned


PLANNED = rung_plan_json()


def store_plan(upload_key: str, modified: datetime, **fields: Any) -> StoredPlan:
    """A plan as the plan function stores it, last modified at `modified`."""
    stored = StoredPlan.model_validate(
        {
            "key": upload_key,
            "lender_id": "demo",
            "start": "2026-12-01T09:30Z",
            "days": 35,
            "computed_at": modified,
            "plan": PLANNED,
            **fields,
        }
    )
    key = plan_key(upload_key)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=UPLOADS, Key=key, Body=stored.model_dump_json().encode()
    )
    s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[UPLOADS].keys[key].last_modified = modified
    return stored


def test_the_newest_stored_plan_is_shown_with_its_file_and_when_it_was_computed(
    aws: None, services: ConsoleServices
) -> None:
    # Given two files planned, the later one first in key order
    store_plan("uploads/demo/b-older.csv", NOW - timedelta(days=1))
    store_plan("uploads/demo/a-newer.csv.pgp", NOW - timedelta(minutes=5))
    # When the plan is asked for
    reports = outcomes(FixedClock(NOW))
    # Then it is the plan computed last, as stored, with its file, start and days
    assert reports.plan() == {
        **PLANNED,
        "file": "a-newer.csv.pgp",
        "start": "2026-12-01T09:30Z",
        "days": 35,
        "computed_at": "2026-12-02 14:55 UTC",
    }


def test_the_plan_page_in_aws_names_the_file_and_when_its_plan_was_computed(
    aws: None, services: ConsoleServices
) -> None:
    store_plan("uploads/demo/march.csv", NOW - timedelta(minutes=5))
    app = create_app(
        replace(services, reports=outcomes(FixedClock(NOW))), lambda e: LOCAL_USERS["vic"], SECRET
    )
    body = as_user(app, "vic").get("/plan")["body"]
    assert 'data-testid="plan-state">Fits<' in body
    assert "File march.csv (15 rows, 1 rejected), arriving 2026-12-01T09:30Z" in body
    assert PLANNED["verdict"] in body
    assert 'data-testid="plan-computed">2026-12-02 14:55 UTC<' in body


def test_with_no_plan_stored_yet_the_page_says_so(aws: None, services: ConsoleServices) -> None:
    reports = outcomes(FixedClock(NOW))
    with pytest.raises(ReportUnavailable) as unavailable:
        reports.plan()
    assert str(unavailable.value) == NO_PLAN_YET
    app = create_app(replace(services, reports=reports), lambda e: LOCAL_USERS["vic"], SECRET)
    assert "No lender file has been planned yet." in as_user(app, "vic").get("/plan")["body"]


def test_a_file_that_could_not_be_planned_is_named_with_the_reason(aws: None) -> None:
    store_plan("uploads/demo/march.csv", NOW, plan=None, error="missing required column(s): x")
    with pytest.raises(ReportUnavailable) as unavailable:
        outcomes(FixedClock(NOW)).plan()
    assert str(unavailable.value) == (
        "The latest lender file, march.csv (lender demo), could not be planned "
        "(2026-12-02 15:00 UTC): missing required column(s): x"
    )


def test_an_aws_error_is_a_sentence_on_the_page_not_a_traceback(aws: None) -> None:
    client = boto3.client("athena", region_name=REGION)
    reports = replace(outcomes(FixedClock(NOW)), queries=AthenaQueries(client, WORKGROUP, DATABASE))
    with Stubber(client) as stub:
        stub.add_client_error("start_query_execution", "TooManyRequestsException", "Rate exceeded")
        with pytest.raises(ReportUnavailable, match=r"AWS: .*Rate exceeded\. Reload this page"):
            reports.kpis()
