"""The reply table (tests/data/replies_table.yaml): every case read by the reader, then handled
by the inbound handler's core (`Feedback`) for a borrower with one ACTIVE account and a running
ladder, with in-memory ports. Each case names its intent, compound intents, scope, dates and
preferences, and the effect a person would expect."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.bootstrap import Services, memory_services
from functions.core.clock import FixedClock
from functions.core.feedback import Feedback
from functions.core.ladder import execution_name
from functions.core.models import Account, AccountStatus, Channel
from functions.core.replies import LEGAL_INTENTS, Confidence, Intent, load_reply_rules, read_reply
from functions.optout.aws_events import InboundSms, sms_reply
from functions.settings import PROJECT_ROOT, Settings

TABLE = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "data" / "replies_table.yaml").read_text("utf-8")
)
CASES: list[dict[str, Any]] = TABLE["cases"]
TODAY = date.fromisoformat(TABLE["today"])
AT = datetime(TODAY.year, TODAY.month, TODAY.day, 15, 0, tzinfo=UTC)
RULES = load_reply_rules(PROJECT_ROOT)
PHONE = "+14155550123"
EMAIL = "jane.doe@example.com"
STOPPING = {Intent.ATTORNEY, Intent.BANKRUPTCY, Intent.CEASE, Intent.DECEASED}


def test_reply_table_covers_every_intent_and_language() -> None:
    assert len(CASES) >= 300
    assert {c["lang"] for c in CASES} == {"en", "es", "zh-Hans", "zh-Hant"}
    assert {c["intent"] for c in CASES} == {i.value for i in Intent} - {"opt_in"} | {"opt_in"}
    for lang in ("es", "zh-Hans", "zh-Hant"):
        assert sum(c["lang"] == lang for c in CASES) >= 30
    assert sum(bool(c.get("also")) for c in CASES) >= 20  # compound replies


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['lang']}:{c['text'] or '<empty>'}" for c in CASES]
)
def test_reply_table_reading(case: dict[str, Any]) -> None:
    # Given a borrower reply, When Rung reads it on the table's day
    reading = read_reply(case["text"], RULES, today=TODAY, at=AT)
    # Then intent, further intents, scope and channel are as a person would read them
    assert reading.intent.value == case["intent"], reading.matched
    assert list(reading.also) == case.get("also", [])
    if "scope" in case:
        assert reading.scope is not None and reading.scope.value == case["scope"]
        assert (reading.channel.value if reading.channel else None) == case.get("channel")
    # And the reading explains itself: rule, rules version, normalised text
    assert reading.rules_version == RULES.version
    assert reading.normalised or not case["text"].strip()
    assert (reading.confidence is Confidence.LOW) == bool(case.get("review")) or (
        reading.intent is Intent.OTHER
    )
    if "promised" in case:
        assert reading.promised_on == date.fromisoformat(case["promised"])
    elif reading.intent is Intent.PROMISE_TO_PAY:
        assert reading.promised_on is None
    preference = reading.preference
    for bound in ("not_before", "not_after"):
        if bound in case:
            assert preference is not None
            assert getattr(preference, bound) == time.fromisoformat(case[bound])
    if "excluded" in case:
        assert preference is not None and preference.excluded
        assert preference.channel == Channel(case["excluded"])
    if "place" in case:
        assert preference is not None and preference.place == case["place"]


def _services() -> tuple[Services, Account]:
    services = memory_services(Settings(config_root=PROJECT_ROOT), clock=FixedClock(AT))
    account = Account(
        lender_id="demo",
        account_id="A-1",
        phone=PHONE,
        email=EMAIL,
        amount_due=Decimal("120.00"),
        currency="USD",
        due_date=date(2026, 11, 30),
        locale="en-US",
        timezone="America/Los_Angeles",
        cycle="2026-11-30",
    )
    services.accounts.put_many([account])
    services.ladders.start(execution_name("demo", "A-1", account.cycle), "{}")
    return services, account


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['lang']}:{c['text'] or '<empty>'}" for c in CASES]
)
def test_reply_table_effect(case: dict[str, Any]) -> None:
    # Given a borrower with one ACTIVE account and a running ladder
    services, account = _services()
    feedback = Feedback(ports=services, rules=RULES, config_root=PROJECT_ROOT)
    # When the reply arrives by SMS
    sms = InboundSms(
        originationNumber=PHONE,
        destinationNumber="+18005550100",
        messageBody=case["text"],
        inboundMessageId="in-1",
    )
    outcome = feedback.on_reply(sms_reply(sms), at=AT, now=AT)
    # Then the effect a person expects happened
    after = services.accounts.get("demo", "A-1")
    assert after is not None
    observed = set()
    if after.status is not account.status:
        observed.add(f"status:{after.status.value}")
    if services.suppressions.get(Channel.SMS, PHONE) or services.suppressions.get(
        Channel.EMAIL, EMAIL
    ):
        observed.add("suppressed")
    if after.contact_preferences:
        observed.add("preference")
    if outcome.review:
        observed.add("review")
    if case["intent"] == "help" and services.sms.sent:  # type: ignore[attr-defined]
        observed.add("confirmation")
    assert case["effect"] in observed or (case["effect"] == "none" and not observed), observed
    known = {i.value for i in Intent}
    intents = {Intent(a) for a in [case["intent"], *case.get("also", [])] if a in known}
    # And a person reviews what was not understood, read with doubt, or carries legal weight
    legal = bool(intents & LEGAL_INTENTS)
    other = case["intent"] == "other" and case["text"].strip() != ""
    assert bool(outcome.review) == (legal or other or bool(case.get("review")))
    # And a legal stop stops the ladder at once, and no message answers a legal intent
    assert bool(outcome.ladders_stopped) == bool(intents & STOPPING) or "suppressed" in observed
    if legal:
        assert not services.sms.sent  # type: ignore[attr-defined]
    # And the decision is in the append-only log, with the rule and the rules version
    logged = services.decisions.history(Channel.SMS, PHONE)
    read = [d for d in logged if d.event == "read"]
    assert len(read) == 1 and read[0].rules_version == RULES.version
    assert read[0].intent == case["intent"]
    if after.status is AccountStatus.PROMISE_TO_PAY:
        assert after.hold_until is not None and after.hold_until > AT
