"""Erasure ports: the in-memory adapters and the DynamoDB + S3 ones (on moto) erase the same
records the same way, and the ledger and upload records carry their retention TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from functions.adapters.dynamo import (
    DynamoAccountStore,
    DynamoAddressLeases,
    DynamoAuditLog,
    DynamoDecisionLog,
    DynamoLedger,
    DynamoReviewQueue,
    DynamoSuppressionStore,
    DynamoUploadStore,
    from_wire,
)
from functions.adapters.erasable import (
    DynamoBorrowerRecords,
    DynamoErasedAddresses,
    ErasableTables,
)
from functions.adapters.memory import (
    MemoryAccountStore,
    MemoryAddressLeases,
    MemoryAuditLog,
    MemoryBorrowerRecords,
    MemoryDecisionLog,
    MemoryErasedAddresses,
    MemoryLedger,
    MemoryObjectStore,
    MemoryReviewQueue,
    MemorySuppressionStore,
)
from functions.adapters.records import ObjectNotFound
from functions.adapters.s3_objects import S3ObjectStore
from functions.core.erasure import address_pseudonym, erase_borrower, find_borrower
from functions.core.models import (
    ERASURE_PREFIX,
    Channel,
    ErasedAddress,
    ErasureRecord,
    InboundDecision,
    Suppression,
    SuppressionSource,
    UploadKind,
    UploadRecord,
)
from functions.core.ports import (
    AccountStore,
    AddressLeases,
    AuditLog,
    BorrowerRecords,
    DecisionLog,
    ErasedAddresses,
    Ledger,
    ObjectStore,
    ReviewQueue,
    SuppressionStore,
)
from tests.integration.test_port_contracts import (
    BUCKET,
    T0,
    TABLES,
    AwsClients,
    account,
    aws,  # noqa: F401 (fixture)
    claim,
    decision,
    mocked_aws,  # noqa: F401 (fixture)
    review,
)

KEY = b"contract-test-signing-key"
PHONE = "+14155550001"  # account(1)'s
EMAIL = "borrower1@example.com"
LENDER_FILE = "uploads/demo/march.csv"
REPORT = "rejects/demo/march.rejects.csv"
OTHER = "rejects/demo/april.rejects.csv"


@dataclass
class ErasureWorld:
    accounts: AccountStore
    suppressions: SuppressionStore
    ledger: Ledger
    audit: AuditLog
    decisions: DecisionLog
    reviews: ReviewQueue
    objects: ObjectStore
    leases: AddressLeases
    erased: ErasedAddresses
    records: BorrowerRecords
    erasures: Callable[[], list[ErasureRecord]]


def memory_erasure_world() -> ErasureWorld:
    accounts, suppressions, ledger = MemoryAccountStore(), MemorySuppressionStore(), MemoryLedger()
    audit, decisions, reviews = MemoryAuditLog(), MemoryDecisionLog(), MemoryReviewQueue()
    objects, leases = MemoryObjectStore(), MemoryAddressLeases()
    records = MemoryBorrowerRecords(
        accounts=accounts,
        suppressions=suppressions,
        ledger=ledger,
        audit=audit,
        decisions=decisions,
        reviews=reviews,
        objects=objects,
        leases=leases,
    )
    return ErasureWorld(
        accounts=accounts,
        suppressions=suppressions,
        ledger=ledger,
        audit=audit,
        decisions=decisions,
        reviews=reviews,
        objects=objects,
        leases=leases,
        erased=MemoryErasedAddresses(),
        records=records,
        erasures=lambda: list(records.erasures),
    )


def aws_erasure_world(clients: AwsClients) -> ErasureWorld:
    ddb = clients.dynamodb

    def erasures() -> list[ErasureRecord]:
        items = ddb.scan(TableName=TABLES["audit"])["Items"]
        return [
            ErasureRecord.model_validate(from_wire(item))
            for item in items
            if item["pk"]["S"].startswith(ERASURE_PREFIX)
        ]

    tables = ErasableTables(
        accounts=TABLES["accounts"],
        suppressions=TABLES["suppressions"],
        ledger=TABLES["ledger"],
        audit=TABLES["audit"],
        reviews=TABLES["reviews"],
    )
    return ErasureWorld(
        accounts=DynamoAccountStore(TABLES["accounts"], client=ddb),
        suppressions=DynamoSuppressionStore(TABLES["suppressions"], client=ddb),
        ledger=DynamoLedger(TABLES["ledger"], client=ddb),
        audit=DynamoAuditLog(TABLES["audit"], retention_days=400, client=ddb),
        decisions=DynamoDecisionLog(TABLES["audit"], retention_days=400, client=ddb),
        reviews=DynamoReviewQueue(TABLES["reviews"], retention_days=400, client=ddb),
        objects=S3ObjectStore(BUCKET, client=clients.s3),
        leases=DynamoAddressLeases(TABLES["ledger"], client=ddb),
        erased=DynamoErasedAddresses(TABLES["suppressions"], client=ddb),
        records=DynamoBorrowerRecords(
            tables, bucket=BUCKET, records_retention_days=1276, dynamodb=ddb, s3=clients.s3
        ),
        erasures=erasures,
    )


@pytest.fixture(params=["memory", "aws"])
def world(request: pytest.FixtureRequest) -> ErasureWorld:
    if request.param == "memory":
        return memory_erasure_world()
    return aws_erasure_world(request.getfixturevalue("aws"))


def borrower_everywhere(world: ErasureWorld) -> None:
    """Account 1's phone and email in every kind of record; account 2 beside it."""
    first, second = account(1), account(2)
    world.accounts.put_many([first, second])
    world.suppressions.put(
        Suppression(channel=Channel.SMS, address=PHONE, source=SuppressionSource.REPLY, at=T0)
    )
    world.ledger.claim(claim(first.ladder_key, 0, Channel.SMS, T0, PHONE))
    world.ledger.claim(claim(first.ladder_key, 1, Channel.EMAIL, T0, EMAIL))
    world.ledger.claim(claim(second.ladder_key, 0, Channel.SMS, T0, second.phone or ""))
    world.audit.append(decision(T0, address_masked="+1******0001"))
    world.decisions.append(
        InboundDecision(at=T0, channel=Channel.SMS, address=PHONE, event="suppressed")
    )
    world.reviews.open(
        review("sms-1", T0).model_copy(update={"text": f"call me on {PHONE}, not {EMAIL}"})
    )
    world.leases.take(f"lease#sms#{PHONE}", "owner", T0, T0 + timedelta(minutes=1))
    world.objects.put(LENDER_FILE, b"account_id,phone\nA0001,(415) 555-0001\n", "text/csv")
    world.objects.put(REPORT, f"row,reason\n3,{EMAIL.upper()} twice\n".encode(), "text/csv")
    world.objects.put(OTHER, b"row,reason\n4,amount missing\n", "text/csv")


def test_erasure_deletes_or_pseudonymises_every_record(world: ErasureWorld) -> None:
    # Given the borrower's address in every kind of record
    borrower_everywhere(world)
    # When they are erased by phone number
    borrower = find_borrower(world.accounts, address=PHONE)
    record = erase_borrower(
        world, borrower, key=KEY, at=T0 + timedelta(days=9), by="Ana", lender_ids=("demo",)
    )
    phone_alias = address_pseudonym(KEY, Channel.SMS, PHONE)
    email_alias = address_pseudonym(KEY, Channel.EMAIL, EMAIL)

    # Then both backends did the same, and say so
    assert record.removed == {
        "accounts": 1,
        "address_leases": 1,
        "lender_files": 1,
        "suppressions": 1,
    }
    assert record.pseudonymised == {
        "inbound_decisions": 1,
        "ledger": 2,
        "reports": 1,
        "reviews": 1,
    }
    assert set(record.addresses) == {phone_alias, email_alias}
    assert world.erasures() == [record]
    # ... the account and the raw suppression are gone, the hashed one holds the address
    assert world.accounts.get("demo", "A0001") is None
    assert world.suppressions.get(Channel.SMS, PHONE) is None
    mark = world.erased.get(phone_alias)
    assert mark is not None and mark.erasure_id == record.erasure_id
    # ... attempts stay, under the pseudonym
    attempt = world.ledger.get(account(1).ladder_key, 0, Channel.SMS)
    assert attempt is not None and attempt.address == phone_alias
    assert world.ledger.sent_to_address_since(PHONE, T0) == []
    # ... the inbound decision moved to its pseudonymous key, the review kept, scrubbed
    assert world.decisions.history(Channel.SMS, PHONE) == []
    assert [d.address for d in world.decisions.history(Channel.SMS, phone_alias)] == [phone_alias]
    kept = world.reviews.get("sms-1")
    assert kept is not None and kept.address == phone_alias
    assert kept.text == f"call me on {phone_alias}, not {email_alias}"
    # ... the lender file is deleted, the report rewritten, the other report untouched
    with pytest.raises(ObjectNotFound):
        world.objects.open(LENDER_FILE)
    assert world.objects.open(REPORT).read() == f"row,reason\n3,{email_alias} twice\n".encode()
    assert world.objects.open(OTHER).read() == b"row,reason\n4,amount missing\n"
    # ... and the other borrower is untouched
    assert world.accounts.get("demo", "A0002") == account(2)
    assert world.ledger.sent_to_address_since(account(2).phone or "", T0) == [T0]


def test_erasing_again_changes_nothing(world: ErasureWorld) -> None:
    borrower_everywhere(world)
    borrower = find_borrower(world.accounts, address=PHONE)
    erase_borrower(world, borrower, key=KEY, at=T0, by="Ana", lender_ids=("demo",))
    again = erase_borrower(
        world, borrower, key=KEY, at=T0 + timedelta(hours=1), by="Ana", lender_ids=("demo",)
    )
    assert again.removed == {}
    assert again.pseudonymised == {}
    assert len(world.erasures()) == 2  # both requests are on record


def test_erased_address_mark_is_written_once(world: ErasureWorld) -> None:
    first = ErasedAddress(pseudonym="erased:abc", at=T0, erasure_id="e1")
    world.erased.put(first)
    world.erased.put(first.model_copy(update={"at": T0 + timedelta(days=1), "erasure_id": "e2"}))
    assert world.erased.get("erased:abc") == first
    assert world.erased.get("erased:other") is None


def _ttl(clients: AwsClients, table: str) -> list[int]:
    items = clients.dynamodb.scan(TableName=TABLES[table])["Items"]
    return [int(item["expires_at"]["N"]) for item in items if "expires_at" in item]


def test_ledger_attempt_expires_a_retention_after_it(aws: AwsClients) -> None:  # noqa: F811
    ledger = DynamoLedger(TABLES["ledger"], retention_days=1276, client=aws.dynamodb)
    ledger.claim(claim("demo#A0001#c", 0, Channel.SMS, T0, PHONE))
    assert _ttl(aws, "ledger") == [int((T0 + timedelta(days=1276)).timestamp())]


def test_upload_record_expires_a_retention_after_the_file(aws: AwsClients) -> None:  # noqa: F811
    uploads = DynamoUploadStore(TABLES["uploads"], retention_days=1276, client=aws.dynamodb)
    record = UploadRecord(
        key=LENDER_FILE, etag="e1", lender_id="demo", kind=UploadKind.ACCOUNTS, received_at=T0
    )
    uploads.begin(record)
    uploads.finish(record.model_copy(update={"finished": True, "rows": 1, "accepted": 1}))
    assert _ttl(aws, "uploads") == [int((T0 + timedelta(days=1276)).timestamp())]


def test_erasure_lifts_the_opt_outs_every_lender_holds(world: ErasureWorld) -> None:
    # Given a borrower whose only account is with demo, who also opted out of another lender's
    # messages (a lender-scoped suppression, kept under that lender's key)
    borrower_everywhere(world)
    world.suppressions.put(
        Suppression(
            channel=Channel.SMS,
            address=PHONE,
            source=SuppressionSource.REPLY,
            at=T0,
            lender_id="acme",
        )
    )
    # When they are erased in a deployment serving both lenders
    borrower = find_borrower(world.accounts, address=PHONE)
    record = erase_borrower(world, borrower, key=KEY, at=T0, by="Ana", lender_ids=("demo", "acme"))
    # Then the other lender's opt-out is gone too: the hashed mark protects the address
    assert world.suppressions.get(Channel.SMS, PHONE, lender_id="acme") is None
    assert record.removed["suppressions"] == 2
