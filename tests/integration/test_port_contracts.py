"""One contract for every port, run against the in-memory adapters and the boto3 adapters on moto.

docs/design.md, Ports and adapters: the fast simulator and the real thing cannot drift, because the
same checks hold for both. Tables are created with exactly the schemas of docs/design.md (Data).
Tests that only make sense for one side (botocore error mapping, batch retries) follow the contract
section.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from functions.adapters.dynamo import (
    DynamoAccountStore,
    DynamoAddressLeases,
    DynamoAuditLog,
    DynamoChannelSwitch,
    DynamoDecisionLog,
    DynamoExperimentTally,
    DynamoInboundLog,
    DynamoLedger,
    DynamoReviewQueue,
    DynamoSendSlots,
    DynamoSuppressionStore,
    DynamoUploadStore,
    UnprocessedWrites,
    from_wire,
)
from functions.adapters.memory import (
    MemoryAccountStore,
    MemoryAddressLeases,
    MemoryAuditLog,
    MemoryChannelSwitch,
    MemoryDecisionLog,
    MemoryEmail,
    MemoryExperimentTally,
    MemoryInboundLog,
    MemoryLadderControl,
    MemoryLedger,
    MemoryObjectStore,
    MemoryPush,
    MemoryReviewQueue,
    MemorySendSlots,
    MemorySms,
    MemorySuppressionStore,
    MemoryUploadStore,
)
from functions.adapters.records import (
    AuditConflict,
    ClaimCompleted,
    ObjectNotFound,
    RecordNotFound,
    ReviewClosed,
)
from functions.adapters.s3_objects import S3ObjectStore
from functions.adapters.send_client import SEND_CLIENT_CONFIG
from functions.adapters.ses_email import SesEmailSender
from functions.adapters.sms_voice import SmsVoiceSender
from functions.adapters.sns_push import SnsPushSender
from functions.adapters.step_functions import LadderStartThrottled, SfnLadderControl, execution_arn
from functions.bootstrap import SmsProvider
from functions.core.errors import (
    ConfigError,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
)
from functions.core.experiments import VariantTally
from functions.core.models import (
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    ChannelPause,
    ContactPreference,
    Decision,
    InboundDecision,
    LedgerEntry,
    ReviewItem,
    ReviewState,
    Suppression,
    SuppressionSource,
    UploadKind,
    UploadRecord,
)
from functions.core.ports import (
    AccountStore,
    AddressLeases,
    AuditLog,
    ChannelSwitch,
    DecisionLog,
    ExperimentTally,
    InboundLog,
    LadderControl,
    Ledger,
    MessageSender,
    ObjectStore,
    OutboundMessage,
    ReviewQueue,
    SendSlots,
    SuppressionStore,
    UploadStore,
)
from rung import sms_voice
from rung.sms_voice import EventDestination, SmsVoiceBackend

ACCOUNT = "123456789012"
REGION = "us-east-1"
SENDER = "reminders@lender.example"
PUSH_APPLICATION = f"arn:aws:sns:{REGION}:{ACCOUNT}:app/GCM/demo-app"
BUCKET = "rung-contract-uploads"
SMS_CONFIGURATION_SET = "rung-sms"
OUR_NUMBER = "+18885550100"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

TABLES = {
    "accounts": "rung-accounts",
    "suppressions": "rung-suppressions",
    "ledger": "rung-ledger",
    "audit": "rung-audit",
    "uploads": "rung-uploads",
    "inbound": "rung-inbound",
    "reviews": "rung-reviews",
}


# --------------------------------------------------------------------------- the two worlds


@dataclass
class World:
    """All ports of one backend, plus the probes a test needs to see what the provider saw."""

    accounts: AccountStore
    suppressions: SuppressionStore
    ledger: Ledger
    audit: AuditLog
    uploads: UploadStore
    inbound: InboundLog
    sms: SmsProvider
    email: MessageSender
    push: MessageSender
    ladders: LadderControl
    objects: ObjectStore
    channels: ChannelSwitch
    reviews: ReviewQueue
    decisions: DecisionLog
    slots: SendSlots
    leases: AddressLeases
    sms_outbox: Callable[[], list[tuple[str, str, str]]]  # (message id, to, body)
    email_outbox: Callable[[], list[tuple[str, str, str]]]  # (message id, to, subject)
    audit_records: Callable[[], list[AuditRecord]]
    provider_opt_out: Callable[[str], None]
    sms_throttled_once: Callable[[], AbstractContextManager[object]]
    push_endpoint: Callable[[], str]  # a new, enabled endpoint of the lender's app
    disable_endpoint: Callable[[str], None]  # the platform disables it (app uninstalled)
    push_outbox: Callable[[], list[tuple[str, str]]]  # (message id, endpoint ARN)
    experiments: ExperimentTally


def memory_world() -> World:
    sms, email, push, audit = MemorySms(), MemoryEmail(), MemoryPush(), MemoryAuditLog()
    endpoints = iter(range(1, 1000))

    def throttled() -> AbstractContextManager[object]:
        sms.fail_next(TransientSendError("sms-voice ThrottlingException: provider did not accept"))
        return nullcontext()

    return World(
        accounts=MemoryAccountStore(),
        suppressions=MemorySuppressionStore(),
        ledger=MemoryLedger(),
        audit=audit,
        uploads=MemoryUploadStore(),
        inbound=MemoryInboundLog(),
        sms=sms,
        email=email,
        ladders=MemoryLadderControl(),
        objects=MemoryObjectStore(),
        channels=MemoryChannelSwitch(),
        experiments=MemoryExperimentTally(),
        reviews=MemoryReviewQueue(),
        decisions=MemoryDecisionLog(),
        slots=MemorySendSlots(),
        leases=MemoryAddressLeases(),
        sms_outbox=lambda: [(i, m.to, m.body) for i, m in sms.sent],
        email_outbox=lambda: [(i, m.to, m.subject) for i, m in email.sent],
        audit_records=lambda: list(audit.records),
        provider_opt_out=sms.opted_out.add,
        sms_throttled_once=throttled,
        push=push,
        push_endpoint=lambda: (
            f"{PUSH_APPLICATION.replace(':app/', ':endpoint/')}/{next(endpoints)}"
        ),
        disable_endpoint=push.disabled.add,
        push_outbox=lambda: [(i, m.to) for i, m in push.sent],
    )


def create_tables(dynamodb: Any) -> None:
    """Exactly the schemas of docs/design.md (Data): string keys, on demand, GSIs projecting
    ALL, TTL attrs."""

    def table(
        name: str, keys: dict[str, str], gsis: dict[str, dict[str, str]] | None = None
    ) -> None:
        attributes = {a for k in [keys, *(gsis or {}).values()] for a in k}
        spec: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": "S"} for a in attributes
            ],
            "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in keys.items()],
        }
        if gsis:
            spec["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index,
                    "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in k.items()],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index, k in gsis.items()
            ]
        dynamodb.create_table(**spec)

    table(
        TABLES["accounts"],
        {"pk": "HASH"},
        {"by_phone": {"phone": "HASH"}, "by_email": {"email": "HASH"}},
    )
    table(TABLES["suppressions"], {"pk": "HASH"})
    table(
        TABLES["ledger"],
        {"pk": "HASH", "sk": "RANGE"},
        {
            "by_address": {"address": "HASH", "attempted_at": "RANGE"},
            "by_message": {"provider_message_id": "HASH"},
        },
    )
    table(TABLES["audit"], {"pk": "HASH", "sk": "RANGE"})
    table(TABLES["uploads"], {"pk": "HASH"})
    table(TABLES["inbound"], {"pk": "HASH"})
    table(TABLES["reviews"], {"pk": "HASH"})
    for ttl_table in ("audit", "inbound", "reviews"):
        dynamodb.update_time_to_live(
            TableName=TABLES[ttl_table],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )


@dataclass
class AwsClients:
    dynamodb: Any
    sms: Any  # pinpoint-sms-voice-v2
    sms_voice: SmsVoiceBackend
    sesv2: Any
    sfn: Any
    s3: Any
    state_machine_arn: str
    sns: Any


@dataclass
class MockedAws:
    mock: Any  # the active moto mock_aws
    dynamodb: Any
    sms: Any
    sms_voice: SmsVoiceBackend  # Rung's model of End User Messaging SMS (moto has none)
    sesv2: Any
    sfn: Any
    s3: Any
    sns: Any


@pytest.fixture(scope="module")
def mocked_aws() -> Iterator[MockedAws]:
    """One moto session and one set of clients per module: creating botocore clients
    (service models loaded afresh for each mock) was 90 % of this suite's time."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "MOTO_ACCOUNT_ID": ACCOUNT,
        }.items():
            env.setenv(name, value)
        with mock_aws() as mock, ExitStack() as stack:
            backend = SmsVoiceBackend(ACCOUNT, REGION, clock=lambda: T0, publish=lambda *_: None)
            sms_voice.install(stack, backend)
            yield MockedAws(
                mock=mock,
                dynamodb=boto3.client("dynamodb", region_name=REGION),
                sms=boto3.client(
                    "pinpoint-sms-voice-v2", region_name=REGION, config=SEND_CLIENT_CONFIG
                ),
                sms_voice=backend,
                sesv2=boto3.client("sesv2", region_name=REGION, config=SEND_CLIENT_CONFIG),
                sfn=boto3.client("stepfunctions", region_name=REGION),
                s3=boto3.client("s3", region_name=REGION),
                sns=boto3.client("sns", region_name=REGION, config=SEND_CLIENT_CONFIG),
            )


@pytest.fixture
def aws(mocked_aws: MockedAws) -> AwsClients:
    """Fresh resources for each test: every moto backend is emptied, then provisioned."""
    mocked_aws.mock.reset()
    backend = mocked_aws.sms_voice
    backend.reset()
    backend.add_phone_number(OUR_NUMBER, "phone-0123456789abcdef0123456789abcdef")
    backend.add_configuration_set(
        SMS_CONFIGURATION_SET,
        [EventDestination("Receipts", frozenset({"TEXT_DELIVERED"}), "arn:aws:sns:::receipts")],
    )
    create_tables(mocked_aws.dynamodb)
    mocked_aws.sesv2.create_email_identity(EmailIdentity=SENDER)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = mocked_aws.sfn.create_state_machine(
        name="rung-ladder",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/rung-ladder",
    )
    mocked_aws.s3.create_bucket(Bucket=BUCKET)
    mocked_aws.sns.create_platform_application(
        Name="demo-app", Platform="GCM", Attributes={"PlatformCredential": "fcm-service-account"}
    )
    return AwsClients(
        dynamodb=mocked_aws.dynamodb,
        sms=mocked_aws.sms,
        sms_voice=mocked_aws.sms_voice,
        sesv2=mocked_aws.sesv2,
        sfn=mocked_aws.sfn,
        s3=mocked_aws.s3,
        state_machine_arn=machine["stateMachineArn"],
        sns=mocked_aws.sns,
    )


@contextmanager
def hooked(client: Any, event: str, handler: Callable[..., Any]) -> Iterator[None]:
    """A botocore event handler for one block only: the clients are shared by the module."""
    client.meta.events.register(event, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event, handler)


def record_params(seen: list[dict[str, Any]]) -> Callable[..., None]:
    """A provide-client-params handler that keeps a copy of each request's parameters."""

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    return record


def aws_world(clients: AwsClients) -> World:
    ddb = clients.dynamodb
    audit = DynamoAuditLog(TABLES["audit"], retention_days=400, client=ddb)
    sms = SmsVoiceSender(SMS_CONFIGURATION_SET, client=clients.sms)

    def sms_outbox() -> list[tuple[str, str, str]]:
        return [(m.message_id, m.to, m.body) for m in clients.sms_voice.messages]

    def email_outbox() -> list[tuple[str, str, str]]:
        sent = ses_backends[ACCOUNT][REGION].sent_messages
        return [(m.id, m.destinations["ToAddresses"][0], m.subject) for m in sent]

    def audit_records() -> list[AuditRecord]:
        items = ddb.get_paginator("scan").paginate(TableName=TABLES["audit"])
        return [
            AuditRecord.model_validate(from_wire(item)) for page in items for item in page["Items"]
        ]

    def provider_opt_out(phone: str) -> None:
        # On AWS a STOP reply to the number puts it on the number's opt-out list.
        clients.sms.put_opted_out_number(OptOutListName="Default", OptedOutNumber=phone)

    @contextmanager
    def throttled() -> Iterator[object]:
        with Stubber(clients.sms) as stub:
            stub.add_client_error(
                "send_text_message", service_error_code="ThrottlingException", http_status_code=400
            )
            yield stub

    def push_endpoint() -> str:
        token = f"device-token-{len(sns_backends[ACCOUNT][REGION].platform_endpoints)}"
        return str(
            clients.sns.create_platform_endpoint(
                PlatformApplicationArn=PUSH_APPLICATION, Token=token
            )["EndpointArn"]
        )

    def disable_endpoint(arn: str) -> None:
        # What SNS does when FCM or APNs reports the token invalid (the app was uninstalled).
        clients.sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})

    def push_outbox() -> list[tuple[str, str]]:
        endpoints = sns_backends[ACCOUNT][REGION].platform_endpoints.values()
        return [(i, e.arn) for e in endpoints for i in e.messages]

    return World(
        accounts=DynamoAccountStore(TABLES["accounts"], client=ddb),
        suppressions=DynamoSuppressionStore(TABLES["suppressions"], client=ddb),
        ledger=DynamoLedger(TABLES["ledger"], client=ddb),
        audit=audit,
        uploads=DynamoUploadStore(TABLES["uploads"], client=ddb),
        inbound=DynamoInboundLog(TABLES["inbound"], client=ddb),
        sms=sms,
        email=SesEmailSender(clients.sesv2),
        ladders=SfnLadderControl(clients.state_machine_arn, client=clients.sfn),
        objects=S3ObjectStore(BUCKET, client=clients.s3),
        channels=DynamoChannelSwitch(TABLES["suppressions"], client=ddb),
        experiments=DynamoExperimentTally(TABLES["accounts"], client=ddb),
        reviews=DynamoReviewQueue(TABLES["reviews"], client=ddb, retention_days=400),
        decisions=DynamoDecisionLog(TABLES["audit"], retention_days=400, client=ddb),
        slots=DynamoSendSlots(TABLES["ledger"], client=ddb),
        leases=DynamoAddressLeases(TABLES["ledger"], client=ddb),
        sms_outbox=sms_outbox,
        email_outbox=email_outbox,
        audit_records=audit_records,
        provider_opt_out=provider_opt_out,
        sms_throttled_once=throttled,
        push=SnsPushSender(clients.sns),
        push_endpoint=push_endpoint,
        disable_endpoint=disable_endpoint,
        push_outbox=push_outbox,
    )


@pytest.fixture(params=["memory", "aws"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "memory":
        return memory_world()
    return aws_world(request.getfixturevalue("aws"))


# --------------------------------------------------------------------------- sample data


def account(n: int, **changes: Any) -> Account:
    fields: dict[str, Any] = {
        "lender_id": "demo",
        "account_id": f"A{n:04d}",
        "phone": f"+1415555{n:04d}",
        "email": f"borrower{n}@example.com",
        "amount_due": Decimal(f"{n}.10") + Decimal("1000.05"),
        "currency": "USD",
        "due_date": date(2026, 2, 1),
        "locale": "en-US",
        "cycle": "2026-02-01",
    }
    fields.update(changes)
    return Account(**fields)


def claim(ladder: str, rung: int, channel: Channel, at: datetime, address: str) -> LedgerEntry:
    return LedgerEntry(
        ladder_key=ladder, rung=rung, channel=channel, attempted_at=at, address=address
    )


def decision(at: datetime, **changes: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "lender_id": "demo",
        "account_id": "A0001",
        "cycle": "2026-02-01",
        "rung": 1,
        "channel": Channel.SMS,
        "decision": Decision.SENT,
        "at_utc": at,
        "body": "Hi Ana, your payment of $1,000.15 is overdue.",
    }
    fields.update(changes)
    return AuditRecord(**fields)


# --------------------------------------------------------------------------- accounts


def test_account_store_put_many_stores_every_account_exactly(world: World) -> None:
    # Given 60 accounts (more than two BatchWriteItem batches) with cent amounts
    accounts = [account(n) for n in range(60)]

    # When they are stored
    world.accounts.put_many(iter(accounts))

    # Then each reads back identical, Decimal amounts and dates included
    for expected in accounts:
        assert world.accounts.get("demo", expected.account_id) == expected
    assert world.accounts.get("demo", "A9999") is None


def test_account_store_put_many_replaces_and_later_duplicate_wins(world: World) -> None:
    # Given a stored account
    world.accounts.put_many([account(1)])

    # When it is put again twice in one batch (a re-upload listing it twice)
    world.accounts.put_many(
        [account(1, amount_due=Decimal("50.00")), account(1, amount_due=Decimal("75.25"))]
    )

    # Then the later row replaced it
    stored = world.accounts.get("demo", "A0001")
    assert stored is not None
    assert stored.amount_due == Decimal("75.25")


def test_account_store_find_by_address_matches_phone_or_email(world: World) -> None:
    # Given two accounts sharing a phone, and a third without a phone
    world.accounts.put_many(
        [
            account(1, phone="+14155550100"),
            account(2, phone="+14155550100", email="other@example.com"),
            account(3, phone=None),
        ]
    )

    # When looked up by address
    by_phone = world.accounts.find_by_address(Channel.SMS, "+14155550100")
    by_email = world.accounts.find_by_address(Channel.EMAIL, "borrower3@example.com")

    # Then every holder of that address is found, and nothing else
    assert sorted(a.account_id for a in by_phone) == ["A0001", "A0002"]
    assert [a.account_id for a in by_email] == ["A0003"]
    assert world.accounts.find_by_address(Channel.SMS, "+14155559999") == []


def test_account_store_set_status_records_status_and_instant(world: World) -> None:
    # Given a stored account
    world.accounts.put_many([account(1)])
    at = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=-8)))

    # When the borrower claims payment
    world.accounts.set_status("demo", "A0001", AccountStatus.PAYMENT_CLAIMED, at)

    # Then status and instant change, the rest stays
    stored = world.accounts.get("demo", "A0001")
    assert stored is not None
    assert stored.status is AccountStatus.PAYMENT_CLAIMED
    assert stored.status_changed_at == at
    assert stored.amount_due == account(1).amount_due


def test_account_store_set_status_of_unknown_account_raises(world: World) -> None:
    with pytest.raises(RecordNotFound):
        world.accounts.set_status("demo", "missing", AccountStatus.PAID, T0)
    assert world.accounts.get("demo", "missing") is None


# --------------------------------------------------------------------------- suppressions


def test_account_store_promise_hold_is_set_then_cleared(world: World) -> None:
    world.accounts.put_many([account(1)])
    until = T0 + timedelta(days=5)
    world.accounts.set_status("demo", "A0001", AccountStatus.PROMISE_TO_PAY, T0, hold_until=until)
    held = world.accounts.get("demo", "A0001")
    assert held is not None and (held.status, held.hold_until) == (
        AccountStatus.PROMISE_TO_PAY,
        until,
    )
    # A later status without a hold clears it: no stale hold outlives its promise.
    world.accounts.set_status("demo", "A0001", AccountStatus.ACTIVE, T0 + timedelta(days=6))
    cleared = world.accounts.get("demo", "A0001")
    assert cleared is not None and cleared.hold_until is None


def test_account_store_add_preference_appends_and_round_trips(world: World) -> None:
    world.accounts.put_many([account(1)])
    evening = ContactPreference(not_after=time(18, 0), at=T0, rule="phrase:x")
    email_only = ContactPreference(channel=Channel.SMS, excluded=True, at=T0 + timedelta(hours=1))
    world.accounts.add_preference("demo", "A0001", evening)
    world.accounts.add_preference("demo", "A0001", email_only)
    stored = world.accounts.get("demo", "A0001")
    assert stored is not None and stored.contact_preferences == (evening, email_only)
    with pytest.raises(RecordNotFound):
        world.accounts.add_preference("demo", "nobody", evening)


def review(rid: str, at: datetime) -> ReviewItem:
    return ReviewItem(
        review_id=rid,
        at=at,
        channel=Channel.SMS,
        address="+14155550001",
        text="talk to my attorney",
        intent="attorney",
        why="legal",
        accounts=("demo#A0001",),
    )


def test_review_queue_opens_once_lists_pending_and_resolves_once(world: World) -> None:
    first, second = review("sms-b", T0 + timedelta(minutes=1)), review("sms-a", T0)
    assert world.reviews.open(first) and world.reviews.open(second)
    assert not world.reviews.open(first)  # a redelivered message opens nothing new
    assert [i.review_id for i in world.reviews.pending()] == ["sms-a", "sms-b"]
    done = second.model_copy(
        update={"state": ReviewState.RESOLVED, "resolved_by": "Ana", "resolved_at": T0}
    )
    world.reviews.resolve(done)
    assert world.reviews.get("sms-a") == done
    assert [i.review_id for i in world.reviews.pending()] == ["sms-b"]
    with pytest.raises(ReviewClosed):
        world.reviews.resolve(done)


def test_decision_log_is_append_only_and_reads_in_time_order(world: World) -> None:
    later = InboundDecision(
        at=T0 + timedelta(minutes=5), channel=Channel.SMS, address="+14155550001", event="lifted"
    )
    earlier = later.model_copy(update={"at": T0, "event": "suppressed"})
    world.decisions.append(later)
    world.decisions.append(earlier)
    world.decisions.append(earlier)  # a replay is a no-op
    assert world.decisions.history(Channel.SMS, "+14155550001") == [earlier, later]
    with pytest.raises(AuditConflict):
        world.decisions.append(earlier.model_copy(update={"by": "someone else"}))


def test_suppression_store_matches_email_whatever_its_case(world: World) -> None:
    # Given an email opt-out
    world.suppressions.put(
        Suppression(
            channel=Channel.EMAIL,
            address="ana@example.com",
            source=SuppressionSource.UNSUBSCRIBE,
            at=T0,
        )
    )

    # When looked up with another case
    found = world.suppressions.get(Channel.EMAIL, "Ana@Example.COM")

    # Then it is found; the same address on SMS is not
    assert found is not None
    assert found.source is SuppressionSource.UNSUBSCRIBE
    assert found.at == T0
    assert world.suppressions.get(Channel.SMS, "ana@example.com") is None


def test_channel_switch_pauses_and_resumes_one_channel(world: World) -> None:
    # Given email paused by the bounce-rate alarm, next to an ordinary opt-out
    world.suppressions.put(
        Suppression(channel=Channel.EMAIL, address="a@b.com", source=SuppressionSource.REPLY, at=T0)
    )
    pause = ChannelPause(
        channel=Channel.EMAIL, reason="alarm:Rung-SesBounceRate", at=T0, by="alarm"
    )
    world.channels.pause(pause)

    # Then only email is paused, and the address's own opt-out is untouched
    assert world.channels.paused(Channel.EMAIL) == pause
    assert world.channels.paused(Channel.SMS) is None
    assert world.suppressions.get(Channel.EMAIL, "a@b.com") is not None

    # When a person resumes it, it is no longer paused (resuming twice is harmless)
    world.channels.resume(Channel.EMAIL)
    world.channels.resume(Channel.EMAIL)
    assert world.channels.paused(Channel.EMAIL) is None
    assert world.suppressions.get(Channel.EMAIL, "a@b.com") is not None


def test_suppression_store_delete_removes_opt_out(world: World) -> None:
    # Given an SMS opt-out
    stop = Suppression(
        channel=Channel.SMS, address="+14155550123", source=SuppressionSource.REPLY, at=T0
    )
    world.suppressions.put(stop)
    assert world.suppressions.get(Channel.SMS, "+14155550123") == stop

    # When the borrower texts START
    world.suppressions.delete(Channel.SMS, "+14155550123")

    # Then it is gone (and deleting again is harmless)
    assert world.suppressions.get(Channel.SMS, "+14155550123") is None
    world.suppressions.delete(Channel.SMS, "+14155550123")


def test_suppression_store_keeps_lender_scoped_opt_outs_beside_the_deployment_wide_one(
    world: World,
) -> None:
    # Given a STOP that binds lender acme only, on a number without a deployment-wide opt-out
    phone = "+14155550123"
    acme = Suppression(
        channel=Channel.SMS,
        address=phone,
        source=SuppressionSource.REPLY,
        at=T0,
        lender_id="acme",
    )
    world.suppressions.put(acme)

    # Then it is found under acme's key only
    assert world.suppressions.get(Channel.SMS, phone, lender_id="acme") == acme
    assert world.suppressions.get(Channel.SMS, phone) is None
    assert world.suppressions.get(Channel.SMS, phone, lender_id="demo") is None

    # When a deployment-wide opt-out is written too, and then acme's is deleted
    wide = acme.model_copy(update={"lender_id": None, "at": T0 + timedelta(hours=1)})
    world.suppressions.put(wide)
    world.suppressions.delete(Channel.SMS, phone, lender_id="acme")

    # Then the deployment-wide one stands, untouched
    assert world.suppressions.get(Channel.SMS, phone) == wide
    assert world.suppressions.get(Channel.SMS, phone, lender_id="acme") is None


# --------------------------------------------------------------------------- ledger


def test_ledger_second_claim_of_a_rung_is_refused(world: World) -> None:
    # Given a claimed rung
    first = claim("demo#A0001#c1", 1, Channel.SMS, T0, "+14155550123")
    assert world.ledger.claim(first) is True

    # When it is claimed again (a Lambda retry, a duplicate event)
    again = world.ledger.claim(first.model_copy(update={"attempted_at": T0 + timedelta(1)}))

    # Then the second claim loses and the first stays
    assert again is False
    assert world.ledger.get("demo#A0001#c1", 1, Channel.SMS) == first
    # and the other channel of the same rung is a separate claim
    assert world.ledger.claim(claim("demo#A0001#c1", 1, Channel.EMAIL, T0, "a@b.com")) is True


def test_ledger_complete_records_outcome(world: World) -> None:
    world.ledger.claim(claim("demo#A0001#c1", 3, Channel.EMAIL, T0, "a@b.com"))

    world.ledger.complete("demo#A0001#c1", 3, Channel.EMAIL, Decision.SENT, "msg-123")

    entry = world.ledger.get("demo#A0001#c1", 3, Channel.EMAIL)
    assert entry is not None
    assert (entry.state, entry.provider_message_id, entry.attempted_at) == (
        Decision.SENT,
        "msg-123",
        T0,
    )
    with pytest.raises(RecordNotFound):
        world.ledger.complete("demo#A0001#c1", 7, Channel.SMS, Decision.SENT, "x")


def test_ledger_record_delivery_notes_the_receipt_on_the_send_it_names(world: World) -> None:
    # Given one sent attempt with a provider id, and one suppressed without any
    world.ledger.claim(claim("demo#A0001#c1", 0, Channel.SMS, T0, "+14155550123"))
    world.ledger.complete("demo#A0001#c1", 0, Channel.SMS, Decision.SENT, "sns-42")
    world.ledger.claim(claim("demo#A0002#c1", 0, Channel.SMS, T0, "+14155550124"))
    world.ledger.complete("demo#A0002#c1", 0, Channel.SMS, Decision.SUPPRESSED)

    # When the provider's receipt arrives, days later
    later = T0 + timedelta(days=3)
    matched = world.ledger.record_delivery("sns-42", "DELIVERED", later)

    # Then it is noted on that attempt only; an unknown id matches nothing
    assert matched is True
    entry = world.ledger.get("demo#A0001#c1", 0, Channel.SMS)
    assert entry is not None
    assert (entry.state, entry.delivery, entry.delivery_at) == (Decision.SENT, "DELIVERED", later)
    other = world.ledger.get("demo#A0002#c1", 0, Channel.SMS)
    assert other is not None and other.delivery == "" and other.provider_message_id == ""
    assert world.ledger.record_delivery("not-ours", "DELIVERED", later) is False


def test_ledger_release_frees_only_open_claims(world: World) -> None:
    # Given an open claim and a claim completed as UNCERTAIN
    world.ledger.claim(claim("demo#A0001#c1", 1, Channel.SMS, T0, "+14155550123"))
    world.ledger.claim(claim("demo#A0001#c1", 3, Channel.SMS, T0, "+14155550123"))
    world.ledger.complete("demo#A0001#c1", 3, Channel.SMS, Decision.UNCERTAIN)

    # When the throttled one is released
    world.ledger.release("demo#A0001#c1", 1, Channel.SMS)

    # Then it can be claimed again; the UNCERTAIN one can never be released
    assert world.ledger.claim(claim("demo#A0001#c1", 1, Channel.SMS, T0, "+14155550123"))
    with pytest.raises(ClaimCompleted):
        world.ledger.release("demo#A0001#c1", 3, Channel.SMS)
    assert world.ledger.get("demo#A0001#c1", 3, Channel.SMS) is not None
    world.ledger.release("demo#A0001#c1", 9, Channel.SMS)  # nothing there: no-op


def test_send_slots_count_each_reservation_once_per_counter(world: World) -> None:
    # Given two counters of one minute
    expires = T0 + timedelta(days=2)
    minute_a, minute_b = "slot#sms#+18005550100#2026-12-02T15:00Z#3", "slot#email#ses#x#0"

    # When reservations are taken, interleaved
    counts = [world.slots.take(minute_a, expires) for _ in range(3)]
    other = world.slots.take(minute_b, expires)

    # Then each counter counts its own, from 1, and never hands out a count twice
    assert counts == [1, 2, 3]
    assert other == 1
    assert world.slots.take(minute_a, expires) == 4
    # ... and no counter shows up as a ledger attempt
    assert world.ledger.sent_to_address_since("+18005550100", T0 - timedelta(days=9)) == []


def test_address_lease_has_one_holder_until_it_lapses(world: World) -> None:
    key, minute = "lease#sms#+14155550123", timedelta(minutes=1)
    # Given account A's send step holds the address for a minute
    assert world.leases.take(key, "demo#A#c#0", T0, T0 + minute)
    # Then B cannot take it meanwhile, A can again (a repeated invocation), another address is free
    assert not world.leases.take(key, "demo#B#c#0", T0 + timedelta(seconds=30), T0 + 2 * minute)
    assert world.leases.take(key, "demo#A#c#0", T0 + timedelta(seconds=30), T0 + minute)
    assert world.leases.take("lease#sms#+14155550199", "demo#B#c#0", T0, T0 + minute)
    # ... and once it lapsed, B holds it
    assert world.leases.take(key, "demo#B#c#0", T0 + minute, T0 + 2 * minute)
    assert not world.leases.take(key, "demo#A#c#0", T0 + minute, T0 + 2 * minute)


def test_ledger_sent_to_address_since_spans_accounts(world: World) -> None:
    # Given attempts to one phone from two accounts, one before the window, one deferred
    phone = "+14155550123"
    early, inside, later = (
        T0 - timedelta(days=8),
        T0 + timedelta(microseconds=1),
        T0 + timedelta(days=2),
    )
    world.ledger.claim(claim("demo#A0001#c1", 1, Channel.SMS, early, phone))
    world.ledger.claim(claim("demo#A0001#c1", 7, Channel.SMS, later, phone))
    world.ledger.complete("demo#A0001#c1", 7, Channel.SMS, Decision.SENT, "m1")
    world.ledger.claim(claim("demo#A0002#c1", 1, Channel.SMS, inside, phone))  # still UNCERTAIN
    world.ledger.claim(claim("demo#A0002#c1", 7, Channel.SMS, later, phone))
    world.ledger.complete("demo#A0002#c1", 7, Channel.SMS, Decision.DEFERRED)
    world.ledger.claim(claim("demo#A0003#c1", 1, Channel.SMS, later, "+14155550999"))

    # When asked what went to the phone since T0 (given in another zone)
    since = T0.astimezone(timezone(timedelta(hours=8)))
    instants = world.ledger.sent_to_address_since(phone, since)

    # Then SENT and UNCERTAIN attempts of both accounts count, in order
    assert instants == [inside, later]


def test_ledger_sent_to_address_since_counts_one_lender_when_asked(world: World) -> None:
    # Given attempts to one phone for lender demo and for lender "demo2" (whose id extends it)
    phone = "+14155550123"
    world.ledger.claim(claim("demo#A0001#c1", 1, Channel.SMS, T0, phone))
    world.ledger.claim(claim("demo2#A0001#c1", 1, Channel.SMS, T0 + timedelta(hours=1), phone))

    # When the caps ask per lender (scope: lender) and for every lender (scope: collector)
    own = world.ledger.sent_to_address_since(phone, T0, lender_id="demo")
    other = world.ledger.sent_to_address_since(phone, T0, lender_id="demo2")
    every = world.ledger.sent_to_address_since(phone, T0)

    # Then each lender sees its own attempts only, and the collector sees both
    assert own == [T0]
    assert other == [T0 + timedelta(hours=1)]
    assert every == [T0, T0 + timedelta(hours=1)]


def test_ledger_sent_for_ladder_since_filters_by_channel(world: World) -> None:
    ladder = "demo#A0001#c1"
    world.ledger.claim(claim(ladder, 1, Channel.SMS, T0, "+14155550123"))
    world.ledger.claim(claim(ladder, 3, Channel.EMAIL, T0 + timedelta(days=2), "a@b.com"))
    world.ledger.claim(claim(ladder, 7, Channel.SMS, T0 + timedelta(days=6), "+14155550123"))
    world.ledger.claim(claim("demo#A0002#c1", 1, Channel.SMS, T0, "+14155550999"))

    since = T0 + timedelta(hours=1)
    assert world.ledger.sent_for_ladder_since(ladder, Channel.SMS, since) == [
        T0 + timedelta(days=6)
    ]
    assert world.ledger.sent_for_ladder_since(ladder, None, T0) == [
        T0,
        T0 + timedelta(days=2),
        T0 + timedelta(days=6),
    ]


# --------------------------------------------------------------------------- audit


def test_audit_log_identical_replay_is_a_noop(world: World) -> None:
    record = decision(T0, reason="ok", template_version="abc123")

    world.audit.append(record)
    world.audit.append(record)  # a replayed invocation

    assert world.audit_records() == [record]


def test_audit_log_never_overwrites_a_different_record(world: World) -> None:
    # Given a decision
    world.audit.append(decision(T0, body="first"))

    # When another record lands on the same key (same instant, rung, channel, decision)
    with pytest.raises(AuditConflict):
        world.audit.append(decision(T0, body="second"))

    # Then the first stays; a different decision at the same instant is its own record
    world.audit.append(decision(T0, decision=Decision.DEFERRED, deferred_until=T0 + timedelta(1)))
    bodies = sorted((r.decision.value, r.body) for r in world.audit_records())
    assert bodies == [("DEFERRED", decision(T0).body), ("SENT", "first")]


# --------------------------------------------------------------------------- uploads, inbound


def test_upload_store_begin_returns_the_first_record_on_duplicate(world: World) -> None:
    upload = UploadRecord(
        key="uploads/demo/march.csv",
        etag="e1",
        lender_id="demo",
        kind=UploadKind.ACCOUNTS,
        received_at=T0,
    )
    assert world.uploads.begin(upload) is None

    duplicate = world.uploads.begin(upload.model_copy(update={"received_at": T0 + timedelta(1)}))
    assert duplicate == upload

    done = upload.model_copy(update={"finished": True, "rows": 10, "accepted": 9, "rejected": 1})
    world.uploads.finish(done)
    assert world.uploads.begin(upload) == done
    # the same key with a new ETag is a new file
    assert world.uploads.begin(upload.model_copy(update={"etag": "e2"})) is None


def test_upload_store_reopens_a_whole_rejected_file_once(world: World) -> None:
    upload = UploadRecord(
        key="uploads/acme/march.csv",
        etag="e1",
        lender_id="acme",
        kind=UploadKind.ACCOUNTS,
        received_at=T0,
    )
    assert world.uploads.begin(upload) is None
    rejected = upload.model_copy(update={"finished": True, "file_error": "unknown lender 'acme'"})
    world.uploads.finish(rejected)
    # When the same file (same key and ETag) is delivered again, twice at once
    again = upload.model_copy(update={"received_at": T0 + timedelta(hours=1)})
    seen = world.uploads.begin(again)
    assert seen == rejected
    reopened = world.uploads.reopen(seen, again)
    # Then one delivery takes the file up again, as its second attempt; the other does nothing
    assert reopened is not None and reopened.attempt == 2 and not reopened.finished
    assert world.uploads.reopen(seen, again) is None
    # And a file that finished without a whole-file error is never reopened
    done = reopened.model_copy(update={"finished": True, "rows": 3, "accepted": 3})
    world.uploads.finish(done)
    assert world.uploads.reopen(done, again) is None
    assert world.uploads.begin(again) == done


def test_inbound_log_first_time_only_once(world: World) -> None:
    assert world.inbound.first_time("inbound-1", T0) is True
    assert world.inbound.first_time("inbound-1", T0 + timedelta(minutes=1)) is False
    assert world.inbound.first_time("inbound-2", T0) is True


# --------------------------------------------------------------------------- ladder control


def test_ladder_control_start_is_idempotent_per_name(world: World) -> None:
    state = json.dumps({"lender_id": "demo", "account_id": "A0001", "rung": 0})

    assert world.ladders.start("demo-A0001-c1", state) is True
    # the same start again while running: Step Functions answers with the same execution
    assert world.ladders.start("demo-A0001-c1", state) is True
    # a re-upload computing another state never starts a second ladder
    other = json.dumps({"lender_id": "demo", "account_id": "A0001", "rung": 1})
    assert world.ladders.start("demo-A0001-c1", other) is False


def test_ladder_control_stop_only_a_running_ladder(world: World) -> None:
    state = json.dumps({"lender_id": "demo", "account_id": "A0001", "rung": 0})
    world.ladders.start("demo-A0001-c1", state)

    assert world.ladders.stop("demo-A0001-c1", "payment received") is True
    assert world.ladders.stop("demo-A0001-c1", "payment received") is False
    assert world.ladders.stop("demo-A0404-c1", "payment received") is False
    # a stopped name stays used
    assert world.ladders.start("demo-A0001-c1", state) is False


# --------------------------------------------------------------------------- senders, objects


def test_sms_sender_returns_provider_id_of_recorded_message(world: World) -> None:
    message = OutboundMessage(
        channel=Channel.SMS,
        to="+14155550123",
        body="Reminder: $1,000.15 due.",
        origination="+18885550100",
    )

    message_id = world.sms.send(message)

    assert world.sms_outbox() == [(message_id, "+14155550123", "Reminder: $1,000.15 due.")]


def test_sms_sender_provider_opt_out_is_permanent(world: World) -> None:
    # Given a number that replied STOP straight to the provider
    world.provider_opt_out("+14155550199")

    # When Rung sends to it anyway (its own suppression missed it)
    with pytest.raises(PermanentSendError) as raised:
        world.sms.send(
            OutboundMessage(
                channel=Channel.SMS, to="+14155550199", body="Reminder", origination=None
            )
        )

    # Then the provider's list stops it, with a reason code, and nothing is sent
    assert raised.value.reason == "sms_opted_out"
    assert world.sms_outbox() == []


def test_sms_sender_opt_in_after_start_lets_the_next_send_through(world: World) -> None:
    # Given a number on the provider's opt-out list that later texted START
    world.provider_opt_out("+14155550199")

    # When Rung lifts the provider's opt-out
    assert world.sms.opt_in("+14155550199") is True

    # Then the next reminder goes out
    message_id = world.sms.send(
        OutboundMessage(channel=Channel.SMS, to="+14155550199", body="Hi", origination=None)
    )
    assert world.sms_outbox() == [(message_id, "+14155550199", "Hi")]


def test_sms_sender_opt_in_of_a_number_not_opted_out_is_nothing_to_lift(world: World) -> None:
    assert world.sms.opt_in("+14155550123") is True


def test_sms_sender_throttling_is_transient_and_sends_nothing(world: World) -> None:
    message = OutboundMessage(
        channel=Channel.SMS, to="+14155550123", body="Reminder", origination=None
    )

    with world.sms_throttled_once(), pytest.raises(TransientSendError):
        world.sms.send(message)

    assert world.sms_outbox() == []
    message_id = world.sms.send(message)
    assert [i for i, _, _ in world.sms_outbox()] == [message_id]


def email_message(**changes: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "channel": Channel.EMAIL,
        "to": "ana@example.com",
        "origination": SENDER,
        "subject": "Your payment is overdue",
        "body": "Hi Ana",
        "html": "<p>Hi Ana</p>",
        "headers": {
            "List-Unsubscribe": "<https://u.example/x?t=sig>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "configuration_set": None,
    }
    fields.update(changes)
    return OutboundMessage(**fields)


def push_message(endpoint: str) -> OutboundMessage:
    return OutboundMessage(
        channel=Channel.PUSH, to=endpoint, body="Your payment is 3 days late.", subject="Demo"
    )


def test_push_sender_returns_provider_id_of_the_published_notification(world: World) -> None:
    endpoint = world.push_endpoint()

    message_id = world.push.send(push_message(endpoint))

    assert world.push_outbox() == [(message_id, endpoint)]


def test_push_sender_disabled_endpoint_is_permanent_and_the_address_is_gone(world: World) -> None:
    # Given an endpoint the platform disabled (the borrower uninstalled the app)
    endpoint = world.push_endpoint()
    world.disable_endpoint(endpoint)

    # When Rung publishes to it
    with pytest.raises(PermanentSendError) as raised:
        world.push.send(push_message(endpoint))

    # Then SNS refuses it for good, saying the address itself is gone, and nothing is sent
    assert (raised.value.reason, raised.value.address_gone) == ("push_endpoint_disabled", True)
    assert world.push_outbox() == []


def test_email_sender_returns_provider_id_of_recorded_message(world: World) -> None:
    message_id = world.email.send(email_message())

    assert world.email_outbox() == [(message_id, "ana@example.com", "Your payment is overdue")]


def test_object_store_round_trips_bytes(world: World) -> None:
    body = b"account_id,phone\nA1,+14155550123\n"

    world.objects.put("rejects/demo/march.csv", body, "text/csv")

    with world.objects.open("rejects/demo/march.csv") as stream:
        assert stream.read() == body
    with pytest.raises(ObjectNotFound):
        world.objects.open("uploads/demo/none.csv")


# --------------------------------------------------------------------------- boto3-only details


@pytest.mark.parametrize(
    ("code", "status", "modeled", "expected", "reason"),
    [
        ("ThrottlingException", 400, {}, TransientSendError, None),
        ("InternalServerException", 500, {}, TransientSendError, None),
        ("ServiceUnavailable", 503, {}, TransientSendError, None),
        (
            "ConflictException",
            400,
            {"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"},
            PermanentSendError,
            "sms_opted_out",
        ),
        (
            "ValidationException",
            400,
            {"Reason": "INVALID_PARAMETER"},
            PermanentSendError,
            "sms_invalid_parameter",
        ),
        (
            "ValidationException",
            400,
            {"Reason": "DESTINATION_COUNTRY_BLOCKED"},
            PermanentSendError,
            "sms_destination_blocked",
        ),
    ],
)
def test_sms_sender_maps_provider_errors(
    aws: AwsClients,
    code: str,
    status: int,
    modeled: dict[str, str],
    expected: type[Exception],
    reason: str | None,
) -> None:
    sender = SmsVoiceSender(SMS_CONFIGURATION_SET, client=aws.sms)

    with Stubber(aws.sms) as stub, pytest.raises(expected) as raised:
        stub.add_client_error(
            "send_text_message",
            service_error_code=code,
            http_status_code=status,
            modeled_fields=modeled or None,
        )
        sender.send(
            OutboundMessage(
                channel=Channel.SMS, to="+14155550123", body="x", origination=OUR_NUMBER
            )
        )

    assert isinstance(raised.value.__cause__, ClientError)
    if reason is not None:
        assert getattr(raised.value, "reason", None) == reason


@pytest.mark.parametrize(
    ("code", "status", "modeled"),
    [
        ("AccessDeniedException", 403, {"Reason": "ACCOUNT_DISABLED"}),
        # The SMS sandbox: the account, not this message, is the problem.
        ("ConflictException", 400, {"Reason": "DESTINATION_PHONE_NUMBER_NOT_VERIFIED"}),
        ("ResourceNotFoundException", 404, {"ResourceType": "configuration-set"}),
    ],
)
def test_sms_sender_leaves_configuration_faults_unmapped(
    aws: AwsClients, code: str, status: int, modeled: dict[str, str]
) -> None:
    sender = SmsVoiceSender(SMS_CONFIGURATION_SET, client=aws.sms)

    with Stubber(aws.sms) as stub, pytest.raises(ClientError) as raised:
        stub.add_client_error(
            "send_text_message",
            service_error_code=code,
            http_status_code=status,
            modeled_fields=modeled,
        )
        sender.send(
            OutboundMessage(
                channel=Channel.SMS, to="+14155550123", body="x", origination=OUR_NUMBER
            )
        )

    assert raised.value.response["Error"]["Code"] == code


def test_sms_sender_refuses_an_unknown_configuration_set_loudly(aws: AwsClients) -> None:
    sender = SmsVoiceSender("not-rungs", client=aws.sms)

    with pytest.raises(ClientError) as raised:
        sender.send(
            OutboundMessage(
                channel=Channel.SMS, to="+14155550123", body="x", origination=OUR_NUMBER
            )
        )

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResourceType"] == "configuration-set"
    assert aws.sms_voice.messages == []


def test_sms_sender_read_timeout_is_uncertain_not_retried(aws: AwsClients) -> None:
    # Given a response lost after the request left (it may have been delivered)
    attempts: list[str] = []

    def lost_response(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    sender = SmsVoiceSender(SMS_CONFIGURATION_SET, client=aws.sms)

    # When sending, Then it is UNCERTAIN (never transient) and botocore did not resend
    with (
        hooked(aws.sms, "before-send.pinpoint-sms-voice-v2.SendTextMessage", lost_response),
        pytest.raises(UncertainSendError),
    ):
        sender.send(
            OutboundMessage(
                channel=Channel.SMS, to="+14155550123", body="x", origination=OUR_NUMBER
            )
        )
    assert len(attempts) == 1


def test_sms_sender_sends_transactional_from_the_origination_with_the_configuration_set(
    aws: AwsClients,
) -> None:
    seen: list[dict[str, Any]] = []
    sender = SmsVoiceSender(SMS_CONFIGURATION_SET, client=aws.sms)

    with hooked(
        aws.sms, "provide-client-params.pinpoint-sms-voice-v2.SendTextMessage", record_params(seen)
    ):
        message_id = sender.send(
            OutboundMessage(
                channel=Channel.SMS, to="+14155550123", body="Reminder", origination=OUR_NUMBER
            )
        )

    assert seen == [
        {
            "DestinationPhoneNumber": "+14155550123",
            "OriginationIdentity": OUR_NUMBER,
            "MessageBody": "Reminder",
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": SMS_CONFIGURATION_SET,
        }
    ]
    # And the configuration set's destination gets the receipt, naming the same MessageId
    ((topic, event),) = aws.sms_voice.pending
    assert topic == "arn:aws:sns:::receipts"
    assert json.loads(event)["messageId"] == message_id
    assert json.loads(event)["eventType"] == "TEXT_DELIVERED"


def test_sms_sender_opt_in_refused_is_reported(aws: AwsClients) -> None:
    sender = SmsVoiceSender(SMS_CONFIGURATION_SET, opt_out_list="Default", client=aws.sms)

    with Stubber(aws.sms) as stub:
        stub.add_client_error(
            "delete_opted_out_number",
            service_error_code="ValidationException",
            modeled_fields={"Reason": "PHONE_NUMBER_CANNOT_BE_OPTED_IN"},
            expected_params={"OptOutListName": "Default", "OptedOutNumber": "+14155550199"},
        )
        assert sender.opt_in("+14155550199") is False


def test_ses_sender_sends_unsubscribe_headers_and_configuration_set(aws: AwsClients) -> None:
    # moto 5.2.5 keeps only the HTML body of Simple content and drops Headers, so the
    # request itself is checked here.
    seen: list[dict[str, Any]] = []
    aws.sesv2.create_configuration_set(ConfigurationSetName="rung-events")

    with hooked(aws.sesv2, "provide-client-params.sesv2.SendEmail", record_params(seen)):
        SesEmailSender(aws.sesv2).send(email_message(configuration_set="rung-events"))

    [params] = seen
    simple = params["Content"]["Simple"]
    assert {h["Name"]: h["Value"] for h in simple["Headers"]} == dict(email_message().headers)
    assert simple["Body"]["Text"]["Data"] == "Hi Ana"
    assert simple["Body"]["Html"]["Data"] == "<p>Hi Ana</p>"
    assert params["ConfigurationSetName"] == "rung-events"


@pytest.mark.parametrize(
    ("code", "status", "expected", "reason"),
    [
        ("TooManyRequestsException", 429, TransientSendError, None),
        ("LimitExceededException", 400, TransientSendError, None),
        ("InternalFailure", 500, TransientSendError, None),
        ("MessageRejected", 400, PermanentSendError, "ses_message_rejected"),
        (
            "MailFromDomainNotVerifiedException",
            400,
            PermanentSendError,
            "ses_mail_from_not_verified",
        ),
        ("AccountSuspendedException", 400, PermanentSendError, "ses_account_suspended"),
        ("SendingPausedException", 400, PermanentSendError, "ses_sending_paused"),
    ],
)
def test_ses_sender_maps_provider_errors(
    aws: AwsClients, code: str, status: int, expected: type[Exception], reason: str | None
) -> None:
    with Stubber(aws.sesv2) as stub, pytest.raises(expected) as raised:
        stub.add_client_error("send_email", service_error_code=code, http_status_code=status)
        SesEmailSender(aws.sesv2).send(email_message())

    assert isinstance(raised.value.__cause__, ClientError)
    if reason is not None:
        assert getattr(raised.value, "reason", None) == reason


def test_ses_sender_unverified_sender_is_rejected_by_moto(aws: AwsClients) -> None:
    with pytest.raises(PermanentSendError) as raised:
        SesEmailSender(aws.sesv2).send(email_message(origination="x@unverified.example"))
    assert raised.value.reason == "ses_message_rejected"


def test_sfn_ladder_control_retries_throttling_then_starts(aws: AwsClients) -> None:
    sleeps: list[float] = []
    control = SfnLadderControl(aws.state_machine_arn, client=aws.sfn, sleep=sleeps.append)

    with Stubber(aws.sfn) as stub:
        for _ in range(2):
            stub.add_client_error("start_execution", service_error_code="ThrottlingException")
        stub.add_response(
            "start_execution",
            {"executionArn": execution_arn(aws.state_machine_arn, "n1"), "startDate": T0},
        )
        assert control.start("n1", "{}") is True
        stub.assert_no_pending_responses()

    assert len(sleeps) == 2
    assert all(0 <= s <= 0.1 * 2**attempt for attempt, s in enumerate(sleeps, start=1))


def test_sfn_ladder_control_raises_when_throttling_persists(aws: AwsClients) -> None:
    control = SfnLadderControl(aws.state_machine_arn, client=aws.sfn, sleep=lambda _: None)

    with Stubber(aws.sfn) as stub, pytest.raises(LadderStartThrottled) as raised:
        for _ in range(6):
            stub.add_client_error("start_execution", service_error_code="ThrottlingException")
        control.start("n1", "{}")

    assert isinstance(raised.value.__cause__, ClientError)


def test_sfn_execution_arn_is_built_from_the_state_machine_arn() -> None:
    arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:rung-ladder"
    assert execution_arn(arn, "demo-A1-c1") == (
        "arn:aws:states:eu-west-1:111122223333:execution:rung-ladder:demo-A1-c1"
    )
    with pytest.raises(ConfigError):
        execution_arn("", "demo-A1-c1")


class FlakyBatches:
    """A DynamoDB client whose batch writes leave the last `hold_back` items unprocessed."""

    def __init__(self, client: Any, hold_back: int, times: int) -> None:
        self._client, self._hold_back, self._times = client, hold_back, times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.calls += 1
        [(table, requests)] = RequestItems.items()
        if self.calls > self._times:
            return self._client.batch_write_item(RequestItems=RequestItems)
        written, held = requests[: -self._hold_back], requests[-self._hold_back :]
        if written:
            self._client.batch_write_item(RequestItems={table: written})
        return {"UnprocessedItems": {table: held}}


def test_dynamo_account_store_retries_unprocessed_items(aws: AwsClients) -> None:
    flaky = FlakyBatches(aws.dynamodb, hold_back=3, times=2)
    sleeps: list[float] = []
    store = DynamoAccountStore(TABLES["accounts"], client=flaky, sleep=sleeps.append)

    store.put_many(account(n) for n in range(10))

    assert all(store.get("demo", f"A{n:04d}") == account(n) for n in range(10))
    assert flaky.calls == 3
    assert len(sleeps) == 2


def test_dynamo_account_store_raises_rather_than_drop(aws: AwsClients) -> None:
    flaky = FlakyBatches(aws.dynamodb, hold_back=1, times=100)
    store = DynamoAccountStore(TABLES["accounts"], client=flaky, sleep=lambda _: None)

    with pytest.raises(UnprocessedWrites) as raised:
        store.put_many(account(n) for n in range(5))

    assert raised.value.keys == ["demo#A0004"]


def test_dynamo_closed_account_expires_after_the_retention(aws: AwsClients) -> None:
    # Given accounts kept 30 days after they close (docs/compliance.md, Personal data)
    store = DynamoAccountStore(TABLES["accounts"], client=aws.dynamodb, retention_days=30)
    store.put_many([account(1), account(2)])

    def expiry(n: int) -> int | None:
        item = aws.dynamodb.get_item(
            TableName=TABLES["accounts"], Key={"pk": {"S": f"demo#A{n:04d}"}}
        )["Item"]
        return int(item["expires_at"]["N"]) if "expires_at" in item else None

    # When one is paid, and the other is paid and then reopened by a new delinquency
    store.set_status("demo", "A0001", AccountStatus.PAID, T0)
    store.set_status("demo", "A0002", AccountStatus.PAID, T0)
    store.set_status("demo", "A0002", AccountStatus.ACTIVE, T0 + timedelta(days=1))

    # Then only the closed one carries a TTL, 30 days after it closed; open ones never do
    assert expiry(1) == int((T0 + timedelta(days=30)).timestamp())
    assert expiry(2) is None
    # ... and a re-upload that keeps it PAID keeps the clock
    store.put_many([store.get("demo", "A0001")])  # type: ignore[list-item]
    assert expiry(1) == int((T0 + timedelta(days=30)).timestamp())


def test_dynamo_audit_and_inbound_items_carry_ttl(aws: AwsClients) -> None:
    DynamoAuditLog(TABLES["audit"], retention_days=400, client=aws.dynamodb).append(decision(T0))
    DynamoInboundLog(TABLES["inbound"], ttl_days=30, client=aws.dynamodb).first_time("m-1", T0)

    [audit_item] = aws.dynamodb.scan(TableName=TABLES["audit"])["Items"]
    [inbound_item] = aws.dynamodb.scan(TableName=TABLES["inbound"])["Items"]
    assert int(audit_item["expires_at"]["N"]) == int((T0 + timedelta(days=400)).timestamp())
    assert int(inbound_item["expires_at"]["N"]) == int((T0 + timedelta(days=30)).timestamp())
    assert audit_item["sk"]["S"] == "2026-03-02T15:00:00.000000+00:00#001#sms#SENT"


def test_dynamo_review_expires_only_once_resolved(aws: AwsClients) -> None:
    queue = DynamoReviewQueue(TABLES["reviews"], retention_days=400, client=aws.dynamodb)
    queue.open(review("sms-1", T0))
    [opened] = aws.dynamodb.scan(TableName=TABLES["reviews"])["Items"]
    assert "expires_at" not in opened  # an open item waits for a person, however long
    done = T0 + timedelta(days=2)
    queue.resolve(
        review("sms-1", T0).model_copy(
            update={"state": ReviewState.RESOLVED, "resolved_by": "Ana", "resolved_at": done}
        )
    )
    [resolved] = aws.dynamodb.scan(TableName=TABLES["reviews"])["Items"]
    assert int(resolved["expires_at"]["N"]) == int((done + timedelta(days=400)).timestamp())


def test_dynamo_account_item_follows_table_schema(aws: AwsClients) -> None:
    DynamoAccountStore(TABLES["accounts"], client=aws.dynamodb).put_many([account(7, email=None)])

    [item] = aws.dynamodb.scan(TableName=TABLES["accounts"])["Items"]
    assert item["pk"] == {"S": "demo#A0007"}
    assert item["amount_due"] == {"N": "1007.15"}
    assert item["due_date"] == {"S": "2026-02-01"}
    assert "email" not in item  # absent, so the account stays out of by_email


def test_s3_object_store_streams_and_encrypts(aws: AwsClients) -> None:
    # Given a bucket encrypted by default with a KMS key, as the stack declares it
    aws.s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    store = S3ObjectStore(BUCKET, client=aws.s3)

    store.put("rejects/demo/a.csv", b"row\n", "text/csv")

    # Then the report is encrypted with the bucket's key, not downgraded by the request
    head = aws.s3.head_object(Bucket=BUCKET, Key="rejects/demo/a.csv")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ContentType"] == "text/csv"
    stream = store.open("rejects/demo/a.csv")
    assert stream.read(2) == b"ro"  # read in parts, not whole
    assert stream.read() == b"w\n"


def test_experiment_tally_counts_each_counter_and_stops_a_variant_once(world: World) -> None:
    # Given a variant nothing has happened to
    tallies = world.experiments
    assert tallies.get("demo", "exp", "b") == VariantTally()
    # When accounts, opt-outs and complaints are counted
    for _ in range(3):
        tallies.add("demo", "exp", "b", "accounts")
    after = tallies.add("demo", "exp", "b", "opt_outs")
    # Then each add returns the new tally, and other variants are apart
    assert after == VariantTally(accounts=3, opt_outs=1)
    assert tallies.get("demo", "exp", "a") == VariantTally()
    # When the variant is stopped twice, only the first stop takes (and keeps its reason)
    assert tallies.stop("demo", "exp", "b", "opt_out_rate 1/3 >= 0.02")
    assert not tallies.stop("demo", "exp", "b", "another reason")
    assert tallies.get("demo", "exp", "b") == VariantTally(
        accounts=3, opt_outs=1, stopped="opt_out_rate 1/3 >= 0.02"
    )
    # And counting goes on after the stop
    assert tallies.add("demo", "exp", "b", "complaints").complaints == 1


def test_experiment_tally_refuses_an_unknown_counter(world: World) -> None:
    with pytest.raises(ValueError, match="no experiment counter"):
        world.experiments.add("demo", "exp", "b", "cures")


def test_experiment_tallies_stay_out_of_account_lookups(world: World) -> None:
    world.accounts.put_many([account(1)])
    world.experiments.add("demo", "exp", "b", "accounts")
    [found] = world.accounts.find_by_address(Channel.SMS, account(1).phone or "")
    assert found.account_id == account(1).account_id
