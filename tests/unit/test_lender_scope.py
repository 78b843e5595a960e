"""Several lenders in one deployment (functions.core.lender_scope): how far an opt-out, a
frequency cap and a borrower's legal status reach, under `scope: collector` and `scope: lender`.

One borrower owes two lenders of one deployment, `demo` and `acme`, at the same phone number.
Each lender texts from its own number unless a test makes them share one. The replies, the
gate and the caps run on the in-memory adapters, from a configuration root whose
`config/collector.yaml` says the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from functions.bootstrap import Services, memory_services
from functions.core.approval import approve_lint_clean
from functions.core.borrower_replies import Reply
from functions.core.clock import FixedClock
from functions.core.errors import ConfigError
from functions.core.feedback import Feedback
from functions.core.ladder import LadderState, load_ladder, to_sfn_timestamp
from functions.core.lender_scope import (
    CollectorConfig,
    Scope,
    attributed_lender,
    binding_keys,
    load_collector,
)
from functions.core.lenders import load_lender
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    Decision,
    LedgerEntry,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.replies import load_reply_rules
from functions.core.sending import RungSender
from functions.core.unsubscribe import UnsubscribeClaims
from functions.settings import PROJECT_ROOT, Settings

SEATTLE = ZoneInfo("America/Los_Angeles")
DUE = date(2026, 11, 2)  # no rung of the default ladder falls on a US holiday
PHONE = "+12065550134"
EMAIL = "jane.doe@example.com"
DEMO_NUMBER = "+18005550100"  # config/lenders/demo.yaml
ACME_NUMBER = "+18005550200"
LADDER = load_ladder(PROJECT_ROOT, "default")
FIRST_SMS = LADDER.due_at(0, DUE, SEATTLE)


def config_root(tmp_path: Path, scope: str | None, acme_number: str = ACME_NUMBER) -> Path:
    """The project's configuration, with `scope` in config/collector.yaml (None: no file) and a
    second lender `acme` that texts from `acme_number`."""
    root = tmp_path / "root"
    (root / "config" / "lenders").mkdir(parents=True)
    for entry in PROJECT_ROOT.iterdir():
        if entry.name not in {"config", ".git", ".venv"}:
            (root / entry.name).symlink_to(entry)
    for entry in (PROJECT_ROOT / "config").iterdir():
        if entry.name not in {"lenders", "collector.yaml"}:
            (root / "config" / entry.name).symlink_to(entry)
    for entry in (PROJECT_ROOT / "config" / "lenders").iterdir():
        (root / "config" / "lenders" / entry.name).symlink_to(entry)
    demo = yaml.safe_load((PROJECT_ROOT / "config" / "lenders" / "demo.yaml").read_text())
    acme = {
        **demo,
        "lender_id": "acme",
        "company_name": "Acme Credit",
        "sms_origination": acme_number,
        "email_from": "Acme Credit <reminders@acme.example>",
        "receipt_emails": ["files@acme.example"],
    }
    (root / "config" / "lenders" / "acme.yaml").write_text(yaml.safe_dump(acme))
    if scope is not None:
        (root / "config" / "collector.yaml").write_text(f"scope: {scope}\n")
    return root


def borrower_at(lender_id: str, **changes: Any) -> Account:
    fields: dict[str, Any] = {
        "lender_id": lender_id,
        "account_id": f"{lender_id.upper()}-1",
        "phone": PHONE,
        "email": EMAIL,
        "amount_due": Decimal("245.50"),
        "currency": "USD",
        "due_date": DUE,
        "first_name": "Jane",
        "locale": "en-US",
        "country": "US",
        "state": "WA",
        "timezone": "America/Los_Angeles",
        "cycle": DUE.isoformat(),
    }
    fields.update(changes)
    return Account(**fields)


@dataclass
class World:
    root: Path
    services: Services
    clock: FixedClock
    demo: Account
    acme: Account

    def text(self, text: str, to: str, message_id: str = "in-1") -> None:
        """The borrower texts `text` to our number `to`, an hour before the first rung."""
        feedback = Feedback(
            ports=self.services, rules=load_reply_rules(self.root), config_root=self.root
        )
        reply = Reply(
            channel=Channel.SMS, sender=PHONE, text=text, message_id=message_id, ours=(to,)
        )
        at = FIRST_SMS - timedelta(hours=1)
        feedback.on_reply(reply, at=at, now=at)

    def first_sms(self, account: Account) -> tuple[Decision, str]:
        """What the first rung of `account`'s ladder does when it falls due."""
        state = LadderState(
            lender_id=account.lender_id,
            account_id=account.account_id,
            cycle=account.cycle,
            rung=0,
            next_at=to_sfn_timestamp(FIRST_SMS),
        )
        (record,) = RungSender.from_services(self.services).step(state).records
        return record.decision, record.reason


def world_in(root: Path) -> World:
    clock = FixedClock(FIRST_SMS)
    services = memory_services(Settings(config_root=root), clock)
    approve_lint_clean(
        services.templates,
        PROJECT_ROOT / "templates" / "messages",
        load_lender(root, "demo"),
        FIRST_SMS - timedelta(days=1),
    )
    demo, acme = borrower_at("demo"), borrower_at("acme")
    services.accounts.put_many([demo, acme])
    return World(root, services, clock, demo, acme)


# --------------------------------------------------------------------------- configuration


def test_scope_is_collector_without_the_file(tmp_path: Path) -> None:
    # Given a deployment without config/collector.yaml
    root = config_root(tmp_path, scope=None)
    # Then it is one collector: the safe default
    assert load_collector(root).scope is Scope.COLLECTOR


def test_the_shipped_scope_is_collector() -> None:
    assert load_collector(PROJECT_ROOT).scope is Scope.COLLECTOR


@pytest.mark.parametrize(
    ("content", "named"),
    [("scope: creditor\n", "scope"), ("scope: lender\ncaps: per_debt\n", "caps")],
)
def test_a_bad_collector_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, content: str, named: str
) -> None:
    root = config_root(tmp_path, scope=None)
    (root / "config" / "collector.yaml").write_text(content)
    with pytest.raises(ConfigError, match=rf"config/collector.yaml: {named}: "):
        load_collector(root)


def test_a_reply_is_attributed_only_to_the_one_lender_sending_from_the_number_reached(
    tmp_path: Path,
) -> None:
    root = config_root(tmp_path, "lender")
    demo, acme = load_lender(root, "demo"), load_lender(root, "acme")
    assert attributed_lender(Channel.SMS, (ACME_NUMBER,), [demo, acme]) == "acme"
    assert attributed_lender(Channel.EMAIL, ("reminders@acme.example",), [demo, acme]) == "acme"
    # A number no lender sends from, and a number two lenders share: nobody in particular
    assert attributed_lender(Channel.SMS, ("+18005550999",), [demo, acme]) is None
    shared = acme.model_copy(update={"sms_origination": DEMO_NUMBER})
    assert attributed_lender(Channel.SMS, (DEMO_NUMBER,), [demo, shared]) is None


def test_opt_outs_that_are_facts_about_the_address_bind_every_lender() -> None:
    lender = CollectorConfig(scope=Scope.LENDER)
    address = SuppressionScope.ADDRESS
    assert lender.opt_out_lender("acme", address, SuppressionSource.REPLY) == "acme"
    assert lender.opt_out_lender("acme", address, SuppressionSource.UNSUBSCRIBE) == "acme"
    for source in (
        SuppressionSource.BOUNCE,
        SuppressionSource.COMPLAINT,
        SuppressionSource.WRONG_NUMBER,
        SuppressionSource.PROVIDER,
    ):
        assert lender.opt_out_lender("acme", address, source) is None
    assert lender.opt_out_lender("acme", SuppressionScope.ALL, SuppressionSource.REPLY) is None
    assert lender.opt_out_lender(None, address, SuppressionSource.REPLY) is None
    collector = CollectorConfig()
    assert collector.opt_out_lender("acme", address, SuppressionSource.REPLY) is None


def test_the_keys_binding_an_account_are_its_addresses_deployment_wide_and_for_its_lender() -> None:
    assert binding_keys(borrower_at("acme", email=None)) == (
        f"sms#{PHONE}",
        f"lender#acme#sms#{PHONE}",
    )


# --------------------------------------------------------------------------- opt-outs


def test_stop_to_one_lenders_number_stops_only_that_lender_under_lender_scope(
    tmp_path: Path,
) -> None:
    # Given lenders that send under their own numbers (scope: lender)
    world = world_in(config_root(tmp_path, "lender"))

    # When the borrower texts STOP to acme's number
    world.text("STOP", to=ACME_NUMBER)

    # Then acme's texts stop and demo's go on
    assert world.first_sms(world.acme) == (Decision.SUPPRESSED, "opted_out")
    assert world.first_sms(world.demo) == (Decision.SENT, "")
    stored = world.services.suppressions.get(Channel.SMS, PHONE, lender_id="acme")
    assert stored is not None and stored.source is SuppressionSource.REPLY
    assert world.services.suppressions.get(Channel.SMS, PHONE) is None


def test_stop_to_one_lenders_number_stops_every_lender_under_collector_scope(
    tmp_path: Path,
) -> None:
    # Given one collector serving both lenders (scope: collector)
    world = world_in(config_root(tmp_path, "collector"))

    # When the borrower texts STOP to acme's number
    world.text("STOP", to=ACME_NUMBER)

    # Then no lender texts the number any more
    assert world.first_sms(world.acme) == (Decision.SUPPRESSED, "opted_out")
    assert world.first_sms(world.demo) == (Decision.SUPPRESSED, "opted_out")


@pytest.mark.parametrize(
    ("text", "to", "acme_number"),
    [
        ("STOP ALL", ACME_NUMBER, ACME_NUMBER),  # "everything"
        ("STOP", DEMO_NUMBER, DEMO_NUMBER),  # a number both lenders text from
        ("STOP", "+18005550999", ACME_NUMBER),  # a number no lender is configured with
        ("wrong number", ACME_NUMBER, ACME_NUMBER),  # the number is not the borrower's
    ],
)
def test_opt_outs_that_cannot_name_one_lender_stop_every_lender_under_lender_scope(
    tmp_path: Path, text: str, to: str, acme_number: str
) -> None:
    world = world_in(config_root(tmp_path, "lender", acme_number=acme_number))

    world.text(text, to=to)

    assert world.first_sms(world.acme) == (Decision.SUPPRESSED, "opted_out")
    assert world.first_sms(world.demo) == (Decision.SUPPRESSED, "opted_out")


def test_start_lifts_the_lender_scoped_stop_it_answers(tmp_path: Path) -> None:
    # Given a STOP to acme's number under scope: lender
    world = world_in(config_root(tmp_path, "lender"))
    world.text("STOP", to=ACME_NUMBER)

    # When the borrower texts START to acme's number
    world.text("START", to=ACME_NUMBER, message_id="in-2")

    # Then acme may text again
    assert world.services.suppressions.get(Channel.SMS, PHONE, lender_id="acme") is None
    assert world.first_sms(world.acme) == (Decision.SENT, "")


def test_one_click_unsubscribe_binds_the_lender_that_sent_the_email(tmp_path: Path) -> None:
    root = config_root(tmp_path, "lender")
    world = world_in(root)
    feedback = Feedback(ports=world.services, rules=load_reply_rules(root), config_root=root)
    claims = UnsubscribeClaims(address=EMAIL, lender_id="acme", account_id="ACME-1", issued_at=0)

    feedback.on_unsubscribe(claims, at=FIRST_SMS)

    acme = world.services.suppressions.get(Channel.EMAIL, EMAIL, lender_id="acme")
    assert acme is not None and acme.source is SuppressionSource.UNSUBSCRIBE
    assert world.services.suppressions.get(Channel.EMAIL, EMAIL) is None


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("scope", ["lender", "collector"])
def test_a_borrowers_attorney_reaches_every_lenders_account_whatever_the_scope(
    tmp_path: Path, scope: str
) -> None:
    # Given a borrower owing both lenders
    world = world_in(config_root(tmp_path, scope))

    # When they text acme's number that a lawyer represents them
    world.text("I have an attorney, contact my lawyer", to=ACME_NUMBER)

    # Then both accounts are ATTORNEY and neither lender texts them
    for account in (world.demo, world.acme):
        stored = world.services.accounts.get(account.lender_id, account.account_id)
        assert stored is not None and stored.status is AccountStatus.ATTORNEY
        assert world.first_sms(account) == (Decision.SUPPRESSED, "status_attorney")


# --------------------------------------------------------------------------- caps


@pytest.mark.parametrize(
    ("scope", "expected"),
    [("collector", Decision.DEFERRED), ("lender", Decision.SENT)],
)
def test_the_per_address_daily_cap_counts_per_scope(
    tmp_path: Path, scope: str, expected: Decision
) -> None:
    # Given demo texted the borrower's phone an hour ago, today
    world = world_in(config_root(tmp_path, scope))
    earlier = FIRST_SMS - timedelta(hours=1)
    ladder = f"demo#OTHER-DEBT#{DUE.isoformat()}"
    entry = LedgerEntry(
        ladder_key=ladder, rung=0, channel=Channel.SMS, attempted_at=earlier, address=PHONE
    )
    assert world.services.ledger.claim(entry)
    world.services.ledger.complete(ladder, 0, Channel.SMS, Decision.SENT, "m-1")

    # When acme's first text falls due the same local day
    decision, reason = world.first_sms(world.acme)

    # Then one collector waits for tomorrow; a separate lender counts only its own texts
    assert decision is expected
    if expected is Decision.DEFERRED:
        assert reason.startswith("cap_")
