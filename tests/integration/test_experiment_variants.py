"""Every variant passes the same gate and lint: a challenger's template that fails lint (so is
never approved) or was never approved is refused at the gate like any other, and recorded with
the variant; a challenger ladder runs through the same handlers."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from functions.core.models import Decision
from functions.settings import PROJECT_ROOT, Settings
from rung.engine import SimulationInput, SimulationResult
from rung.engine_fast import BUCKET, FastEngine
from rung.events import UNSUBSCRIBE_URL

START = datetime(2026, 11, 29, tzinfo=UTC)
PUSHY = """---
purpose: First reminder (SMS), a challenger's wording that breaks the rules
initial_contact: true
legal_action_intended: false
---
{{ company_name }}: pay {{ amount_due }} today or we will have you arrested.
"""


def _root(tmp_path: Path, variants: list[dict[str, object]]) -> Path:
    root = tmp_path / "root"
    (root / "config").mkdir(parents=True)
    for item in (PROJECT_ROOT / "config").iterdir():
        if item.name != "experiments":
            (root / "config" / item.name).symlink_to(item)
    (root / "ladders").symlink_to(PROJECT_ROOT / "ladders")
    shutil.copytree(PROJECT_ROOT / "templates", root / "templates")
    pushy = root / "templates" / "messages" / "reminder_day1_pushy"
    pushy.mkdir()
    (pushy / "sms.en-US.txt").write_text(PUSHY, encoding="utf-8")
    experiments = {
        "experiments": [
            {
                "id": "wording",
                "start": "2026-11-01T00:00:00Z",
                "end": "2027-01-01T00:00:00Z",
                "champion": "current",
                "variants": variants,
            }
        ]
    }
    (root / "config" / "experiments").mkdir()
    (root / "config" / "experiments" / "demo.yaml").write_text(
        yaml.safe_dump(experiments), encoding="utf-8"
    )
    return root


def _run(tmp_path: Path, variants: list[dict[str, object]], count: int = 40) -> SimulationResult:
    root = _root(tmp_path, variants)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "account_id,phone,email,amount_due,currency,due_date,timezone\n"
        + "".join(
            f"V-{i},+1206555{1000 + i},v{i}@example.com,90.00,USD,2026-11-28,America/Chicago\n"
            for i in range(count)
        ),
        encoding="utf-8",
    )
    sim = SimulationInput(accounts_file=accounts, lender_id="demo", start=START, days=3)
    settings = Settings(config_root=root, uploads_bucket=BUCKET, unsubscribe_url=UNSUBSCRIBE_URL)
    return FastEngine(sim, settings).run()


def test_a_challenger_template_that_fails_lint_is_refused_at_the_gate(tmp_path: Path) -> None:
    # Given a challenger whose first text threatens arrest (lint fails, so it is never approved)
    result = _run(
        tmp_path,
        [
            {"name": "current", "weight": 1},
            {"name": "pushy", "weight": 1, "templates": {"reminder_day1": "reminder_day1_pushy"}},
        ],
    )
    first = [r for r in result.records if r.rung == 0]
    pushy = [r for r in first if r.variant == "pushy"]
    current = [r for r in first if r.variant == "current"]
    assert pushy and current
    # Then every challenger account's first rung is suppressed, naming the variant's template
    assert {(r.decision, r.reason, r.template_id) for r in pushy} == {
        (Decision.SUPPRESSED, "template_not_approved", "reminder_day1_pushy")
    }
    assert {r.experiment for r in pushy} == {"wording"}
    # And the champion's accounts get the approved wording
    assert {(r.decision, r.template_id) for r in current} == {(Decision.SENT, "reminder_day1")}


def test_a_challenger_template_never_pushed_is_refused_at_the_gate(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        [
            {"name": "current", "weight": 1},
            {"name": "unwritten", "weight": 1, "templates": {"reminder_day1": "reminder_day1_new"}},
        ],
    )
    refused = [r for r in result.records if r.variant == "unwritten" and r.rung == 0]
    assert refused
    assert {(r.decision, r.reason) for r in refused} == {
        (Decision.SUPPRESSED, "template_not_approved")
    }


def test_a_challenger_ladder_runs_its_own_rungs_through_the_same_gate(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        [
            {"name": "current", "weight": 1},
            {"name": "email-first", "weight": 1, "ladder": "email_first"},
        ],
    )
    sent = [r for r in result.records if r.rung == 0 and r.decision is Decision.SENT]
    channels = {(r.variant, r.channel.value) for r in sent}
    assert channels == {("current", "sms"), ("email-first", "email")}
    # Every decision names the profile the gate applied: the same gate for both
    assert all(r.profile for r in sent)
