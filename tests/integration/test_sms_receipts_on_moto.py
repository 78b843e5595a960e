"""SMS through End User Messaging in the local world: receipts reach the ledger, the service's own
opt-out list refuses a number for good, and a borrower's START lifts it.

Texts go to Rung's model of End User Messaging (rung.sms_voice), which publishes each text's
TEXT_DELIVERED event to the stack's configuration set destination — the delivery-events topic
the optout function reads — as AWS does once the sender has recorded the message id.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from functions.core.ladder import load_ladder
from functions.core.lenders import load_lender
from functions.core.models import Channel, Decision, LedgerEntry
from functions.settings import PROJECT_ROOT
from rung.engine import ScriptedReply
from rung.events import inbound_sms_message
from rung.localworld import LocalWorld
from tests.integration.conftest import approved_world

DUE = date(2026, 3, 1)
SEATTLE = ZoneInfo("America/Los_Angeles")
LADDER = load_ladder(PROJECT_ROOT, "default")
FIRST_RUNG = LADDER.due_at(0, DUE, SEATTLE)  # day 1, 10:00 in Seattle: an SMS rung
START = FIRST_RUNG - timedelta(hours=1)
PHONE = "+12065550134"
OURS = load_lender(PROJECT_ROOT, "demo").sms_origination or ""
CSV = (
    "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state,"
    "timezone\n"
    f"A1,Ana,{PHONE},,245.50,USD,{DUE},en-US,US,WA,America/Los_Angeles\n"
).encode()


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    with approved_world(START) as local:
        yield local


def _sms_entries(world: LocalWorld) -> list[LedgerEntry]:
    entries = world.ledger_entries()
    return [entry for entry in entries if entry.channel is Channel.SMS]


def _first_rung(world: LocalWorld) -> list[tuple[Decision, str]]:
    records = world.gate_records()
    return [(r.decision, r.reason) for r in records if r.rung == 0]


def test_sms_delivery_receipt_is_noted_on_its_ledger_entry(world: LocalWorld) -> None:
    # Given an account whose first rung is a text
    world.put_object("uploads/demo/a.csv", CSV)

    # When the rung falls due and End User Messaging delivers the text
    world.clock.run_until(FIRST_RUNG + timedelta(minutes=5))

    # Then the ledger entry of that send carries the receipt, matched by its message id
    (sent,) = world.sent_sms()
    (entry,) = _sms_entries(world)
    assert entry.provider_message_id == sent.message_id
    assert entry.delivery == "DELIVERED"
    assert entry.delivery_at is not None
    assert world.handler_errors == []


def test_number_on_the_end_user_messaging_opt_out_list_is_refused_for_good(
    world: LocalWorld,
) -> None:
    # Given a borrower who texted STOP to the number directly, before Rung knew them
    world.sms_voice.put_opted_out_number({"OptOutListName": "Default", "OptedOutNumber": PHONE})
    world.put_object("uploads/demo/a.csv", CSV)

    # When the first rung falls due
    world.clock.run_until(FIRST_RUNG + timedelta(minutes=5))

    # Then nothing is sent and the trail says the provider refused the number, permanently
    assert world.sent_sms() == []
    assert _first_rung(world) == [(Decision.SUPPRESSED, "provider_rejected:sms_opted_out")]


def test_start_lifts_the_end_user_messaging_opt_out(world: LocalWorld) -> None:
    # Given a borrower who texted STOP (Rung suppressed them; End User Messaging listed them)
    world.put_object("uploads/demo/a.csv", CSV)
    world.publish_inbound_sms(
        inbound_sms_message(ScriptedReply(START, PHONE, Channel.SMS, "STOP"), OURS)
    )
    world.sms_voice.put_opted_out_number({"OptOutListName": "Default", "OptedOutNumber": PHONE})

    # When they text START
    world.publish_inbound_sms(
        inbound_sms_message(ScriptedReply(START, PHONE, Channel.SMS, "START"), OURS)
    )

    # Then they are off End User Messaging's opt-out list too, and the confirmation reached them
    assert PHONE not in world.sms_voice.opt_out_lists["Default"]
    assert [message.to for message in world.sent_sms()][-1] == PHONE
    assert world.handler_errors == []
