"""Erasure in the local world: after a simulation has texted, emailed, heard replies, opened a
review and written a reject report, `rung erase --address` leaves no raw phone number or email
address of the borrower in any table, any object of the bucket (every version), any ladder
execution's input or output, or the functions' logs — and the address, sent again by the
lender, is still never contacted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.bootstrap import LOCAL_UNSUBSCRIBE_KEY
from functions.core.models import Channel, Decision, Suppression, SuppressionSource
from rung.cli import main
from rung.engine import ScriptedReply, SimulationInput
from rung.engine_full import run_in
from rung.events import UNSUBSCRIBE_URL
from rung.localworld import LocalWorld

pytestmark = pytest.mark.slow

START = datetime(2026, 12, 1, tzinfo=UTC)
PHONE = "+12065550134"
EMAIL = "jane.doe@example.com"
# How the borrower's contacts appear anywhere: E.164, as the lender wrote the number, and the
# email in the lender's own case.
RAW_FORMS = (PHONE, "(206) 555-0134", "2065550134", EMAIL)
ACCOUNTS = (
    "account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state\n"
    "E-1,Jane,(206) 555-0134,Jane.Doe@Example.com,245.50,USD,2026-11-30,en-US,US,WA\n"
    "E-2,Omar,+12125550147,omar@example.net,89.99,USD,2026-11-30,en-US,US,NY\n"
    # Rejected (no amount): a reject report is written (it names rows, never contacts).
    "E-3,Jane,,jane.doe@example.com,,USD,2026-11-30,en-US,US,WA\n"
)
REPLIES = (
    # Not understood: a review a person must read, its text holding the number.
    ScriptedReply(START + timedelta(days=1, hours=17), PHONE, Channel.SMS, f"who is this? {PHONE}"),
    ScriptedReply(START + timedelta(days=3, hours=20), PHONE, Channel.SMS, "STOP"),
)


@pytest.fixture(scope="module")
def erased_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalWorld, str]]:
    folder: Path = tmp_path_factory.mktemp("erasure")
    accounts = folder / "erasure.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    logs = io.StringIO()
    sim = SimulationInput(
        accounts_file=accounts, lender_id="demo", start=START, days=4, replies=REPLIES
    )
    world = LocalWorld(
        START,
        lender_ids=("demo",),
        unsubscribe_url=UNSUBSCRIBE_URL,
        unsubscribe_key=LOCAL_UNSUBSCRIBE_KEY,
        log_level="INFO",  # the deployed level (cdk.json)
        log_stream=logs,
    )
    with world:
        run_in(world, sim)
        yield world, logs.getvalue()


def everything_stored(world: LocalWorld) -> dict[str, str]:
    """Every item of every table, every version of every object, every execution's input and
    output: where it is -> its text."""
    places: dict[str, str] = {}
    dynamodb = world.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                where = (
                    f"table {table} item {json.dumps(item.get('pk'))} {json.dumps(item.get('sk'))}"
                )
                places[where] = json.dumps(item, ensure_ascii=False)
    s3 = world.client("s3")
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                key, version_id = version["Key"], version["VersionId"]
                body = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
                text = body["Body"].read().decode("utf-8", errors="replace")
                places[f"s3://{bucket}/{key}@{version_id}"] = f"{key}\n{text}"
    sfn = world.client("stepfunctions")
    for execution in world.executions():
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        text = f"{described.get('input', '')}\n{described.get('output', '')}"
        places[f"execution {execution['name']}"] = text
    return places


def raw_forms_in(text: str) -> list[str]:
    return [form for form in RAW_FORMS if form.lower() in text.lower()]


def leaks(places: dict[str, str]) -> dict[str, list[str]]:
    return {where: found for where, text in places.items() if (found := raw_forms_in(text))}


def test_erasure_leaves_no_raw_address_anywhere(
    erased_world: tuple[LocalWorld, str], capsys: pytest.CaptureFixture[str]
) -> None:
    world, logs = erased_world
    # Given a run that stored the borrower's contacts in tables, files and reports
    before = leaks(everything_stored(world))
    assert {form for found in before.values() for form in found} >= {PHONE, EMAIL, "(206) 555-0134"}
    assert world.services.reviews.pending(), "the unclear reply waits for a person"

    # When ops erase the borrower by phone number (the CLI, as on AWS with credentials)
    capsys.readouterr()
    code = main(["erase", "--address", PHONE, "--by", "Ana (ops)", "--json"])
    answer = json.loads(capsys.readouterr().out)

    # Then it is done and says what it did
    assert code == 0
    assert answer["removed"]["accounts"] == 1
    assert answer["removed"]["suppressions"] == 1  # the STOP, now held by its hash
    assert answer["removed"]["lender_files"] == 1
    assert answer["pseudonymised"]["ledger"] >= 2  # the SMS and the email attempts
    assert answer["pseudonymised"]["reviews"] == 1
    assert len(answer["addresses"]) == 2  # the phone and the email of account E-1
    # ... and no raw form of either address is left in any table, object or execution
    assert leaks(everything_stored(world)) == {}
    # ... nor in the functions' logs (they only ever held masked addresses)
    assert raw_forms_in(logs) == []
    # ... while the other borrower is untouched
    assert world.services.accounts.get("demo", "E-2") is not None
    # ... and the audit says who erased, pseudonymously
    audit = world.client("dynamodb").scan(TableName=world.settings.audit_table)["Items"]
    [erasure] = [item for item in audit if item["pk"]["S"].startswith("erasure#")]
    assert erasure["by"]["S"] == "Ana (ops)"
    assert "expires_at" in erasure


def test_erased_address_sent_again_is_suppressed(
    erased_world: tuple[LocalWorld, str], capsys: pytest.CaptureFixture[str]
) -> None:
    world, _ = erased_world
    # Given the borrower erased (again, if the test above ran first: an erasure is idempotent,
    # and with several test workers this test may run in a world of its own) ...
    assert main(["erase", "--address", PHONE, "--by", "Ana (ops)", "--json"]) == 0
    capsys.readouterr()
    assert world.services.accounts.get("demo", "E-1") is None
    # When the lender sends the number again, on a new account
    again = (
        "account_id,first_name,phone,amount_due,currency,due_date,locale,country,state\n"
        f"E-9,Jane,{PHONE},50.00,USD,2026-12-04,en-US,US,WA\n"
    )
    world.clock.run_until(datetime(2026, 12, 5, 12, tzinfo=UTC))
    texted_before = [sms for sms in world.sent_sms() if sms.to == PHONE]
    world.put_object("uploads/demo/again.csv", again.encode("utf-8"))
    world.clock.run_until(datetime(2026, 12, 6, 12, tzinfo=UTC))
    # Then its first rung is SUPPRESSED, saying why, and nothing is sent to it
    decisions = [r for r in world.gate_records() if r.account_id == "E-9"]
    assert decisions, "the ladder ran"
    assert {(r.decision, r.reason) for r in decisions} == {(Decision.SUPPRESSED, "erased")}
    assert [sms for sms in world.sent_sms() if sms.to == PHONE] == texted_before


def test_erasure_lifts_an_opt_out_kept_by_a_lender_without_their_account(
    erased_world: tuple[LocalWorld, str], capsys: pytest.CaptureFixture[str]
) -> None:
    world, _ = erased_world
    # Given the borrower opted out of another lender's texts (kept under that lender's key),
    # a lender the deployment serves that holds no account of theirs
    optout = Suppression(
        channel=Channel.SMS,
        address=PHONE,
        source=SuppressionSource.REPLY,
        at=START,
        lender_id="smoke",
    )
    world.services.suppressions.put(optout)
    # When ops erase the borrower
    assert main(["erase", "--address", PHONE, "--by", "Ana (ops)", "--json"]) == 0
    capsys.readouterr()
    # Then that opt-out is gone too: the address is held by its hash alone
    assert world.services.suppressions.get(Channel.SMS, PHONE, lender_id="smoke") is None
    assert leaks(everything_stored(world)) == {}


def test_erasing_an_unknown_account_is_refused(
    erased_world: tuple[LocalWorld, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(["erase", "--account", "NOPE", "--lender", "demo", "--by", "Ana", "--json"])
    assert code == 2
    assert "no account 'NOPE' for lender 'demo'" in capsys.readouterr().out


def test_simulation_outputs_hold_masked_addresses_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same borrowers and replies, simulated (messages.csv, summary.json, report.html)
    accounts, replies, out = tmp_path / "erasure.csv", tmp_path / "replies.csv", tmp_path / "out"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    rows = [f"{r.at:%Y-%m-%dT%H:%M:%SZ},{r.sender},{r.channel.value},{r.text}" for r in REPLIES]
    replies.write_text("at,from,channel,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    start = f"{START:%Y-%m-%dT%H:%M:%SZ}"
    options = ["--replies", str(replies), "--start", start, "--days", "4", "--out", str(out)]
    # The fast engine: the full one would start a second local world inside this module's.
    code = main(["simulate", str(accounts), *options, "--engine", "fast", "--json"])
    capsys.readouterr()
    assert code in (0, 1)  # 1: a row was rejected, as the file intends
    written = {p.name: _readable(p) for p in out.rglob("*") if p.is_file()}
    assert {"messages.csv", "summary.json", "report.html"} <= set(written)
    assert any(name.endswith(".parquet") for name in written)  # read by columns, not bytes
    assert "+1******0134" in written["messages.csv"]  # the borrower is there, masked
    # Then no output names the borrower's raw phone number or email address
    assert {name: found for name, text in written.items() if (found := raw_forms_in(text))} == {}


def _readable(path: Path) -> str:
    """A written output as text: Parquet (the analytics record) through its rows, since its
    compressed bytes would hide a raw address from a text search."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
    return path.read_text(encoding="utf-8", errors="replace")
