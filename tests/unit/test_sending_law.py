"""The send step where it meets the gate, the ledger and the providers
(functions/core/sending.py): who actually receives the message, what the gate is told, what
a late STOP or payment does, and what the audit trail keeps for a regulator.

Runs on the in-memory adapters, like tests/unit/test_sending.py.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from functions.adapters.template_store import MemoryTemplateStore
from functions.bootstrap import Services, memory_services
from functions.core.approval import approve_lint_clean
from functions.core.clock import FixedClock
from functions.core.ladder import LadderState, load_ladder, to_sfn_timestamp
from functions.core.lenders import load_lender
from functions.core.masking import mask_address
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    ChannelPause,
    Decision,
    LedgerEntry,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.profiles import load_profiles
from functions.core.segments import sms_segments
from functions.core.sending import RungSender
from functions.settings import PROJECT_ROOT, Settings

SEATTLE = ZoneInfo("America/Los_Angeles")
# No rung of the default ladder falls on a US holiday (day 1 of 25 November is Thanksgiving).
DUE = date(2026, 11, 2)
PHONE = "+12065550134"
EMAIL = "jane.doe@example.com"
LADDER = load_ladder(PROJECT_ROOT, "default")
LENDER = load_lender(PROJECT_ROOT, "demo")
BOOK = load_profiles(PROJECT_ROOT)


def due(rung: int) -> datetime:
    return LADDER.due_at(rung, DUE, SEATTLE)


@dataclass
class World:
    services: Services
    clock: FixedClock
    account: Account

    def sender(self) -> RungSender:
        return RungSender.from_services(self.services)

    def state(self, rung: int = 0) -> LadderState:
        return LadderState(
            lender_id="demo",
            account_id=self.account.account_id,
            cycle=self.account.cycle,
            rung=rung,
            next_at=to_sfn_timestamp(self.clock.now()),
        )

    @property
    def sms(self) -> list[Any]:
        return self.services.sms.sent  # type: ignore[attr-defined, no-any-return]

    @property
    def emails(self) -> list[Any]:
        return self.services.email.sent  # type: ignore[attr-defined, no-any-return]

    def sent_earlier(self, ladder_key: str, rung: int, channel: Channel, at: datetime) -> None:
        """An attempt another rung or another account made, as the ledger keeps it."""
        address = PHONE if channel is Channel.SMS else EMAIL
        ledger = self.services.ledger
        ledger.claim(
            LedgerEntry(
                ladder_key=ladder_key, rung=rung, channel=channel, attempted_at=at, address=address
            )
        )
        ledger.complete(ladder_key, rung, channel, Decision.SENT, f"earlier-{rung}")

    def claim_then(self, change: Any) -> None:
        """Run `change` (another Lambda, at the same time) right after this step's claim."""
        ledger = self.services.ledger
        real_claim = ledger.claim

        def claim(entry: LedgerEntry) -> bool:
            claimed = real_claim(entry)
            change(entry)
            return claimed

        ledger.claim = claim  # type: ignore[method-assign]


@cache
def approved_templates() -> MemoryTemplateStore:
    """The shipped templates, pushed and approved once: no test here changes them."""
    store = MemoryTemplateStore()
    approve_lint_clean(store, PROJECT_ROOT / "templates" / "messages", LENDER, due(0))
    return store


def make_world(settings: Settings, **changes: object) -> World:
    clock = FixedClock(due(0))
    services = memory_services(settings, clock, templates=approved_templates())
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": "D-1",
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
        "payment_link": "https://pay.demo-finance.example/a/D-1",
        "cycle": DUE.isoformat(),
    }
    fields.update(changes)
    account = Account.model_validate(fields)
    services.accounts.put_many([account])
    return World(services, clock, account)


SETTINGS = Settings(
    config_root=PROJECT_ROOT,
    unsubscribe_url="https://unsubscribe.example.com/",
    ses_configuration_set="rung-events",
)


@pytest.fixture
def world() -> World:
    return make_world(SETTINGS)


# -- who receives what ---------------------------------------------------------------------


def test_send_step_texts_the_borrowers_own_number_from_the_lenders_number(world: World) -> None:
    step = world.sender().step(world.state())

    ((message_id, text),) = world.sms
    assert text.to == PHONE
    assert text.origination == "+18005550100"  # config/lenders/demo.yaml
    (record,) = step.records
    assert (record.decision, record.body) == (Decision.SENT, text.body)
    assert record.segments == sms_segments(text.body).segments >= 1
    assert record.provider_message_id == message_id
    entry = world.services.ledger.get(world.account.ladder_key, 0, Channel.SMS)
    assert entry is not None
    assert (entry.state, entry.provider_message_id, entry.address) == (
        Decision.SENT,
        message_id,
        PHONE,
    )


def test_send_step_emails_the_borrower_from_the_lenders_identity(world: World) -> None:
    world.clock.set(due(1))
    step = world.sender().step(world.state(rung=1))

    ((message_id, email),) = world.emails
    assert email.to == EMAIL
    assert email.origination == LENDER.email_from
    assert email.subject and "Demo Finance" in email.body and "<html" in email.html.lower()
    assert email.configuration_set == "rung-events"  # the lender names none: the stack's set
    assert step.records[0].provider_message_id == message_id
    assert step.records[0].body == email.body


def test_send_step_without_a_configuration_set_sends_none() -> None:
    world = make_world(Settings(config_root=PROJECT_ROOT, unsubscribe_url="https://u.example/"))
    world.clock.set(due(1))
    world.sender().step(world.state(rung=1))
    assert world.emails[0][1].configuration_set is None


def test_send_step_reads_in_the_borrowers_language_else_the_lenders_default() -> None:
    spanish = make_world(SETTINGS, locale="es-US")
    spanish.sender().step(spanish.state())
    french = make_world(SETTINGS, locale="fr-US")  # no fr-US templates: the lender's en-US
    french.sender().step(french.state())

    assert "STOP" in french.sms[0][1].body and "Jane" in french.sms[0][1].body
    assert spanish.sms[0][1].body != french.sms[0][1].body


# -- what the gate is told -----------------------------------------------------------------


def test_send_step_text_to_a_number_another_account_texted_today_waits(world: World) -> None:
    # Given the same phone number was texted two hours ago about another account
    world.sent_earlier("demo#D-2#2026-11-20", 0, Channel.SMS, due(0) - timedelta(hours=2))

    step = world.sender().step(world.state())

    assert world.sms == []
    assert [(r.decision, r.reason) for r in step.records] == [
        (Decision.DEFERRED, "cap_address_per_day")
    ]
    assert step.records[0].deferred_until == step.state.next_instant > due(0)


def test_send_step_fourth_contact_in_a_week_in_washington_waits(world: World) -> None:
    # Given three contacts on this ladder in the past week, on either channel (RCW 19.16.250)
    key = world.account.ladder_key
    for rung, (channel, days) in enumerate(
        [(Channel.EMAIL, 6), (Channel.SMS, 4), (Channel.EMAIL, 2)]
    ):
        world.sent_earlier(key, 10 + rung, channel, due(0) - timedelta(days=days))

    step = world.sender().step(world.state())

    assert world.sms == []
    assert (step.records[0].reason, step.records[0].rule) == (
        "cap_ladder_per_7_days",
        "frequency_cap",
    )
    assert step.records[0].deferred_until == due(0) - timedelta(days=6) + timedelta(days=7)


def test_send_step_second_text_on_one_local_day_waits(world: World) -> None:
    world.sent_earlier(world.account.ladder_key, 9, Channel.SMS, due(0) - timedelta(hours=1))

    step = world.sender().step(world.state())

    assert (step.records[0].decision, step.records[0].reason) == (
        Decision.DEFERRED,
        "cap_channel_per_day",
    )


def test_send_step_email_this_morning_does_not_hold_todays_text(world: World) -> None:
    world.sent_earlier(world.account.ladder_key, 9, Channel.EMAIL, due(0) - timedelta(hours=1))

    step = world.sender().step(world.state())

    assert [r.decision for r in step.records] == [Decision.SENT]


# -- a STOP, a payment or a cease request landing between the gate and the provider --------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (AccountStatus.CEASE, "status_cease"),
        (AccountStatus.PAID, "status_paid"),
        (AccountStatus.PAYMENT_CLAIMED, "status_payment_claimed"),
    ],
)
def test_send_step_status_change_after_the_gate_stops_the_message(
    world: World, status: AccountStatus, reason: str
) -> None:
    world.claim_then(
        lambda entry: world.services.accounts.set_status("demo", "D-1", status, world.clock.now())
    )

    step = world.sender().step(world.state())

    assert world.sms == []
    assert [(r.decision, r.reason, r.rule) for r in step.records] == [
        (Decision.SUPPRESSED, reason, "recheck")
    ]
    entry = world.services.ledger.get(world.account.ladder_key, 0, Channel.SMS)
    assert entry is not None and entry.state is Decision.SUPPRESSED
    assert step.state.rung == 1


def test_send_step_ladder_resumed_after_a_payment_claim_hold_still_sends() -> None:
    # Given a payment claimed ten days ago that no payments file confirmed (hold: 5 days)
    world = make_world(
        SETTINGS,
        status=AccountStatus.PAYMENT_CLAIMED,
        status_changed_at=due(0) - timedelta(days=10),
    )

    step = world.sender().step(world.state())

    # Then the unchanged status is no late reason to stop: the reminder goes out
    assert [r.decision for r in step.records] == [Decision.SENT]
    assert len(world.sms) == 1


# -- the audit trail a regulator reads -----------------------------------------------------


def test_send_step_sent_record_names_rule_profile_and_template_version(world: World) -> None:
    step = world.sender().step(world.state())

    (record,) = step.records
    approved = world.services.templates.newest_approved("reminder_day1", Channel.SMS, "en-US")
    assert approved is not None
    assert (record.rule, record.profile, record.profile_version) == (
        "allowed",
        "US-WA",
        BOOK.version,
    )
    assert (record.template_id, record.template_version) == ("reminder_day1", approved.version)
    assert record.at_local == due(0).astimezone(SEATTLE).isoformat()
    assert (record.lender_id, record.account_id, record.cycle) == ("demo", "D-1", DUE.isoformat())
    assert PHONE not in record.address_masked and record.address_masked


def test_send_step_deferred_record_says_until_when_and_under_which_rule(world: World) -> None:
    night = datetime(2026, 11, 3, 23, 30, tzinfo=SEATTLE)
    world.clock.set(night)

    step = world.sender().step(world.state())

    (record,) = step.records
    morning = datetime(2026, 11, 4, 8, 0, tzinfo=SEATTLE)
    assert (record.decision, record.rule, record.reason) == (
        Decision.DEFERRED,
        "quiet_hours",
        "quiet_hours",
    )
    assert record.deferred_until == morning
    assert record.at_local == night.isoformat()
    assert record.profile == "US-WA" and record.template_version


def test_send_step_paused_channel_record_names_the_pause(world: World) -> None:
    world.services.channels.pause(
        ChannelPause(channel=Channel.SMS, reason="manual", at=world.clock.now(), by="ops")
    )
    step = world.sender().step(world.state())
    (record,) = step.records
    assert (record.decision, record.reason, record.rule) == (
        Decision.DEFERRED,
        "channel_paused",
        "channel_pause",
    )
    assert record.deferred_until == due(0) + timedelta(hours=6)
    assert step.state.deferred and step.state.rung == 0


def test_send_step_provider_refusal_and_lost_response_name_their_rule(world: World) -> None:
    from functions.core.errors import PermanentSendError, UncertainSendError

    world.services.sms.fail_next(PermanentSendError("opted_out_at_carrier"))  # type: ignore[attr-defined]
    refused = world.sender().step(world.state()).records[0]
    assert (refused.rule, refused.reason) == ("provider", "provider_rejected:opted_out_at_carrier")
    entry = world.services.ledger.get(world.account.ladder_key, 0, Channel.SMS)
    assert entry is not None and entry.state is Decision.SUPPRESSED

    other = make_world(SETTINGS)
    other.services.sms.fail_next(UncertainSendError("read timeout"))  # type: ignore[attr-defined]
    lost = other.sender().step(other.state()).records[0]
    assert (lost.decision, lost.rule, lost.reason) == (
        Decision.UNCERTAIN,
        "at_most_once",
        "provider_outcome_unknown",
    )


def test_send_step_email_that_cannot_carry_an_unsubscribe_link_is_not_sent() -> None:
    # Given no unsubscribe endpoint is configured: an email could not offer the opt-out
    world = make_world(Settings(config_root=PROJECT_ROOT))
    world.clock.set(due(1))

    step = world.sender().step(world.state(rung=1))

    (record,) = step.records
    assert record.decision is Decision.SUPPRESSED and record.rule == "render"
    assert record.reason.startswith("render_failed:") and len(record.reason) > len("render_failed:")
    assert world.emails == []
    # Nothing was claimed: no attempt exists for the at-most-once ledger to guard
    assert world.services.ledger.get(world.account.ladder_key, 1, Channel.EMAIL) is None
    assert step.state.rung == 2


# -- at most once, when invocations race or fail -------------------------------------------


def test_send_step_losing_a_claim_race_to_an_unfinished_attempt_records_nothing(
    world: World,
) -> None:
    # The other invocation owns the outcome (should it die, the ladder's retry finds its claim
    # open and records UNCERTAIN); a record here would count a second attempt.
    ledger = world.services.ledger
    real_claim = ledger.claim

    def other_invocation_first(entry: LedgerEntry) -> bool:
        real_claim(entry)  # the other invocation claims, and has not finished
        return real_claim(entry)

    ledger.claim = other_invocation_first  # type: ignore[method-assign]
    step = world.sender().step(world.state())

    assert world.sms == []
    assert step.records == []
    assert step.state.rung == 1


def test_send_step_before_the_rung_is_due_only_waits(world: World) -> None:
    world.clock.set(due(0) - timedelta(hours=1))

    step = world.sender().step(world.state())

    assert step.records == [] and world.sms == []
    assert (step.state.rung, step.state.next_instant, step.state.deferred, step.state.done) == (
        0,
        due(0),
        False,
        False,
    )


def test_send_step_last_rung_of_a_disputed_account_keeps_its_status() -> None:
    # Given a disputed account whose last rung comes up: it is suppressed, and the account
    # is not closed (closing would start deleting a disputed file's data)
    world = make_world(SETTINGS, status=AccountStatus.DISPUTED)
    last = len(LADDER.rungs) - 1
    world.clock.set(due(last))

    step = world.sender().step(world.state(rung=last))

    assert step.state.done and step.state.rung == len(LADDER.rungs)
    assert step.state.next_instant == due(last)
    account = world.services.accounts.get("demo", "D-1")
    assert account is not None and account.status is AccountStatus.DISPUTED


# -- the lender's own configuration ----------------------------------------------------------


def lender_world(tmp_path: Path, **lender_changes: object) -> World:
    """A world whose demo lender differs from the shipped one only by `lender_changes`."""
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    shutil.copytree(PROJECT_ROOT / "ladders", tmp_path / "ladders")
    path = tmp_path / "config" / "lenders" / "demo.yaml"
    lender = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**lender, **lender_changes}), encoding="utf-8")
    settings = SETTINGS.model_copy(update={"config_root": tmp_path})
    return make_world(settings)


def test_send_step_payment_claim_hold_is_the_lenders_not_a_default(tmp_path: Path) -> None:
    # Given a lender who holds a claimed payment for 2 days, and a claim 3 days ago
    world = lender_world(tmp_path, payment_claim_hold_days=2)
    world.services.accounts.set_status(
        "demo", "D-1", AccountStatus.PAYMENT_CLAIMED, due(0) - timedelta(days=3)
    )

    step = world.sender().step(world.state())

    # Then the hold is over and the reminder goes out
    assert [r.decision for r in step.records] == [Decision.SENT]


def test_send_step_lenders_own_email_configuration_set_wins(tmp_path: Path) -> None:
    world = lender_world(tmp_path, ses_configuration_set="demo-events")
    world.clock.set(due(1))
    world.sender().step(world.state(rung=1))
    assert world.emails[0][1].configuration_set == "demo-events"


# -- the rest of the ladder's bookkeeping ----------------------------------------------------


def test_send_step_stop_all_by_email_also_stops_the_texts(world: World) -> None:
    # Given the borrower unsubscribed from everything from her email address
    world.services.suppressions.put(
        Suppression(
            channel=Channel.EMAIL,
            address=EMAIL,
            scope=SuppressionScope.ALL,
            source=SuppressionSource.REPLY,
            at=world.clock.now(),
        )
    )

    step = world.sender().step(world.state())

    assert world.sms == []
    assert (step.records[0].decision, step.records[0].reason) == (Decision.SUPPRESSED, "opted_out")


def test_send_step_for_an_account_no_longer_on_file_ends_quietly(world: World) -> None:
    gone = world.state().model_copy(update={"account_id": "D-404"})
    step = world.sender().step(gone)
    assert step.state.done and step.records == [] and world.sms == []


def test_send_step_file_arriving_after_the_ladder_records_each_missed_rung_then_closes(
    world: World,
) -> None:
    # Given the file arrives two months after the last rung fell due
    late = due(len(LADDER.rungs) - 1) + timedelta(days=60)
    world.clock.set(late)

    step = world.sender().step(world.state())

    # Then every earlier rung is recorded as missed, only the newest one goes out
    *missed, final = step.records
    assert [(r.rung, r.channel, r.template_id, r.reason, r.rule) for r in missed] == [
        (i, rung.channel, rung.template, "missed_before_upload", "catch_up")
        for i, rung in enumerate(LADDER.rungs[:-1])
    ]
    assert all(r.at_local == late.astimezone(SEATTLE).isoformat() for r in missed)
    assert (final.rung, final.decision) == (len(LADDER.rungs) - 1, Decision.SENT)
    assert world.sms == [] and len(world.emails) == 1
    # And the ladder is over: the account closes
    assert step.state.done and step.state.rung == len(LADDER.rungs)
    account = world.services.accounts.get("demo", "D-1")
    assert account is not None and account.status is AccountStatus.COMPLETED


def test_send_step_claim_records_when_and_to_whom_before_the_call(world: World) -> None:
    claimed: list[LedgerEntry] = []
    world.claim_then(claimed.append)

    world.sender().step(world.state())

    (entry,) = claimed
    assert (entry.rung, entry.channel, entry.address, entry.attempted_at) == (
        0,
        Channel.SMS,
        PHONE,
        due(0),
    )
    assert entry.ladder_key == world.account.ladder_key


# -- the borrower's own zone in every record and every wait ----------------------------------


def test_send_step_deferred_rung_is_still_sent_until_the_next_rung_is_due_locally(
    world: World,
) -> None:
    # Given rung 0 was deferred, and it is now an hour before rung 1 falls due in Seattle
    # (long past that hour in UTC)
    world.clock.set(due(1) - timedelta(hours=1))
    state = world.state().model_copy(update={"deferred": True})

    step = world.sender().step(state)

    # Then rung 0 is still the one due: it goes out, it is not written off
    assert [(r.rung, r.decision) for r in step.records] == [(0, Decision.SENT)]


def test_send_step_deferred_rung_expires_the_instant_the_next_rung_is_due(world: World) -> None:
    world.clock.set(due(1))
    state = world.state().model_copy(update={"deferred": True})

    step = world.sender().step(state)

    assert (step.records[0].rung, step.records[0].reason) == (0, "expired_after_deferral")


def test_send_step_state_past_the_last_rung_ends_the_ladder_without_sending(
    world: World,
) -> None:
    # Given a running ladder whose lender has since shortened the ladder past its position
    world.clock.set(due(2))
    past_the_end = world.state(rung=len(LADDER.rungs))

    step = world.sender().step(past_the_end)

    assert step.records == [] and world.sms == [] and world.emails == []
    assert step.state.done and step.state.rung == len(LADDER.rungs)
    assert step.state.next_instant == due(2) and not step.state.deferred
    account = world.services.accounts.get("demo", "D-1")
    assert account is not None and account.status is AccountStatus.COMPLETED


def test_send_step_next_rung_after_a_send_or_a_suppression_is_not_marked_deferred(
    world: World,
) -> None:
    sent = world.sender().step(world.state())
    assert sent.state.deferred is False and sent.state.next_instant == due(1)

    stopped = make_world(SETTINGS)
    stopped.services.suppressions.put(
        Suppression(
            channel=Channel.SMS,
            address=PHONE,
            source=SuppressionSource.REPLY,
            at=stopped.clock.now(),
        )
    )
    suppressed = stopped.sender().step(stopped.state())
    assert suppressed.records[0].decision is Decision.SUPPRESSED
    assert suppressed.state.deferred is False and suppressed.state.next_instant == due(1)


def test_send_step_opt_out_known_to_the_gate_is_never_claimed(world: World) -> None:
    world.services.suppressions.put(
        Suppression(channel=Channel.SMS, address=PHONE, source=SuppressionSource.REPLY, at=due(0))
    )

    step = world.sender().step(world.state())

    assert (step.records[0].rule, step.records[0].reason) == ("suppression", "opted_out")
    assert world.services.ledger.get(world.account.ladder_key, 0, Channel.SMS) is None


def test_send_step_records_local_time_in_the_zone_that_decided() -> None:
    # Given a New York address and a Seattle mobile: rungs are scheduled in New York, but the
    # 10:00 New York rung is 07:00 in Seattle
    world = make_world(SETTINGS, state="NY", timezone=None)
    ny = ZoneInfo("America/New_York")
    world.clock.set(LADDER.due_at(0, DUE, ny))

    step = world.sender().step(world.state())

    (record,) = step.records
    assert (record.decision, record.reason) == (Decision.DEFERRED, "quiet_hours")
    assert record.at_local == LADDER.due_at(0, DUE, ny).astimezone(SEATTLE).isoformat()


def test_send_step_without_any_zone_schedules_in_utc_and_suppresses() -> None:
    # Given a number with no zone (+800), no address and no lender zone
    world = make_world(SETTINGS, phone="+80012345678", state=None, country=None, timezone=None)
    due_utc = LADDER.due_at(0, DUE, ZoneInfo("UTC"))
    world.clock.set(due_utc)

    step = world.sender().step(world.state())

    (record,) = step.records
    assert (record.decision, record.reason) == (Decision.SUPPRESSED, "no_timezone")
    assert record.at_local == ""  # no zone: no local time can be claimed
    assert step.state.next_instant == LADDER.due_at(1, DUE, ZoneInfo("UTC"))


def test_send_step_records_of_a_repeated_or_paused_rung_keep_the_local_time(
    world: World,
) -> None:
    local = due(0).astimezone(SEATTLE).isoformat()
    # A rung claimed by an invocation that crashed: the next invocation records UNCERTAIN
    world.services.ledger.claim(
        LedgerEntry(
            ladder_key=world.account.ladder_key,
            rung=0,
            channel=Channel.SMS,
            attempted_at=due(0),
            address=PHONE,
        )
    )
    repeated = world.sender().step(world.state()).records[0]
    assert (repeated.decision, repeated.at_local) == (Decision.UNCERTAIN, local)

    paused = make_world(SETTINGS)
    paused.services.channels.pause(
        ChannelPause(channel=Channel.SMS, reason="manual", at=due(0), by="ops")
    )
    held = paused.sender().step(paused.state()).records[0]
    assert (held.decision, held.at_local) == (Decision.DEFERRED, local)


def test_send_step_audit_masks_the_address_of_the_rungs_own_channel(world: World) -> None:
    sms = world.sender().step(world.state()).records[0]
    world.clock.set(due(1))
    email = world.sender().step(world.state(rung=1)).records[0]
    assert sms.address_masked == mask_address(PHONE)
    assert email.address_masked == mask_address(EMAIL)
    assert sms.address_masked != email.address_masked


def test_send_step_rung_without_an_approved_template_records_no_version() -> None:
    world = make_world(SETTINGS)
    bare = memory_services(SETTINGS, world.clock, accounts=world.services.accounts)
    step = RungSender.from_services(bare).step(world.state())
    (record,) = step.records
    assert (record.reason, record.template_version) == ("template_not_approved", "")
