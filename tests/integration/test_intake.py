"""The schedule Lambda on moto (S3, DynamoDB, Step Functions), and intake at scale in memory.

Small files run through the real handler and boto3 adapters on moto. The chunked-continuation
and 100 000-row cases use the in-memory adapters (moto's DynamoDB would take minutes for
100 000 rows); the memory case replaces the account store and ladder control with counting
sinks so that what is measured is intake's own footprint, not the stored data's (peak RSS of
a child interpreter: tracemalloc would slow 100 000 rows past a minute).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from functions.adapters.lender_store import S3LenderSource
from functions.adapters.memory import (
    MemoryAccountStore,
    MemoryEmail,
    MemoryLadderControl,
    MemoryObjectStore,
    MemoryUploadStore,
)
from functions.bootstrap import Services, aws_services
from functions.core.clock import FixedClock
from functions.core.intake import BATCH_SIZE, IntakeOutcome, ingest
from functions.core.ladder import execution_name
from functions.core.lenders import ShippedLenders
from functions.core.models import Account, AccountStatus, Channel, ContactPreference
from functions.schedule import handler as schedule
from functions.settings import PROJECT_ROOT, Settings
from rung.access.checked import checked_calls
from rung.access.enforcer import AccessEnforcer
from rung.access.stack import HANDLERS

REGION = "us-east-1"
BUCKET = "rung-uploads-test"
NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
SAMPLES = PROJECT_ROOT / "samples"


@dataclass
class FakeContext:
    """The LambdaContext attributes Powertools reads, and a remaining-time budget."""

    function_name: str = "rung-schedule"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:rung-schedule"
    aws_request_id: str = "req-1"
    remaining_millis: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@dataclass
class Aws:
    services: Services
    s3: Any
    sfn: Any
    state_machine_arn: str
    clock: FixedClock
    access: AccessEnforcer  # the schedule role of the synthesized stack judges its calls

    def put(self, key: str, body: bytes) -> str:
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]).strip('"')

    def event(self, key: str, etag: str) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                        "object": {"key": quote_plus(key, safe="/"), "eTag": etag, "size": 1},
                    },
                }
            ]
        }

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        etag = self.put(key, body)
        return self.invoke(self.event(key, etag))

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.access.invocation(HANDLERS["schedule"]):
            return schedule.handler(event, FakeContext(), services=self.services)

    def executions(self) -> dict[str, str]:
        listed = self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        return {execution["name"]: execution["status"] for execution in listed}

    def report(self, key: str) -> str:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8-sig")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        settings = Settings(uploads_bucket=BUCKET)
        _create_table(dynamodb, settings.accounts_table, indexes=("phone", "email"))
        _create_table(dynamodb, settings.uploads_table)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name="Rung-ladder",  # the name the stack gives it (and the schedule role names)
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
            roleArn="arn:aws:iam::123456789012:role/rung-ladder",
        )["stateMachineArn"]
        clock = FixedClock(NOW)
        settings = settings.model_copy(update={"state_machine_arn": arn})
        services = aws_services(settings, clock)
        with checked_calls(settings) as access:
            yield Aws(services, s3, sfn, arn, clock, access)
        assert access.denials == [], "calls the schedule role does not allow"


def _create_table(client: Any, name: str, indexes: tuple[str, ...] = ()) -> None:
    """The accounts / uploads schemas of docs/design.md, Data: pk `pk`, GSIs by_phone / by_email."""
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": key, "AttributeType": "S"} for key in ("pk", *indexes)
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": f"by_{key}",
                "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for key in indexes
        ]
    client.create_table(**request)


# -- the schedule Lambda on moto ---------------------------------------------------------------


def test_schedule_sample_upload_stores_accounts_starts_ladders_and_reports(aws: Aws) -> None:
    # When the demo sample lands in uploads/demo/
    answer = aws.upload("uploads/demo/2026-12-01.csv", (SAMPLES / "accounts.csv").read_bytes())
    # Then every row is accounted for in the upload record
    (record,) = answer["uploads"]
    assert (record["rows"], record["accepted"], record["rejected"]) == (15, 14, 1)
    assert record["finished"] and record["report_key"] == "rejects/demo/2026-12-01.rejects.csv"
    # And each of those calls was judged by the schedule role of the synthesized stack
    judged = {call.action for call in aws.access.calls if call.principal == "schedule"}
    assert judged >= {"s3:GetObject", "s3:PutObject", "dynamodb:BatchWriteItem"}
    assert "states:StartExecution" in judged
    # And the accounts are stored, national numbers in E.164
    boston = aws.services.accounts.get("demo", "D-1002")
    assert boston is not None and boston.phone == "+16175550188" and boston.state == "MA"
    wang = aws.services.accounts.get("demo", "D-1004")
    assert wang is not None and wang.first_name == "王芳" and wang.amount_due == Decimal("3500.00")
    assert aws.services.accounts.find_by_address(Channel.SMS, "+8613800138000") == [wang]
    # And one ladder per contactable account (D-1013 is DISPUTED: none), all at rung 0 now
    executions = aws.executions()
    assert len(executions) == 13
    assert execution_name("demo", "D-1013", "2026-12-01") not in executions
    # And the bad phone is in the reject report
    assert aws.report(record["report_key"]).splitlines() == [
        "row,account_id,field,reason",
        "8,D-1007,phone,not a valid phone number in region US",
    ]


def test_schedule_reads_a_url_encoded_key_as_the_object_s_name(aws: Aws) -> None:
    # Given a file whose name has a space (S3 sends the key form-encoded: "December+file.csv")
    answer = aws.upload("uploads/demo/December file.csv", (SAMPLES / "accounts.csv").read_bytes())
    # Then the object is read under its real name, and its report is named after it
    (record,) = answer["uploads"]
    assert record["key"] == "uploads/demo/December file.csv" and record["accepted"] == 14
    assert record["report_key"] == "rejects/demo/December file.rejects.csv"


def test_schedule_duplicate_event_changes_nothing(aws: Aws) -> None:
    body = (SAMPLES / "accounts.csv").read_bytes()
    key = "uploads/demo/2026-12-01.csv"
    etag = aws.put(key, body)
    first = aws.invoke(aws.event(key, etag))
    before = (aws.executions(), aws.services.accounts.get("demo", "D-1001"))
    # When S3 delivers the same event again, an hour later
    aws.clock.set(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    second = aws.invoke(aws.event(key, etag))
    # Then the record is the first one and nothing was started or written
    assert second == first
    assert (aws.executions(), aws.services.accounts.get("demo", "D-1001")) == before


def test_schedule_next_day_file_updates_balance_without_a_second_ladder(aws: Aws) -> None:
    header = "account_id,phone,email,amount_due,currency,due_date,status\n"
    aws.upload(
        "uploads/demo/day1.csv", (header + "A1,+12065550134,,100.00,USD,2026-11-25,\n").encode()
    )
    assert len(aws.executions()) == 1
    # Given the account was disputed by the borrower in between (status set elsewhere)
    aws.services.accounts.set_status("demo", "A1", AccountStatus.DISPUTED, NOW)
    # When the next day's file lowers the balance, same due date, no status
    aws.clock.set(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    aws.upload(
        "uploads/demo/day2.csv", (header + "A1,+12065550134,,60.00,USD,2026-11-25,\n").encode()
    )
    # Then the balance is updated, the status and cycle kept, and no second ladder started
    account = aws.services.accounts.get("demo", "A1")
    assert account is not None
    assert (account.amount_due, account.status, account.cycle) == (
        Decimal("60.00"),
        AccountStatus.DISPUTED,
        "2026-11-25",
    )
    assert len(aws.executions()) == 1


def test_schedule_file_cannot_lift_a_legal_status_and_keeps_preferences(aws: Aws) -> None:
    header = "account_id,phone,email,amount_due,currency,due_date,status\n"
    aws.upload(
        "uploads/demo/day1.csv", (header + "A1,+12065550134,,100.00,USD,2026-11-25,\n").encode()
    )
    # Given the borrower said "talk to my attorney" and "not after 6pm"
    aws.services.accounts.set_status("demo", "A1", AccountStatus.ATTORNEY, NOW)
    evening = ContactPreference(not_after=time(18, 0), at=NOW, rule="phrase:not after")
    aws.services.accounts.add_preference("demo", "A1", evening)
    # When the lender's next file marks the account ACTIVE
    aws.clock.set(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    aws.upload(
        "uploads/demo/day2.csv",
        (header + "A1,+12065550134,,60.00,USD,2026-11-25,ACTIVE\n").encode(),
    )
    # Then the attorney status stands (only a named reviewer lifts it), the preference too
    account = aws.services.accounts.get("demo", "A1")
    assert account is not None
    assert (account.amount_due, account.status) == (Decimal("60.00"), AccountStatus.ATTORNEY)
    assert account.contact_preferences == (evening,)


def test_schedule_lender_file_preferences_are_stored_and_replaced_by_the_next_file(
    aws: Aws,
) -> None:
    header = "account_id,phone,email,amount_due,currency,due_date,contact_hours,preferred_channel\n"
    # Given a file saying "18:00-20:00, email preferred", and a borrower's reply "no texts"
    aws.upload(
        "uploads/demo/day1.csv",
        (
            header + "A1,+12065550134,a@example.com,100.00,USD,2026-11-25,18:00-20:00,email\n"
        ).encode(),
    )
    said = ContactPreference(channel=Channel.SMS, excluded=True, at=NOW, rule="phrase:only")
    aws.services.accounts.add_preference("demo", "A1", said)
    stored = aws.services.accounts.get("demo", "A1")
    assert stored is not None
    from_file = [p for p in stored.contact_preferences if p.source == "lender_file"]
    assert [(p.rule, p.at) for p in from_file] == [
        ("contact_hours", NOW),
        ("preferred_channel", NOW),
    ]
    assert (from_file[0].not_before, from_file[0].not_after) == (time(18), time(20))
    # When the next file carries no preferences for the account
    later = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    aws.clock.set(later)
    aws.upload(
        "uploads/demo/day2.csv",
        (header + "A1,+12065550134,a@example.com,60.00,USD,2026-11-25,,\n").encode(),
    )
    # Then the lender file's are gone and the borrower's stays
    account = aws.services.accounts.get("demo", "A1")
    assert account is not None
    assert account.contact_preferences == (said,)


def test_schedule_new_due_date_starts_a_new_cycle_and_stops_the_old(aws: Aws) -> None:
    header = "account_id,phone,amount_due,currency,due_date\n"
    aws.upload(
        "uploads/demo/nov.csv", (header + "A1,+12065550134,100.00,USD,2026-11-25\n").encode()
    )
    aws.upload(
        "uploads/demo/dec.csv", (header + "A1,+12065550134,180.00,USD,2026-12-25\n").encode()
    )
    executions = aws.executions()
    assert executions[execution_name("demo", "A1", "2026-11-25")] == "ABORTED"
    assert executions[execution_name("demo", "A1", "2026-12-25")] == "RUNNING"


def test_schedule_payments_file_marks_paid_and_stops_the_execution(aws: Aws) -> None:
    aws.upload("uploads/demo/2026-12-01.csv", (SAMPLES / "accounts.csv").read_bytes())
    answer = aws.upload("payments/demo/2026-12-06.csv", (SAMPLES / "payments.csv").read_bytes())
    (record,) = answer["uploads"]
    assert (record["kind"], record["rows"], record["accepted"]) == ("payments", 2, 2)
    paid = aws.services.accounts.get("demo", "D-1001")
    assert paid is not None and paid.status is AccountStatus.PAID
    assert aws.executions()[execution_name("demo", "D-1001", "2026-11-25")] == "ABORTED"
    partial = aws.services.accounts.get("demo", "D-1004")
    assert partial is not None and partial.amount_due == Decimal("2500.00")
    assert aws.executions()[execution_name("demo", "D-1004", "2026-11-30")] == "RUNNING"


def test_schedule_unknown_lender_rejects_the_whole_file(aws: Aws) -> None:
    answer = aws.upload("uploads/acme/file.csv", (SAMPLES / "accounts.csv").read_bytes())
    (record,) = answer["uploads"]
    assert record["finished"] and record["rows"] == 0
    assert record["file_error"].startswith("unknown lender 'acme'")
    assert (
        aws.report("rejects/acme/file.rejects.csv")
        .splitlines()[1]
        .startswith(",,file,unknown lender 'acme'")
    )
    assert aws.executions() == {}


def test_schedule_reads_a_lender_pushed_to_the_bucket_without_a_deploy(aws: Aws) -> None:
    # Given a lender no shipped file knows, pushed to the bucket's lenders/ prefix (as
    # `rung lenders push` stores it), and the schedule function reading lenders from there
    demo = (PROJECT_ROOT / "config" / "lenders" / "demo.yaml").read_text(encoding="utf-8")
    aws.put("lenders/acme.yaml", demo.replace("lender_id: demo", "lender_id: acme").encode())
    aws.services = replace(
        aws.services,
        lenders=S3LenderSource(BUCKET, ShippedLenders(PROJECT_ROOT), cache_seconds=0.0),
    )

    # When its file arrives
    (record,) = aws.upload("uploads/acme/file.csv", (SAMPLES / "accounts.csv").read_bytes())[
        "uploads"
    ]

    # Then it is processed as any configured lender's, under the schedule role's grants
    assert (record["file_error"], record["rows"], record["accepted"]) == ("", 15, 14)
    assert len(aws.executions()) == 13


def test_schedule_whole_rejected_file_is_processed_when_delivered_again(
    aws: Aws, tmp_path: Path
) -> None:
    # Given a file rejected whole because its lender was not configured yet
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    aws.services = replace(
        aws.services,
        settings=aws.services.settings.model_copy(update={"config_root": tmp_path}),
        lenders=ShippedLenders(tmp_path),
    )
    key, body = "uploads/acme/file.csv", (SAMPLES / "accounts.csv").read_bytes()
    (first,) = aws.upload(key, body)["uploads"]
    assert first["file_error"].startswith("unknown lender 'acme'")
    # When the lender is configured and the identical file (same key and ETag) is delivered again
    demo = (config / "lenders" / "demo.yaml").read_text(encoding="utf-8")
    (config / "lenders" / "acme.yaml").write_text(
        demo.replace("lender_id: demo", "lender_id: acme"), encoding="utf-8"
    )
    aws.clock.set(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    (second,) = aws.upload(key, body)["uploads"]
    # Then it is processed as a second attempt, with its own report
    assert (second["attempt"], second["file_error"]) == (2, "")
    assert (second["rows"], second["accepted"], second["rejected"]) == (15, 14, 1)
    assert len(aws.executions()) == 13
    assert aws.report("rejects/acme/file.rejects.csv").splitlines()[1].startswith("8,D-1007,phone")
    # And a third delivery of the now-processed file is a duplicate: nothing more is done
    (third,) = aws.upload(key, body)["uploads"]
    assert third == second and len(aws.executions()) == 13


def test_schedule_report_neutralises_formula_injection(aws: Aws) -> None:
    body = 'account_id,phone,amount_due,currency,due_date\n=HYPERLINK("x"),bad,1,USD,2026-12-01\n'
    answer = aws.upload("uploads/demo/evil.csv", body.encode())
    report = aws.report(answer["uploads"][0]["report_key"])
    assert (
        report.splitlines()[1]
        == '2,"\'=HYPERLINK(""x"")",phone,not a phone number (no digits of a number)'
    )


def test_schedule_ignores_objects_outside_uploads_and_payments(aws: Aws) -> None:
    answer = aws.upload("rejects/demo/x.rejects.csv", b"row,account_id,field,reason\n")
    assert answer == {"uploads": []}


def test_schedule_logs_hold_no_phone_or_email(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    aws.upload("uploads/demo/2026-12-01.csv", (SAMPLES / "accounts.csv").read_bytes())
    (record,) = [r for r in caplog.records if r.getMessage() == "upload processed"]
    assert (record.rows, record.accepted, record.rejected) == (15, 14, 1)  # type: ignore[attr-defined]
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    for secret in ("+12065550134", "2065550134", "jane.doe@example.com", "王芳"):
        assert secret not in logged


# -- continuation and scale, in memory ---------------------------------------------------------


class MemoryPorts:
    def __init__(self) -> None:
        self.accounts = MemoryAccountStore()
        self.ladders = MemoryLadderControl()
        self.uploads = MemoryUploadStore()
        self.objects = MemoryObjectStore()
        self.email = MemoryEmail()  # receipts to the lender
        self.lenders = ShippedLenders(PROJECT_ROOT)


def generated_lines(rows: int, bad_every: int = 0, duplicate_every: int = 0) -> Iterator[str]:
    yield "account_id,first_name,phone,email,amount_due,currency,due_date,country,state\n"
    for i in range(rows):
        account = f"A{i // 2:07d}" if duplicate_every and i % duplicate_every == 1 else f"A{i:07d}"
        phone = "12" if bad_every and i % bad_every == 0 else f"+1206{2000000 + i:07d}"
        amount = f"{100 + i % 900}.25"
        yield f"{account},Name{i},{phone},user{i}@example.com,{amount},USD,2026-11-25,US,WA\n"


def generated_file(rows: int, bad_every: int = 0, duplicate_every: int = 0) -> bytes:
    return "".join(generated_lines(rows, bad_every, duplicate_every)).encode()


def run_in_chunks(ports: MemoryPorts, key: str, pauses: Iterable[bool]) -> list[IntakeOutcome]:
    decisions = iter(pauses)
    outcomes = [ingest(ports, key, "etag", NOW, PROJECT_ROOT, should_pause=lambda: next(decisions))]
    while outcomes[-1].continuation is not None:
        outcomes.append(
            ingest(
                ports,
                key,
                "etag",
                NOW,
                PROJECT_ROOT,
                resume=outcomes[-1].continuation,
                should_pause=lambda: next(decisions),
            )
        )
    return outcomes


def test_intake_in_three_chunks_equals_one_pass() -> None:
    # Given 1 200 rows with bad phones and duplicates spread over the whole file
    body = generated_file(1200, bad_every=97, duplicate_every=251)
    key = "uploads/demo/big.csv"
    one, three = MemoryPorts(), MemoryPorts()
    for ports in (one, three):
        ports.objects.put(key, body, "text/csv")
    # When one run never pauses and the other pauses after every batch of 500
    (single,) = run_in_chunks(one, key, pauses=[False] * 3)
    chunks = run_in_chunks(three, key, pauses=[True] * 3)
    # Then it took three invocations and everything is the same
    assert len(chunks) == 3 and 1200 // BATCH_SIZE == 2
    assert chunks[-1].record == single.record
    assert sum(c.accepted for c in chunks) == single.accepted == single.record.accepted
    assert single.record.rows == 1200 and single.record.rejected > 0
    assert sorted(three.accounts.all(), key=_key) == sorted(one.accounts.all(), key=_key)
    assert three.ladders.started == one.ladders.started
    report = single.record.report_key
    assert three.objects.open(report).read() == one.objects.open(report).read()


def test_intake_crash_retry_restarts_cleanly_without_duplicates() -> None:
    # Given a run that stopped after its first batch without recording the end (a crash)
    body = generated_file(1200, duplicate_every=251)
    key = "uploads/demo/big.csv"
    crashed, clean = MemoryPorts(), MemoryPorts()
    for ports in (crashed, clean):
        ports.objects.put(key, body, "text/csv")
    first = ingest(crashed, key, "etag", NOW, PROJECT_ROOT, should_pause=lambda: True)
    assert first.continuation is not None and not first.record.finished
    crashed.uploads.records[first.record.pk] = first.continuation.record  # unfinished
    # When S3's retry delivers the event again, the file is processed from the top
    retried = ingest(crashed, key, "etag", NOW, PROJECT_ROOT)
    reference = ingest(clean, key, "etag", NOW, PROJECT_ROOT)
    # Then its own earlier writes are not mistaken for duplicates
    assert (retried.record.rows, retried.record.accepted, retried.record.rejected) == (
        reference.record.rows,
        reference.record.accepted,
        reference.record.rejected,
    )
    assert sorted(crashed.accounts.all(), key=_key) == sorted(clean.accounts.all(), key=_key)
    assert set(crashed.ladders.started) == set(clean.ladders.started)


def test_intake_gbk_file_keeps_chinese_names_in_store_and_report() -> None:
    # Given the GBK sample plus one bad row whose account id is Chinese
    body = (SAMPLES / "accounts_gbk.csv").read_bytes()
    body += "账户-9,坏号,12,,1,CNY,2026-12-01,zh-CN,CN,\r\n".encode("gbk")
    ports = MemoryPorts()
    ports.objects.put("uploads/demo/gbk.csv", body, "text/csv")
    # When it is ingested
    outcome = ingest(ports, "uploads/demo/gbk.csv", "etag", NOW, PROJECT_ROOT)
    # Then the names are stored as written and the report is UTF-8 text Excel can read
    assert (outcome.record.accepted, outcome.record.rejected) == (4, 1)
    stored = ports.accounts.get("demo", "C-2001")
    assert stored is not None and stored.first_name == "张敏"
    report = ports.objects.open(outcome.record.report_key).read()
    assert report.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    assert report.decode("utf-8-sig").splitlines()[1] == (
        "6,账户-9,phone,not a valid phone number in region CN"
    )


def _key(account: Account) -> str:
    return account.key


@dataclass
class CountingAccounts:
    """An account store that keeps nothing: intake's memory is measured, not the data's."""

    written: int = 0

    def get(self, lender_id: str, account_id: str) -> Account | None:
        return None

    def put_many(self, accounts: Iterable[Account]) -> None:
        self.written += sum(1 for _ in accounts)

    def set_status(self, *args: Any) -> None:
        raise AssertionError("not used by an accounts upload")

    def find_by_address(self, channel: Channel, address: str) -> list[Account]:
        return []


@dataclass
class CountingLadders:
    started: int = 0

    def start(self, name: str, state_json: str) -> bool:
        self.started += 1
        return True

    def stop(self, name: str, cause: str) -> bool:
        return False


class CountingPorts:
    def __init__(self, objects: MemoryObjectStore) -> None:
        self.accounts = CountingAccounts()
        self.ladders = CountingLadders()
        self.uploads = MemoryUploadStore()
        self.objects = objects
        self.email = MemoryEmail()  # receipts to the lender
        self.lenders = ShippedLenders(PROJECT_ROOT)


def ingest_generated(folder: str, rows: int) -> str:
    """Run in a child process: ingest a generated file from disk; report counts and peak RSS."""
    key = "uploads/demo/generated.csv"
    path = Path(folder) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as file:
        file.writelines(generated_lines(rows))
    ports = CountingPorts(MemoryObjectStore(Path(folder)))
    outcome = ingest(ports, key, "etag", NOW, PROJECT_ROOT)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return json.dumps(
        [outcome.record.rows, ports.accounts.written, ports.ladders.started, peak_kib]
    )


def peak_rss(folder: Path, rows: int) -> tuple[int, int, int, int]:
    """Counts and peak RSS (KiB) of ingesting `rows` rows in a fresh interpreter."""
    script = (
        "from tests.integration.test_intake import ingest_generated;"
        f"print(ingest_generated({str(folder)!r}, {rows}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "UTC"},
    )
    rows_seen, written, started, peak = json.loads(done.stdout.splitlines()[-1])
    return rows_seen, written, started, peak


@pytest.mark.slow
def test_intake_100k_rows_streams_in_flat_memory(tmp_path: Path) -> None:
    # Given 10 000 and 100 000-row files on disk, each ingested in a fresh interpreter
    small = peak_rss(tmp_path / "small", 10_000)
    large = peak_rss(tmp_path / "large", 100_000)
    # Then all 100 000 rows reached the store in batches and started ladders
    assert large[:3] == (100_000, 100_000, 100_000)
    # And the peak memory does not grow with the file: 10x the rows, less than 16 MiB more
    # (the reader, one batch of 500 and the caches are all that intake holds)
    assert large[3] - small[3] < 16 * 1024, (small, large)
