"""The optout and unsubscribe Lambdas end to end, on the AWS event shapes of tests/fixtures/aws.

Most tests run the real handlers with the in-memory adapters; the last ones run them on moto
with the DynamoDB adapters and Secrets Manager (docs/compliance.md, Opt-out and consent;
docs/design.md, Provider events; user stories 4–8).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from functions.adapters.dynamo import (
    DynamoAccountStore,
    DynamoDecisionLog,
    DynamoInboundLog,
    DynamoReviewQueue,
    DynamoSuppressionStore,
)
from functions.adapters.secrets import signing_key
from functions.bootstrap import Services
from functions.bootstrap import memory_services as bare_memory_services
from functions.core.clock import FixedClock
from functions.core.errors import TransientSendError
from functions.core.ladder import execution_name
from functions.core.masking import mask_phone
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    Decision,
    LedgerEntry,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.policy import suppressed_by
from functions.core.unsubscribe import make_unsubscribe_url
from functions.observability import metrics
from functions.optout import handler as optout
from functions.optout import unsubscribe
from functions.settings import PROJECT_ROOT, Settings
from rung.access.checked import checked_calls
from rung.access.enforcer import AccessEnforcer
from rung.access.stack import HANDLERS
from tests.integration.test_port_contracts import TABLES, create_tables

T = TypeVar("T")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws"
NOW = datetime(2026, 12, 3, 15, 5, tzinfo=UTC)
PHONE = "+14155550123"
EMAIL = "jane.doe@example.com"
OUR_NUMBER = "+18005550100"  # the demo lender's sms_origination
KEY = b"unsubscribe-test-key-0123456789abcdef"


@dataclass
class Context:
    function_name: str = "rung-optout"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:rung-optout"
    aws_request_id: str = "req-1"


def account(
    account_id: str = "A-1",
    *,
    phone: str | None = PHONE,
    email: str | None = EMAIL,
    locale: str = "en-US",
) -> Account:
    return Account(
        lender_id="demo",
        account_id=account_id,
        phone=phone,
        email=email,
        amount_due=Decimal("120.00"),
        currency="USD",
        due_date=date(2026, 11, 30),
        locale=locale,
        cycle="2026-11-30",
    )


def memory_services(*accounts: Account, settings: Settings | None = None) -> Services:
    services = bare_memory_services(
        settings or Settings(config_root=PROJECT_ROOT, ses_configuration_set="rung"),
        FixedClock(NOW),
    )
    services.accounts.put_many(accounts)
    for a in accounts:
        services.ladders.start(execution_name(a.lender_id, a.account_id, a.cycle), "{}")
    return services


def must(value: T | None) -> T:
    assert value is not None
    return value


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sms_event(
    body: str, message_id: str = "in-1", *, sender: str = PHONE, at: datetime = NOW
) -> dict[str, Any]:
    """The SNS fixture with another body / id / sender: the exact AWS shape, other content."""
    event = fixture("sns_inbound_sms_stop.json")
    record = event["Records"][0]["Sns"]
    message = json.loads(record["Message"])
    message.update(messageBody=body, inboundMessageId=message_id, originationNumber=sender)
    record.update(
        Message=json.dumps(message, ensure_ascii=False),
        MessageId=f"sns-{message_id}",
        Timestamp=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )
    return event


def run(services: Services, event: dict[str, Any]) -> dict[str, int]:
    return optout.handler(event, Context(), services=services)


def sent_sms(services: Services) -> list[Any]:
    return [m for _, m in services.sms.sent]  # type: ignore[attr-defined]


def sent_email(services: Services) -> list[Any]:
    return [m for _, m in services.email.sent]  # type: ignore[attr-defined]


def ladder(services: Services, account_id: str = "A-1") -> bool:
    """Whether the account's ladder execution is still running."""
    name = execution_name("demo", account_id, "2026-11-30")
    return name in services.ladders.running  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def metrics_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stack sets POWERTOOLS_METRICS_NAMESPACE; here the handlers' Metrics get one directly.
    monkeypatch.setattr(metrics, "namespace", "RungTest")
    # `rung simulate` run in this process before turns metrics off for the process.
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


# --- SMS replies ------------------------------------------------------------------------------


def test_optout_sms_fixture_suppresses_channel_and_confirms_once() -> None:
    # Given an active account with a phone and an email
    services = memory_services(account())
    event = fixture("sns_inbound_sms_stop.json")  # "Stop texting me please"
    # When the inbound SMS arrives, and SNS delivers it a second time
    run(services, event)
    run(services, copy.deepcopy(event))
    # Then texts to this borrower are suppressed (channel scope), from the SNS timestamp
    held = services.suppressions.get(Channel.SMS, PHONE)
    assert held is not None
    assert (held.scope, held.source, held.at) == (
        SuppressionScope.CHANNEL,
        SuppressionSource.REPLY,
        datetime(2026, 12, 3, 15, 4, 5, 123000, tzinfo=UTC),
    )
    # And exactly one confirmation went back to the number that wrote, from our number
    [confirmation] = sent_sms(services)
    assert (confirmation.to, confirmation.origination) == (PHONE, OUR_NUMBER)
    assert confirmation.body.startswith("Demo Finance: You are unsubscribed")
    # And the ladder keeps running: email is still an open channel
    assert ladder(services)


def test_optout_second_stop_from_suppressed_number_gets_no_second_confirmation() -> None:
    services = memory_services(account())
    run(services, sms_event("STOP", "in-1"))
    # When the borrower sends STOP again (a new message, not a redelivery)
    run(services, sms_event("STOP!!", "in-2"))
    # Then nothing more is sent: one confirmation, nothing after (docs/compliance.md)
    assert len(sent_sms(services)) == 1


def test_optout_stop_all_stops_ladder_and_start_lifts_both_channels() -> None:
    services = memory_services(account())
    # When the borrower asks to stop everything
    run(services, sms_event("stop all", "in-1"))
    # Then both addresses are suppressed for every channel and the ladder is stopped
    assert must(services.suppressions.get(Channel.SMS, PHONE)).scope is SuppressionScope.ALL
    spread = services.suppressions.get(Channel.EMAIL, EMAIL)
    assert spread is not None and spread.scope is SuppressionScope.ALL
    assert not ladder(services)
    assert "all our messages" in sent_sms(services)[0].body
    # When they later text START
    run(services, sms_event("START", "in-2", at=NOW + timedelta(days=1)))
    # Then what their opt-out wrote is lifted, and one opt-in confirmation goes out
    assert services.suppressions.get(Channel.SMS, PHONE) is None
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None
    assert [m.body.split(":")[1].strip()[:16] for m in sent_sms(services)] == [
        "You are unsubscr",
        "You are resubscr",
    ]


def test_optout_start_also_lifts_the_providers_own_opt_out_list() -> None:
    services = memory_services(account())
    # Given a STOP, which AWS also records on its own SMS opt-out list
    run(services, sms_event("STOP", "in-1"))
    services.sms.opted_out.add(PHONE)  # type: ignore[attr-defined]
    # When the borrower texts START
    run(services, sms_event("START", "in-2", at=NOW + timedelta(days=1)))
    # Then the provider's list is lifted too, so the next reminder is not refused
    assert PHONE not in services.sms.opted_out  # type: ignore[attr-defined]
    assert services.suppressions.get(Channel.SMS, PHONE) is None


def test_optout_start_never_lifts_a_bounce_or_lender_suppression() -> None:
    services = memory_services(account())
    services.suppressions.put(
        Suppression(channel=Channel.SMS, address=PHONE, source=SuppressionSource.LENDER, at=NOW)
    )
    run(services, sms_event("START", "in-1"))
    assert must(services.suppressions.get(Channel.SMS, PHONE)).source is SuppressionSource.LENDER
    assert sent_sms(services) == []


def test_optout_start_published_before_the_stop_lifts_nothing() -> None:
    # Given a STOP, and a START that SNS delivers late although it was sent earlier
    services = memory_services(account())
    run(services, sms_event("STOP", "in-2", at=NOW))
    run(services, sms_event("START", "in-1", at=NOW - timedelta(minutes=1)))
    # Then the later STOP stands
    assert services.suppressions.get(Channel.SMS, PHONE) is not None


def test_optout_yes_without_opt_out_is_logged_masked_for_ops(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    services = memory_services(account())
    # When a borrower who never opted out writes "yes, call me at +1 415 555 0199"
    run(services, sms_event("yes, call me at +1 415 555 0199", "in-1"))
    # Then nothing changes and nothing is sent
    assert services.suppressions.get(Channel.SMS, PHONE) is None and sent_sms(services) == []
    # And ops see it in the log with numbers masked
    [entry] = [r for r in caplog.records if r.getMessage() == "reply not understood"]
    assert entry.addresses == [mask_phone(PHONE)]  # type: ignore[attr-defined]
    assert entry.text_redacted == "yes, call me at +1******0199"  # type: ignore[attr-defined]
    assert not any(
        PHONE in str(v) or "555 0199" in str(v) for r in caplog.records for v in r.__dict__.values()
    )
    # And it is counted in a metric (EMF on stdout)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get("ReplyOther") for m in emf] == [[1.0]]  # Powertools lists the values


def test_optout_help_answers_with_company_and_support_even_if_opted_out() -> None:
    services = memory_services(account())
    run(services, sms_event("STOP", "in-1"))
    run(services, sms_event("HELP", "in-2"))
    help_reply = sent_sms(services)[-1]
    assert "Demo Finance" in help_reply.body and "+1 800 555 0100" in help_reply.body
    assert "help@demo-finance.example" in help_reply.body


def test_optout_help_redelivered_is_answered_once_but_every_new_help_is_answered() -> None:
    # Given HELP delivered twice by SNS (same inbound id), then a new HELP the next day
    services = memory_services(account())
    run(services, sms_event("HELP", "in-1"))
    run(services, sms_event("HELP", "in-1"))
    assert len(sent_sms(services)) == 1
    run(services, sms_event("help", "in-2", at=NOW + timedelta(days=1)))
    # Then one answer per message the borrower actually sent
    assert len(sent_sms(services)) == 2


def test_optout_paid_claims_payment_and_confirms_once() -> None:
    services = memory_services(account())
    run(services, sms_event("I paid yesterday", "in-1"))
    run(services, sms_event("PAID", "in-2"))
    stored = must(services.accounts.get("demo", "A-1"))
    assert stored.status is AccountStatus.PAYMENT_CLAIMED and stored.status_changed_at is not None
    assert len(sent_sms(services)) == 1
    assert ladder(services)  # the gate holds the ladder for the claim's hold days


def test_optout_stop_with_payment_claim_suppresses_records_claim_one_reply() -> None:
    services = memory_services(account())
    run(services, sms_event("STOP I already paid", "in-1"))
    assert services.suppressions.get(Channel.SMS, PHONE) is not None
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.PAYMENT_CLAIMED
    [reply] = sent_sms(services)
    assert "unsubscribed" in reply.body


def test_optout_claim_never_overrides_a_blocking_status() -> None:
    services = memory_services(account().model_copy(update={"status": AccountStatus.DISPUTED}))
    run(services, sms_event("paid", "in-1"))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.DISPUTED
    assert sent_sms(services) == []


def test_optout_wrong_number_stops_that_number_and_start_cannot_undo_it() -> None:
    services = memory_services(account(email=None))
    run(services, sms_event("wrong number", "in-1"))
    held = must(services.suppressions.get(Channel.SMS, PHONE))
    assert (held.source, held.scope) == (SuppressionSource.WRONG_NUMBER, SuppressionScope.ADDRESS)
    assert not ladder(services)  # no channel left for this account
    assert sent_sms(services)[0].body == (
        "Demo Finance: Thank you. We will not send further messages to this number."
    )
    run(services, sms_event("START", "in-2"))
    assert services.suppressions.get(Channel.SMS, PHONE) is not None


def test_optout_chinese_reply_confirms_in_chinese_with_signature() -> None:
    services = memory_services(account(locale="zh-CN", email=None))
    run(services, sms_event("不要再发了", "in-1"))
    [reply] = sent_sms(services)
    assert reply.body.startswith("【Demo Finance】")
    assert not ladder(services)


def test_optout_stop_reaches_every_account_with_that_number() -> None:
    services = memory_services(account("A-1", email=None), account("A-2", email=None))
    run(services, sms_event("STOP", "in-1"))
    assert not ladder(services, "A-1") and not ladder(services, "A-2")
    assert len(sent_sms(services)) == 1


def test_optout_stop_from_unknown_number_is_honoured_and_confirmed() -> None:
    # Given a number with no account (someone forwarded our text, or an old borrower)
    services = memory_services()
    run(services, sms_event("STOP", "in-1", sender="+14155550999"))
    assert services.suppressions.get(Channel.SMS, "+14155550999") is not None
    [reply] = sent_sms(services)  # the lender is found by the number the borrower wrote to
    assert reply.to == "+14155550999" and "Demo Finance" in reply.body


def test_optout_confirmation_failure_keeps_the_opt_out_and_never_retries() -> None:
    services = memory_services(account())
    services.sms.fail_next(TransientSendError("throttled"))  # type: ignore[attr-defined]
    run(services, sms_event("STOP", "in-1"))
    run(services, sms_event("STOP", "in-1"))  # SNS redelivery
    assert services.suppressions.get(Channel.SMS, PHONE) is not None
    assert sent_sms(services) == []


def test_optout_bad_record_does_not_block_the_rest_of_the_batch() -> None:
    # Given one event with an unreadable record, a record from a malformed number, and a STOP
    services = memory_services(account())
    event = sms_event("STOP", "in-3")
    good = event["Records"][0]
    garbage = copy.deepcopy(good)
    garbage["Sns"].update(MessageId="sns-bad-json", Message="{not json")
    bad_number = copy.deepcopy(sms_event("STOP", "in-4", sender="+1415555")["Records"][0])
    bad_number["Sns"]["MessageId"] = "sns-bad-number"
    event["Records"] = [garbage, bad_number, good]
    # When it is handled, Then it raises naming both bad records, without the number itself
    with pytest.raises(optout.InboundBatchFailed) as caught:
        run(services, event)
    assert set(caught.value.failed) == {"sns-bad-json", "sns-bad-number"}
    assert "+1415555" not in str(caught.value)
    assert "originationNumber" in caught.value.failed["sns-bad-number"]
    # And the good record was processed anyway
    assert services.suppressions.get(Channel.SMS, PHONE) is not None


def test_optout_event_that_is_not_sns_is_rejected() -> None:
    with pytest.raises(optout.EventRejected, match="Records"):
        run(memory_services(), {"detail-type": "Scheduled Event"})


def test_stop_between_two_sends_prevents_the_next_sms() -> None:
    """User story 4: a STOP must stop the next send, verifiably — the gate's own rule sees it."""
    services = memory_services(account())

    def held() -> tuple[Suppression, ...]:
        return tuple(
            s
            for s in (
                services.suppressions.get(Channel.SMS, PHONE),
                services.suppressions.get(Channel.EMAIL, EMAIL),
            )
            if s
        )

    # Given the day-1 SMS could go out (nothing suppressed)
    assert suppressed_by(held(), Channel.SMS, PHONE) is None
    # When STOP is processed before the day-7 SMS
    run(services, sms_event("STOP", "in-1"))
    # Then the gate's suppression check forbids that SMS, and still allows the email rung
    blocking = suppressed_by(held(), Channel.SMS, PHONE)
    assert blocking is not None and blocking.source is SuppressionSource.REPLY
    assert suppressed_by(held(), Channel.EMAIL, EMAIL) is None


# --- SES feedback -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ses_bounce_permanent.json", "ses_event_bounce.json"])
def test_optout_permanent_bounce_suppresses_every_recipient(name: str) -> None:
    services = memory_services(account(phone=None))
    run(services, fixture(name))
    for address in (EMAIL, "old.address@example.org"):
        held = services.suppressions.get(Channel.EMAIL, address)
        assert held is not None and held.source is SuppressionSource.BOUNCE
    assert not ladder(services)  # email was this account's only channel


def test_optout_permanent_bounce_hardens_a_reply_opt_out() -> None:
    services = memory_services(account(phone=None))
    services.suppressions.put(
        Suppression(channel=Channel.EMAIL, address=EMAIL, source=SuppressionSource.REPLY, at=NOW)
    )
    run(services, fixture("ses_bounce_permanent.json"))
    assert must(services.suppressions.get(Channel.EMAIL, EMAIL)).source is SuppressionSource.BOUNCE


def test_optout_transient_bounce_only_counts() -> None:
    services = memory_services(account(phone=None))
    run(services, fixture("ses_bounce_transient.json"))
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None and ladder(services)


@pytest.mark.parametrize("name", ["ses_complaint.json", "ses_event_complaint.json"])
def test_optout_complaint_suppresses_the_address(name: str) -> None:
    services = memory_services(account())
    run(services, fixture(name))
    assert (
        must(services.suppressions.get(Channel.EMAIL, EMAIL)).source is SuppressionSource.COMPLAINT
    )
    assert ladder(services)  # SMS is still open


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("ses_delivery.json", "EmailDelivered"),
        ("ses_event_open.json", "SesOtherEvent"),
        ("sms_delivery_event.json", "SmsDeliveryEvent"),
    ],
)
def test_optout_delivery_events_are_counted_and_change_nothing(
    name: str, metric: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    services = memory_services(account())
    assert run(services, fixture(name)) == {"processed": 1}
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None
    assert services.suppressions.get(Channel.SMS, PHONE) is None
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m.get(metric) for m in emf] == [[1.0]]
    assert PHONE not in caplog.text and EMAIL not in caplog.text


@pytest.mark.parametrize(
    ("name", "channel", "provider_id", "status"),
    [
        (
            "sms_delivery_event.json",
            Channel.SMS,
            "d3a5c4e1-6f2b-4c8a-9d1e-7b0f2a3c4d5e",
            "DELIVERED",
        ),
        (
            "ses_delivery.json",
            Channel.EMAIL,
            "0100018d2f3c4b5a-11111111-2222-3333-4444-555555555555-000000",
            "DELIVERED",
        ),
        ("ses_bounce_permanent.json", Channel.EMAIL, None, "BOUNCE_PERMANENT"),
    ],
)
def test_optout_receipt_is_noted_on_the_ledger_entry_of_its_send(
    name: str, channel: Channel, provider_id: str | None, status: str
) -> None:

    # Given the reminder that the provider's receipt answers
    event = fixture(name)
    if provider_id is None:  # the bounce names the SES message id inside its notification
        provider_id = json.loads(event["Records"][0]["Sns"]["Message"])["mail"]["messageId"]
    services = memory_services(account())
    key = "demo#A-1#2026-11-30"
    services.ledger.claim(
        LedgerEntry(
            ladder_key=key,
            rung=0,
            channel=channel,
            attempted_at=NOW,
            address=PHONE if channel is Channel.SMS else EMAIL,
        )
    )
    services.ledger.complete(key, 0, channel, Decision.SENT, provider_id)

    # When the receipt arrives
    run(services, event)

    # Then the ledger entry carries it; the decision stays SENT
    entry = must(services.ledger.get(key, 0, channel))
    assert (entry.state, entry.delivery) == (Decision.SENT, status)
    assert entry.delivery_at is not None


def test_optout_email_reply_reads_new_text_only_and_answers_in_thread() -> None:
    services = memory_services(account())
    # Given the fixture: "I already paid. Please stop emailing me." above a quoted reminder
    run(services, fixture("ses_received.json"))
    held = services.suppressions.get(Channel.EMAIL, EMAIL)  # From: Jane.Doe@Example.com
    assert held is not None and held.scope is SuppressionScope.CHANNEL
    assert services.suppressions.get(Channel.SMS, PHONE) is None
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.PAYMENT_CLAIMED
    [reply] = sent_email(services)
    assert (reply.to, reply.subject) == (EMAIL, "You are unsubscribed")
    assert reply.origination == "Demo Finance <reminders@demo-finance.example>"
    assert reply.headers["In-Reply-To"] == "<CAFx1=abc123@mail.example.com>"
    assert reply.configuration_set == "rung"
    assert sent_sms(services) == []  # never on a channel the borrower did not write on


def test_optout_unauthenticated_email_cannot_opt_in() -> None:
    services = memory_services(account())
    services.suppressions.put(
        Suppression(
            channel=Channel.EMAIL,
            address=EMAIL,
            source=SuppressionSource.REPLY,
            at=NOW - timedelta(1),
        )
    )
    event = fixture("ses_received.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["content"] = message["content"].replace(
        "I already paid. Please stop emailing me.", "START"
    )
    for verdict in ("spfVerdict", "dkimVerdict", "dmarcVerdict"):
        message["receipt"][verdict] = {"status": "FAIL"}
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    run(services, event)
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is not None
    assert sent_email(services) == []


def email_event(text: str, *, authenticated: bool = True) -> dict[str, Any]:
    """The SES receipt fixture with another reply text (and, if asked, failed SPF, DKIM and
    DMARC)."""
    event = fixture("ses_received.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["content"] = message["content"].replace(
        "I already paid. Please stop emailing me.", text
    )
    if not authenticated:
        for verdict in ("spfVerdict", "dkimVerdict", "dmarcVerdict"):
            message["receipt"][verdict] = {"status": "FAIL"}
    event["Records"][0]["Sns"]["Message"] = json.dumps(message, ensure_ascii=False)
    return event


def events(services: Services, address: str = PHONE, channel: Channel = Channel.SMS) -> list[str]:
    return [d.event for d in services.decisions.history(channel, address)]


# --- legal intents, promises, preferences (SNS and SES inbound shapes) -------------------------


def test_optout_attorney_by_sms_stops_at_once_silently_and_queues_for_ops() -> None:
    services = memory_services(account())
    # When the borrower texts that they are represented, and to stop texting
    run(services, sms_event("Talk to my attorney, Sam Lee +1 415 555 0199. Stop texting", "in-1"))
    # Then the account is ATTORNEY and its ladder is stopped, before anyone reviews it
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.ATTORNEY
    assert not ladder(services)
    # And the opt-out is written, but nothing is sent to a represented borrower, not even
    # the opt-out confirmation
    assert must(services.suppressions.get(Channel.SMS, PHONE)).scope is SuppressionScope.CHANNEL
    assert sent_sms(services) == [] and sent_email(services) == []
    # And ops find it in the review queue with the attorney's contact as written
    [item] = services.reviews.pending()
    assert (item.intent, item.also, item.why) == ("attorney", ("opt_out",), "legal")
    assert item.accounts == ("demo#A-1",) and "+1 415 555 0199" in item.text
    # And every decision is in the append-only log
    assert events(services) == ["read", "review_opened", "status", "suppressed"]


def test_optout_bankruptcy_by_email_stops_and_queues() -> None:
    services = memory_services(account())
    run(services, email_event("I filed Chapter 7 last week."))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.BANKRUPTCY
    assert not ladder(services)
    assert sent_email(services) == []
    assert [i.intent for i in services.reviews.pending()] == ["bankruptcy"]


def test_optout_dispute_in_traditional_chinese_pauses_without_stopping() -> None:
    services = memory_services(account(locale="zh-CN"))
    run(services, sms_event("這不是我借的", "in-1"))
    # Then DISPUTED: the gate holds every rung until ops records verification
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.DISPUTED
    assert ladder(services)
    assert [i.intent for i in services.reviews.pending()] == ["dispute"]


def test_optout_cease_is_a_status_apart_from_the_opt_out_it_also_is() -> None:
    services = memory_services(account())
    run(services, email_event("Cease all communication with me."))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.CEASE
    assert not ladder(services)
    assert sent_email(services) == []


def test_optout_promise_by_sms_holds_until_promised_day_plus_grace() -> None:
    services = memory_services(account())
    # Given Thursday 2026-12-03: "I'll pay on Friday" (grace 2 days in config/replies.yaml)
    run(services, sms_event("I'll pay on Friday", "in-1"))
    held = must(services.accounts.get("demo", "A-1"))
    assert held.status is AccountStatus.PROMISE_TO_PAY
    assert held.hold_until == NOW + timedelta(days=3)  # Friday + 2 days, same time of day
    assert ladder(services)  # held, not stopped: the gate resumes it after the hold
    assert services.reviews.pending() == []
    assert "promise" in events(services)


def test_optout_unauthenticated_email_cannot_promise_to_hold_a_ladder() -> None:
    services = memory_services(account())
    run(services, email_event("I will pay tomorrow", authenticated=False))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.ACTIVE


def test_optout_preference_by_email_is_recorded_for_the_gate() -> None:
    services = memory_services(account())
    run(services, email_event("Please do not email me after 6pm."))
    [preference] = must(services.accounts.get("demo", "A-1")).contact_preferences
    assert preference.not_after is not None and preference.not_after.hour == 18
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None  # not an opt-out
    assert events(services, EMAIL, Channel.EMAIL) == ["preference", "read"]


def test_optout_start_keeps_the_history_of_the_suppression_it_lifts() -> None:
    services = memory_services(account())
    run(services, sms_event("STOP", "in-1"))
    stop = must(services.suppressions.get(Channel.SMS, PHONE))
    run(services, sms_event("START", "in-2", at=NOW + timedelta(days=1)))
    assert services.suppressions.get(Channel.SMS, PHONE) is None
    # The log still holds the opt-out, and the lift names exactly what it lifted
    history = services.decisions.history(Channel.SMS, PHONE)
    assert [d.event for d in history] == ["read", "suppressed", "lifted", "read"]
    assert Suppression.model_validate_json(history[2].detail) == stop


def test_optout_other_reply_goes_to_review_with_its_text() -> None:
    services = memory_services(account())
    run(services, sms_event("who is this?", "in-1"))
    [item] = services.reviews.pending()
    assert (item.intent, item.why, item.text) == ("other", "other", "who is this?")
    # A redelivery opens nothing new
    run(services, sms_event("who is this?", "in-1"))
    assert len(services.reviews.pending()) == 1


# --- one-click unsubscribe (Function URL) -------------------------------------------------------


def url_event(
    method: str, token: str, body: str = "", content_type: str = "application/x-www-form-urlencoded"
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": urlencode({"token": token}),
        "headers": {"content-type": content_type, "host": "abc.lambda-url.us-east-1.on.aws"},
        "queryStringParameters": {"token": token},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.on.aws",
            "domainPrefix": "abc",
            "requestId": "r-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "03/Dec/2026:15:05:00 +0000",
            "timeEpoch": 1764774300000,
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "Mozilla/5.0",
            },
        },
        "body": body,
        "isBase64Encoded": False,
    }


def token_for(address: str = EMAIL, issued: datetime = NOW) -> str:
    url = make_unsubscribe_url(
        "https://abc.lambda-url.us-east-1.on.aws/",
        KEY,
        address=address,
        lender_id="demo",
        account_id="A-1",
        issued_at=issued,
    )
    return url.split("token=")[1]


def click(services: Services, event: dict[str, Any], key: bytes = KEY) -> dict[str, Any]:
    return unsubscribe.handler(
        event, Context(), services=replace(services, unsubscribe_key=lambda: key)
    )


def test_unsubscribe_get_shows_a_form_and_does_not_unsubscribe() -> None:
    services = memory_services(account(phone=None))
    response = click(services, url_event("GET", token_for()))
    assert response["statusCode"] == 200
    assert 'method="post"' in response["body"] and "j***@example.com" in response["body"]
    assert EMAIL not in response["body"]
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None and ladder(services)


def test_unsubscribe_one_click_post_suppresses_and_is_idempotent() -> None:
    services = memory_services(account(phone=None))
    first = click(services, url_event("POST", token_for(), "List-Unsubscribe=One-Click"))
    again = click(services, url_event("POST", token_for(), "List-Unsubscribe=One-Click"))
    assert first["statusCode"] == again["statusCode"] == 200
    held = services.suppressions.get(Channel.EMAIL, EMAIL)
    assert held is not None and held.source is SuppressionSource.UNSUBSCRIBE
    assert not ladder(services)


def test_unsubscribe_accepts_multipart_one_click_body() -> None:
    services = memory_services(account())
    body = (
        '--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        "One-Click\r\n--b--\r\n"
    )
    response = click(
        services,
        url_event("POST", token_for(), body, content_type="multipart/form-data; boundary=b"),
    )
    assert response["statusCode"] == 200
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is not None


def test_unsubscribe_bad_tokens_get_one_generic_page() -> None:
    services = memory_services(account())
    genuine = token_for()
    forged = click(
        services, url_event("POST", genuine, "List-Unsubscribe=One-Click"), key=b"x" * 32
    )
    expired = click(
        services,
        url_event("POST", token_for(issued=NOW - timedelta(days=61)), "List-Unsubscribe=One-Click"),
    )
    garbage = click(services, url_event("GET", "garbage"))
    no_body = click(services, url_event("POST", genuine, ""))
    # Then every failure looks the same and reveals nothing about the account
    assert {r["statusCode"] for r in (forged, expired, garbage, no_body)} == {400}
    assert len({r["body"] for r in (forged, expired, garbage, no_body)}) == 1
    assert "j***" not in forged["body"] and "Demo Finance" not in forged["body"]
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None


def test_unsubscribe_reads_a_base64_encoded_one_click_body() -> None:
    # Given a Function URL event whose body Lambda passed base64-encoded
    services = memory_services(account(phone=None))
    event = url_event("POST", token_for(), "")
    event.update(
        body=base64.b64encode(b"List-Unsubscribe=One-Click").decode(), isBase64Encoded=True
    )
    # When it is clicked
    response = click(services, event)
    # Then the address is unsubscribed as with a plain body
    assert response["statusCode"] == 200
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is not None


@pytest.mark.parametrize(("method", "path"), [("PUT", "/"), ("GET", "/admin"), ("DELETE", "/")])
def test_unsubscribe_answers_other_methods_and_paths_not_found(method: str, path: str) -> None:
    services = memory_services(account(phone=None))
    event = url_event(method, token_for(), "List-Unsubscribe=One-Click")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    response = click(services, event)
    assert response["statusCode"] == 404
    assert services.suppressions.get(Channel.EMAIL, EMAIL) is None


# --- on moto: DynamoDB adapters and the signing key from Secrets Manager ------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="rung/unsubscribe", SecretString=KEY.decode()
        )
        parameters.clear_caches()  # a provider made outside this mock must not be reused
        yield Settings(
            config_root=PROJECT_ROOT,
            accounts_table=TABLES["accounts"],
            suppressions_table=TABLES["suppressions"],
            inbound_table=TABLES["inbound"],
            reviews_table=TABLES["reviews"],
            audit_table=TABLES["audit"],
            unsubscribe_secret_arn=secret["ARN"],
        )
        parameters.clear_caches()


def dynamo_services(settings: Settings, *accounts: Account) -> Services:
    base = memory_services(*accounts, settings=settings)
    dynamo_accounts = DynamoAccountStore(settings.accounts_table)
    dynamo_accounts.put_many(accounts)
    return Services(
        **{
            **base.__dict__,
            "accounts": dynamo_accounts,
            "suppressions": DynamoSuppressionStore(settings.suppressions_table),
            "inbound": DynamoInboundLog(settings.inbound_table),
            "reviews": DynamoReviewQueue(settings.reviews_table, retention_days=400),
            "decisions": DynamoDecisionLog(settings.audit_table, retention_days=400),
            "unsubscribe_key": lambda: signing_key(settings.unsubscribe_secret_arn),
        }
    )


@pytest.fixture
def access(aws: Settings) -> Iterator[AccessEnforcer]:
    """The optout and unsubscribe roles of the synthesized stack judge the handlers' calls."""
    with checked_calls(aws) as enforcer:
        yield enforcer
    assert enforcer.denials == []


def test_optout_on_dynamodb_honours_stop_once(aws: Settings, access: AccessEnforcer) -> None:
    services = dynamo_services(aws, account(email=None))
    event = sms_event("退订", "in-1")
    with access.invocation(HANDLERS["optout"]):
        run(services, event)
        run(services, copy.deepcopy(event))  # SNS redelivery: conditional put in the inbound table
    assert {c.action for c in access.calls} >= {"dynamodb:PutItem", "dynamodb:Query"}
    held = services.suppressions.get(Channel.SMS, PHONE)
    assert held is not None and held.source is SuppressionSource.REPLY
    assert len(sent_sms(services)) == 1
    assert not ladder(services)
    item = boto3.client("dynamodb").get_item(TableName=TABLES["inbound"], Key={"pk": {"S": "in-1"}})
    assert "expires_at" in item["Item"]


def test_unsubscribe_on_moto_reads_key_from_secrets_manager(
    aws: Settings, access: AccessEnforcer
) -> None:
    services = dynamo_services(aws, account(phone=None))
    with access.invocation(HANDLERS["unsubscribe"]):
        response = unsubscribe.handler(
            url_event("POST", token_for(), "List-Unsubscribe=One-Click"),
            Context(),
            services=services,
        )
    assert "secretsmanager:GetSecretValue" in {c.action for c in access.calls}
    assert response["statusCode"] == 200
    held = services.suppressions.get(Channel.EMAIL, EMAIL.upper())
    assert held is not None and held.source is SuppressionSource.UNSUBSCRIBE


# --- the email channel pauses itself (docs/compliance.md, Email reputation) -----------------------


def _alarm(state: str = "ALARM", name: str = "Rung-SesBounceRate") -> dict[str, Any]:
    event = fixture("cloudwatch_alarm_ses_bounce_rate.json")
    record = event["Records"][0]["Sns"]
    message = json.loads(record["Message"])
    message.update(NewStateValue=state, AlarmName=name)
    record["Message"] = json.dumps(message)
    return event


def _alarm_services() -> Services:
    settings = Settings(
        config_root=PROJECT_ROOT, email_pause_alarms="Rung-SesBounceRate,Rung-SesComplaintRate"
    )
    return memory_services(account(), settings=settings)


def test_optout_ses_reputation_alarm_pauses_the_email_channel() -> None:
    services = _alarm_services()
    # When CloudWatch publishes the bounce-rate alarm, exactly as it does
    run(services, fixture("cloudwatch_alarm_ses_bounce_rate.json"))
    # Then email is paused for everyone, by the alarm, from the moment SNS published it
    pause = must(services.channels.paused(Channel.EMAIL))
    assert (pause.reason, pause.by, pause.at) == (
        "alarm:Rung-SesBounceRate",
        "alarm",
        datetime(2026, 12, 3, 17, 5, 12, 400000, tzinfo=UTC),
    )
    assert services.channels.paused(Channel.SMS) is None


def test_optout_alarm_back_to_ok_does_not_resume_email() -> None:
    services = _alarm_services()
    run(services, _alarm("ALARM"))
    # The rate falls because nothing is being sent: only a person resumes the channel
    run(services, _alarm("OK"))
    assert services.channels.paused(Channel.EMAIL) is not None


def test_optout_other_alarms_pause_nothing() -> None:
    services = _alarm_services()
    run(services, _alarm("ALARM", "Rung-UncertainSends"))
    assert services.channels.paused(Channel.EMAIL) is None


def test_optout_attorney_on_dynamodb_writes_review_and_decisions(aws: Settings) -> None:
    services = dynamo_services(aws, account())
    run(services, sms_event("mi abogado se encarga", "in-1"))
    assert must(services.accounts.get("demo", "A-1")).status is AccountStatus.ATTORNEY
    [item] = DynamoReviewQueue(aws.reviews_table, retention_days=400).pending()
    assert item.intent == "attorney"
    logged = DynamoDecisionLog(aws.audit_table, retention_days=400).history(Channel.SMS, PHONE)
    assert [d.event for d in logged] == ["read", "review_opened", "status"]


def test_optout_redelivery_read_differently_is_logged_not_refused() -> None:
    services = memory_services(account())
    services.suppressions.put(
        Suppression(
            channel=Channel.SMS,
            address=PHONE,
            source=SuppressionSource.UNSUBSCRIBE,  # not the borrower's reply: YES is "other"
            at=NOW - timedelta(days=1),
        )
    )
    run(services, sms_event("YES", "in-1"))
    # Given the borrower's own STOP arrives in between, When SNS redelivers the YES
    services.suppressions.put(
        Suppression(channel=Channel.SMS, address=PHONE, source=SuppressionSource.REPLY, at=NOW)
    )
    run(services, sms_event("YES", "in-1"))
    # Then both readings are in the log (nothing overwritten, nothing refused)
    reads = [d.intent for d in services.decisions.history(Channel.SMS, PHONE) if d.event == "read"]
    assert sorted(reads) == ["opt_in", "other"]
