"""The console's experiments page in AWS (functions.console.outcomes.TalliedExperiments): each
configured experiment of each lender served, with what its variants' tallies hold, over the
in-memory tally and over DynamoDB (moto); the page says where the statistics come from."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from functions.adapters.dynamo import DynamoExperimentTally
from functions.adapters.memory import MemoryExperimentTally
from functions.console.app import create_app
from functions.console.outcomes import TalliedExperiments
from functions.console.services import ConsoleServices, ReportUnavailable
from functions.core.clock import FixedClock
from functions.core.experiments import load_experiments, load_guardrails
from functions.core.ports import ExperimentTally
from functions.settings import PROJECT_ROOT
from rung.commands.local_table import create_local_table
from rung.console_local import LOCAL_USERS
from tests.unit.test_console_app import SECRET, as_user
from tests.unit.test_console_app import services as services
from tests.unit.test_console_outcomes import NOW, outcomes
from tests.unit.test_console_outcomes import aws as aws

# The shipped demo experiment (config/experiments/demo.yaml): champion `current`
EXPERIMENT, CHAMPION, CHALLENGER = "email-first-2026q4", "current", "email-first"
REASON = "complaint_rate 1/100 >= 0.001"


def memory_tally() -> Iterator[ExperimentTally]:
    yield MemoryExperimentTally()


def dynamo_tally() -> Iterator[ExperimentTally]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_local_table(client, "rung-accounts")
        yield DynamoExperimentTally("rung-accounts", client=client)


@pytest.fixture(params=[memory_tally, dynamo_tally], ids=["memory", "dynamodb"])
def tally(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ExperimentTally]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    make: Callable[[], Iterator[ExperimentTally]] = request.param
    yield from make()


def count(tally: ExperimentTally, variant: str, **counters: int) -> None:
    for counter, times in counters.items():
        for _ in range(times):
            tally.add("demo", EXPERIMENT, variant, counter)


def report(tally: ExperimentTally) -> dict[str, Any]:
    return TalliedExperiments(tally, PROJECT_ROOT, ("demo",)).report(FixedClock(NOW))


def variants(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (experiment,) = answer["experiments"]
    return {v["variant"]: v for v in experiment["variants"]}


def test_each_variant_shows_what_was_counted_and_its_rates(tally: ExperimentTally) -> None:
    count(tally, CHAMPION, accounts=40, opt_outs=1)
    count(tally, CHALLENGER, accounts=50, opt_outs=2, complaints=1)
    answer = report(tally)
    (experiment,) = answer["experiments"]
    assert experiment["lender"] == "demo" and experiment["experiment"] == EXPERIMENT
    assert experiment["champion"] == CHAMPION and experiment["counted"] is True
    assert experiment["state"] == "running"  # 2026-11-01 to 2027-03-01, now 2026-12-02
    assert variants(answer) == {
        CHAMPION: {
            "variant": CHAMPION,
            "champion": True,
            "accounts": 40,
            "opt_outs": 1,
            "opt_out_rate": 1 / 40,
            "complaints": 0,
            "complaint_rate": 0.0,
            "stopped": "",
        },
        CHALLENGER: {
            "variant": CHALLENGER,
            "champion": False,
            "accounts": 50,
            "opt_outs": 2,
            "opt_out_rate": 2 / 50,
            "complaints": 1,
            "complaint_rate": 1 / 50,
            "stopped": "",
        },
    }
    assert answer["guardrails"] == load_guardrails(PROJECT_ROOT).model_dump()
    assert "statsmodels" in answer["statistics"]


def test_a_stopped_variant_shows_the_guardrails_reason(tally: ExperimentTally) -> None:
    count(tally, CHALLENGER, accounts=100, complaints=1)
    assert tally.stop("demo", EXPERIMENT, CHALLENGER, REASON)
    shown = variants(report(tally))
    assert shown[CHALLENGER]["stopped"] == REASON
    assert shown[CHAMPION]["stopped"] == ""


def test_an_experiment_with_no_tally_yet_shows_zeros_and_says_so(tally: ExperimentTally) -> None:
    answer = report(tally)
    (experiment,) = answer["experiments"]
    assert experiment["counted"] is False
    for shown in experiment["variants"]:
        assert (shown["accounts"], shown["opt_outs"], shown["complaints"]) == (0, 0, 0)
        assert shown["opt_out_rate"] is None and shown["complaint_rate"] is None
        assert shown["stopped"] == ""


def test_every_lender_served_and_every_configured_experiment_is_listed() -> None:
    tally = MemoryExperimentTally()
    answer = TalliedExperiments(tally, PROJECT_ROOT, ("demo", "no-experiments")).report(
        FixedClock(NOW)
    )
    configured = [e.id for e in load_experiments(PROJECT_ROOT, "demo").experiments]
    assert [(e["lender"], e["experiment"]) for e in answer["experiments"]] == [
        ("demo", name) for name in configured
    ]


def test_the_experiments_state_follows_the_clock() -> None:
    tallied = TalliedExperiments(MemoryExperimentTally(), PROJECT_ROOT, ("demo",))
    before = tallied.report(FixedClock(datetime(2026, 10, 1, tzinfo=UTC)))
    after = tallied.report(FixedClock(datetime(2027, 3, 1, tzinfo=UTC)))
    assert before["experiments"][0]["state"] == "not started"
    assert after["experiments"][0]["state"] == "ended"


def test_a_broken_guardrails_file_is_a_sentence_naming_it(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "experiment_guardrails.yaml").write_text("opt_out_rate: 2\n")
    with pytest.raises(ReportUnavailable, match=r"experiment_guardrails\.yaml"):
        TalliedExperiments(MemoryExperimentTally(), tmp_path, ("demo",)).report(FixedClock(NOW))


def test_a_viewer_sees_the_tallies_and_where_the_statistics_come_from(
    aws: None, services: ConsoleServices
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    tally = DynamoExperimentTally("rung-accounts", client=client)
    count(tally, CHAMPION, accounts=120, opt_outs=3)
    count(tally, CHALLENGER, accounts=100, complaints=1)
    tally.stop("demo", EXPERIMENT, CHALLENGER, REASON)
    reports = replace(
        outcomes(FixedClock(NOW)), tallies=TalliedExperiments(tally, PROJECT_ROOT, ("demo",))
    )
    app = create_app(replace(services, reports=reports), lambda e: LOCAL_USERS["vic"], SECRET)
    answer = as_user(app, "vic").get("/experiments")
    assert answer["statusCode"] == 200
    body = answer["body"]
    assert f'data-experiment="demo/{EXPERIMENT}"' in body
    champion = body.split(f'<tr data-variant="{CHAMPION}">', 1)[1].split("</tr>", 1)[0]
    assert '"Accounts">120<' in champion and '"Opt-outs">3<' in champion
    assert '"Opt-out rate">2.5%<' in champion and "taking accounts" in champion
    challenger = body.split(f'<tr data-variant="{CHALLENGER}">', 1)[1].split("</tr>", 1)[0]
    assert '"Complaint rate">1.00%<' in challenger
    assert f"stopped: {REASON.replace('>', '&gt;')}" in challenger
    assert 'data-testid="statistics-elsewhere"' in body
    assert "<code>rung experiments report OUT</code>" in body and "statsmodels" in body
    assert 'data-testid="no-tally"' not in body
    assert "<script>" not in body


def test_a_viewer_is_told_when_no_account_has_joined_yet(
    aws: None, services: ConsoleServices
) -> None:
    app = create_app(
        replace(services, reports=outcomes(FixedClock(NOW))), lambda e: LOCAL_USERS["vic"], SECRET
    )
    body = as_user(app, "vic").get("/experiments")["body"]
    assert 'data-testid="no-tally"' in body
    champion = body.split(f'<tr data-variant="{CHAMPION}">', 1)[1].split("</tr>", 1)[0]
    assert '"Accounts">0<' in champion and '"Opt-out rate">-<' in champion


def test_a_dynamodb_error_is_a_sentence_on_the_page_not_a_traceback(
    aws: None, services: ConsoleServices
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    tallied = TalliedExperiments(
        DynamoExperimentTally("rung-accounts", client=client), PROJECT_ROOT, ("demo",)
    )
    with Stubber(client) as stub:
        stub.add_client_error("get_item", "ProvisionedThroughputExceededException", "Slow down")
        with pytest.raises(ReportUnavailable, match=r"AWS: .*Slow down\. Reload this page"):
            tallied.report(FixedClock(NOW))
