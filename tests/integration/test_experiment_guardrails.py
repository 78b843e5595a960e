"""Experiment guardrails end to end on in-memory ports: the lender file assigns pilot accounts,
STOP replies through the optout handler count against their variant, a breached challenger
stops (metric for the alarm), and new accounts go to the champion saying why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from functions.bootstrap import Services, memory_services
from functions.core.clock import FixedClock
from functions.core.experiments import load_experiments, load_guardrails
from functions.core.intake import ingest
from functions.observability import metrics
from functions.settings import PROJECT_ROOT, Settings
from tests.integration.test_optout_handler import run, sms_event

NOW = datetime(2026, 12, 2, 15, tzinfo=UTC)  # inside the demo experiment's dates
EXPERIMENT = "email-first-2026q4"
CHALLENGER, CHAMPION = "email-first", "current"
HEADER = "account_id,phone,amount_due,currency,due_date,segment\n"


@pytest.fixture(autouse=True)
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "namespace", "RungTest")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def _phone(i: int) -> str:
    return f"+1206555{1000 + i}"


def _upload(services: Services, name: str, rows: range, segment: str = "pilot") -> None:
    body = HEADER + "".join(f"P-{i},{_phone(i)},120.00,USD,2026-11-30,{segment}\n" for i in rows)
    key = f"uploads/demo/{name}.csv"
    services.objects.put(key, body.encode(), "text/csv")
    outcome = ingest(services, key, name, NOW, PROJECT_ROOT)
    assert outcome.record.rejected == 0, outcome.record


def _services() -> Services:
    return memory_services(
        Settings(config_root=PROJECT_ROOT, ses_configuration_set="rung"), FixedClock(NOW)
    )


def _variants(services: Services, rows: range) -> dict[str, str]:
    found = {}
    for i in rows:
        account = services.accounts.get("demo", f"P-{i}")
        assert account is not None
        found[account.account_id] = account.variant
    return found


def test_the_lender_file_assigns_pilot_accounts_and_counts_them() -> None:
    services = _services()
    _upload(services, "first", range(240))
    _upload(services, "others", range(240, 260), segment="standard")
    variants = _variants(services, range(240))
    # Every pilot account is in the experiment, on one of its variants, counted once
    assert set(variants.values()) == {CHALLENGER, CHAMPION}
    for name in (CHALLENGER, CHAMPION):
        tally = services.experiments.get("demo", EXPERIMENT, name)
        assert tally.accounts == list(variants.values()).count(name)
    # Accounts the lender did not label pilot take no part
    assert set(_variants(services, range(240, 260)).values()) == {""}


def test_a_re_upload_keeps_every_account_in_its_variant_and_counts_nothing_again() -> None:
    services = _services()
    _upload(services, "first", range(120))
    before = _variants(services, range(120))
    _upload(services, "again", range(120))
    assert _variants(services, range(120)) == before
    total = sum(
        services.experiments.get("demo", EXPERIMENT, v).accounts for v in (CHALLENGER, CHAMPION)
    )
    assert total == 120


def test_a_challenger_breaching_its_opt_out_guardrail_stops_and_raises_the_alarm(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given 240 pilot accounts, about half on the challenger
    services = _services()
    _upload(services, "first", range(240))
    variants = _variants(services, range(240))
    challengers = [int(a.split("-")[1]) for a, v in variants.items() if v == CHALLENGER]
    champions = [int(a.split("-")[1]) for a, v in variants.items() if v == CHAMPION]
    rules = load_guardrails(PROJECT_ROOT)
    accounts = len(challengers)
    assert accounts >= rules.minimum_accounts
    needed = next(n for n in range(1, accounts) if n / accounts >= rules.opt_out_rate)
    capsys.readouterr()

    # When champion borrowers opt out, the challenger is untouched
    for i in champions[: needed + 1]:
        run(services, sms_event("STOP", f"c-{i}", sender=_phone(i)))
    assert services.experiments.get("demo", EXPERIMENT, CHALLENGER).opt_outs == 0
    # (and the champion is never stopped: it is where stopped variants send accounts)
    assert services.experiments.get("demo", EXPERIMENT, CHAMPION).stopped == ""

    # When challenger borrowers opt out, one short of the guardrail, and one repeats its STOP
    for i in challengers[: needed - 1]:
        run(services, sms_event("STOP", f"s-{i}", sender=_phone(i)))
    run(services, sms_event("STOP", f"s-{challengers[0]}", sender=_phone(challengers[0])))
    tally = services.experiments.get("demo", EXPERIMENT, CHALLENGER)
    assert (tally.opt_outs, tally.stopped) == (needed - 1, "")
    capsys.readouterr()

    # When one more opts out
    last = challengers[needed - 1]
    run(services, sms_event("STOP", f"s-{last}", sender=_phone(last)))

    # Then the challenger is stopped, with the rate that stopped it
    stopped = services.experiments.get("demo", EXPERIMENT, CHALLENGER).stopped
    assert stopped == f"opt_out_rate {needed}/{accounts} >= {rules.opt_out_rate}"
    # And the metric the ExperimentGuardrailBreached alarm watches is emitted, once
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get("ExperimentGuardrailBreached") for m in emf] == [[1.0]]

    # When new pilot accounts arrive
    _upload(services, "second", range(240, 480))
    fresh = {
        a.account_id: a
        for i in range(240, 480)
        if (a := services.accounts.get("demo", f"P-{i}")) is not None
    }
    # Then none joins the stopped challenger; those it would have taken go to the champion
    assert {a.variant for a in fresh.values()} == {CHAMPION}
    moved = [a for a in fresh.values() if a.assignment == f"guardrail:{CHALLENGER}"]
    assert moved and all(a.variant == CHAMPION for a in moved)
    # And accounts already on the challenger keep it for their cycle
    assert services.accounts.get("demo", f"P-{challengers[0]}").variant == CHALLENGER  # type: ignore[union-attr]


def test_the_shipped_experiment_names_its_champion_and_challenger() -> None:
    experiment = load_experiments(PROJECT_ROOT, "demo").get(EXPERIMENT)
    assert experiment is not None and experiment.champion == CHAMPION
    assert experiment.variant(CHALLENGER) is not None
