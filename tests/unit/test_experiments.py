"""Champion/challenger assignment: deterministic, weighted, segment-only, guarded."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from functions.core.errors import ConfigError
from functions.core.experiments import (
    Experiment,
    ExperimentBook,
    Guardrails,
    VariantTally,
    assign,
    breach,
    load_experiments,
    load_guardrails,
)
from functions.core.ladder import load_ladder
from functions.settings import PROJECT_ROOT

NOW = datetime(2026, 12, 2, 9, tzinfo=UTC)


def _experiment(**overrides: object) -> Experiment:
    raw: dict[str, object] = {
        "id": "exp-1",
        "start": "2026-12-01T00:00:00Z",
        "end": "2027-01-01T00:00:00Z",
        "champion": "control",
        "variants": [
            {"name": "control", "weight": 70},
            {"name": "challenger", "weight": 30, "ladder": "email_first"},
        ],
    }
    raw.update(overrides)
    return Experiment.model_validate(raw)


def _book(*items: Experiment) -> ExperimentBook:
    return ExperimentBook(experiments=items or (_experiment(),))


@given(st.text(min_size=1, max_size=64))
def test_assignment_is_the_same_every_time_it_is_asked(account_id: str) -> None:
    # Given an account id / When it is assigned twice, and from a rebuilt book (a re-upload)
    first = assign(_book(), account_id, None, NOW)
    again = assign(_book(), account_id, None, NOW + timedelta(days=3))
    # Then the variant is the same
    assert first is not None and again is not None
    assert (first.experiment, first.variant, first.reason) == (
        again.experiment,
        again.variant,
        "hash",
    )


def test_assignment_is_the_same_in_another_process_with_another_hash_seed() -> None:
    # Given the variants chosen here / When another interpreter, salted differently, chooses
    ids = [f"A-{i}" for i in range(50)]
    here = [assign(_book(), i, None, NOW).variant for i in ids]  # type: ignore[union-attr]
    code = (
        "import sys, json; from tests.unit.test_experiments import _book, NOW, assign; "
        "print(json.dumps([assign(_book(), i, None, NOW).variant for i in sys.argv[1:]]))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code, *ids],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    # Then both agree account by account
    assert json.loads(there.stdout) == here


def test_weights_are_honoured_within_a_binomial_tolerance() -> None:
    # Given a 70/30 split and 20 000 accounts
    n = 20_000
    chosen = [assign(_book(), f"A-{i}", None, NOW) for i in range(n)]
    challengers = sum(1 for a in chosen if a is not None and a.variant == "challenger")
    # Then the challenger's share is consistent with 30 % (a two-sided exact test at 0.1 %)
    assert binomtest(challengers, n, 0.30).pvalue > 0.001


def test_a_zero_weight_variant_gets_no_account() -> None:
    experiment = _experiment(
        variants=[
            {"name": "control", "weight": 1},
            {"name": "challenger", "weight": 0},
        ]
    )
    variants = {assign(_book(experiment), f"A-{i}", None, NOW).variant for i in range(500)}  # type: ignore[union-attr]
    assert variants == {"control"}


def test_only_targeted_segments_join_and_nothing_else_is_read() -> None:
    # Given an experiment targeting the lender's `pilot` label
    book = _book(_experiment(segments=["pilot"]))
    # Then a pilot account joins, others and unlabelled ones do not
    assert assign(book, "A-1", "pilot", NOW) is not None
    assert assign(book, "A-1", "standard", NOW) is None
    assert assign(book, "A-1", None, NOW) is None
    # And the assignment takes only the account id and the segment label: no borrower data
    parameters = list(inspect.signature(assign).parameters)
    assert parameters == ["book", "account_id", "segment", "now", "stopped"]


def test_no_assignment_outside_the_experiment_dates() -> None:
    book = _book()
    assert assign(book, "A-1", None, datetime(2026, 11, 30, tzinfo=UTC)) is None
    assert assign(book, "A-1", None, datetime(2027, 1, 1, tzinfo=UTC)) is None


def test_a_stopped_variant_sends_its_new_accounts_to_the_champion_with_the_reason() -> None:
    # Given accounts that hash to the challenger
    book = _book()
    ids = [f"A-{i}" for i in range(200)]
    challenger_ids = [i for i in ids if assign(book, i, None, NOW).variant == "challenger"]  # type: ignore[union-attr]
    assert challenger_ids
    # When the challenger is stopped
    stopped = {"exp-1": frozenset({"challenger"})}
    moved = [assign(book, i, None, NOW, stopped) for i in challenger_ids]
    # Then each goes to the champion, saying why
    assert {(a.variant, a.reason) for a in moved if a} == {("control", "guardrail:challenger")}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"champion": "nobody"}, "champion 'nobody' is not a variant"),
        ({"end": "2026-11-01T00:00:00Z"}, "is not after start"),
        ({"segments": ["has space"]}, "is not a segment label"),
        (
            {"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]},
            "add up to nothing",
        ),
        (
            {"variants": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}]},
            "variant names repeat",
        ),
    ],
)
def test_a_bad_experiment_is_refused_with_the_reason(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _experiment(**({"champion": "a"} if "variants" in overrides else {}) | overrides)


def test_a_bad_experiments_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "config" / "experiments"
    folder.mkdir(parents=True)
    (folder / "acme.yaml").write_text("experiments:\n  - id: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config/experiments/acme.yaml"):
        load_experiments(tmp_path, "acme")


def test_a_lender_without_experiments_has_an_empty_book(tmp_path: Path) -> None:
    assert load_experiments(tmp_path, "acme").experiments == ()


def test_the_shipped_experiments_load_and_name_existing_ladders() -> None:
    book = load_experiments(PROJECT_ROOT, "demo")
    assert book.experiments
    for experiment in book.experiments:
        for variant in experiment.variants:
            if variant.ladder:
                assert load_ladder(PROJECT_ROOT, variant.ladder).id == variant.ladder


def test_the_shipped_guardrails_load() -> None:
    rules = load_guardrails(PROJECT_ROOT)
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "experiment_guardrails.yaml").read_text())
    assert rules == Guardrails.model_validate(raw)


RULES = Guardrails(opt_out_rate=0.02, complaint_rate=0.001, minimum_accounts=100)


@pytest.mark.parametrize(
    ("tally", "expected"),
    [
        (VariantTally(accounts=99, opt_outs=50), ""),  # below the minimum sample
        (VariantTally(accounts=100, opt_outs=1), ""),
        (VariantTally(accounts=100, opt_outs=2), "opt_out_rate 2/100 >= 0.02"),
        (VariantTally(accounts=1000, complaints=1), "complaint_rate 1/1000 >= 0.001"),
        (VariantTally(accounts=1001, complaints=1), ""),
    ],
)
def test_a_guardrail_breaches_only_past_its_minimum_sample(
    tally: VariantTally, expected: str
) -> None:
    assert breach(tally, RULES) == expected
