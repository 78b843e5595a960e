"""App push end to end on the local world: a lender file with push endpoints, a ladder with push
rungs, the real ladder ASL on moto's Step Functions, the send handler's role checked against the
synthesized stack, SNS mobile push on moto (platform application and endpoints).

What the platform would deliver is read from moto's SNS endpoints, never from Rung's records.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.sns.models import sns_backends

from functions.core.approval import approve_lint_clean
from functions.core.ladder import load_ladder
from functions.core.lenders import load_lender
from functions.core.models import Account, AuditRecord, Channel, Decision, SuppressionSource
from functions.settings import PROJECT_ROOT
from rung.access.stack import push_platform_applications
from rung.engine import SimulationResult
from rung.localworld import ACCOUNT_ID, REGION, LocalWorld
from rung.report import summarize

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DUE = date(2026, 3, 1)
LADDER = load_ladder(PROJECT_ROOT, "with_push")
PUSH_RUNGS = [i for i, rung in enumerate(LADDER.rungs) if rung.channel is Channel.PUSH]
PRICES = load_lender(PROJECT_ROOT, "demo").prices
HEADER = "account_id,first_name,phone,email,push_endpoint,amount_due,currency,due_date,timezone"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LocalWorld]:
    # The demo lender, with the example ladder that adds push rungs to the default one.
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    shutil.copytree(PROJECT_ROOT / "ladders", tmp_path / "ladders")
    path = tmp_path / "config" / "lenders" / "demo.yaml"
    lender = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**lender, "ladder": "with_push"}), encoding="utf-8")
    with LocalWorld(START, config_root=tmp_path) as local:
        approve_lint_clean(
            local.services.templates,
            PROJECT_ROOT / "templates" / "messages",
            load_lender(tmp_path, "demo"),
            START,
        )
        yield local


def _endpoint(world: LocalWorld, token: str) -> str:
    """The borrower's app registers the device (CreatePlatformEndpoint), as the lender's app
    backend does; the lender file then carries the endpoint ARN."""
    [application] = push_platform_applications()
    response = world.client("sns").create_platform_endpoint(
        PlatformApplicationArn=application, Token=token
    )
    return str(response["EndpointArn"])


def _delivered(endpoint: str) -> list[dict[str, Any]]:
    """The notifications SNS accepted for `endpoint`, as the platforms would get them."""
    found = sns_backends[ACCOUNT_ID][REGION].platform_endpoints[endpoint]
    return [json.loads(message) for message in found.messages.values()]


def _push_records(world: LocalWorld, account: str) -> list[AuditRecord]:
    return sorted(
        (r for r in world.gate_records() if r.account_id == account and r.rung in PUSH_RUNGS),
        key=lambda record: (record.rung, record.at_utc),
    )


def test_push_rungs_go_through_the_gate_and_a_disabled_endpoint_suppresses(
    world: LocalWorld,
) -> None:
    # Given three borrowers: one with a working app, one whose app was uninstalled (the
    # platform disabled the endpoint), one without the app
    working = _endpoint(world, "token-ana")
    uninstalled = _endpoint(world, "token-ben")
    world.client("sns").set_endpoint_attributes(
        EndpointArn=uninstalled, Attributes={"Enabled": "false"}
    )
    rows = [
        f"P1,Ana,+12065550134,ana@example.com,{working},245.50,USD,{DUE},America/Los_Angeles",
        f"P2,Ben,+16175550188,ben@example.com,{uninstalled},80.00,USD,{DUE},America/New_York",
        f"P3,Cleo,+13125550147,cleo@example.com,,89.99,USD,{DUE},America/Chicago",
    ]

    # When the file is uploaded and the ladders run their 30 days
    world.put_object("uploads/demo/apps.csv", ("\n".join([HEADER, *rows]) + "\n").encode())
    world.clock.run_until(START + timedelta(days=35))

    # Then every ladder ended without a handler error (and the send role allowed every call)
    assert world.handler_errors == []
    assert [e["status"] for e in world.executions()] == ["SUCCEEDED"] * 3

    # ... Ana's two push rungs went through the gate: the first at 10:00 her time, the second
    #     held by the same frequency cap as any other channel (seven attempts in seven days
    #     count every channel) until it freed; SNS published exactly those two notifications
    #     to her endpoint, title and body for every platform
    decided = _push_records(world, "P1")
    assert [(r.rung, r.decision, r.reason) for r in decided] == [
        (PUSH_RUNGS[0], Decision.SENT, ""),
        (PUSH_RUNGS[1], Decision.DEFERRED, "cap_ladder_per_7_days"),
        (PUSH_RUNGS[1], Decision.SENT, ""),
    ]
    sent = [r for r in decided if r.decision is Decision.SENT]
    assert sent[0].at_local == "2026-03-06T10:00:00-08:00"
    delivered = _delivered(working)
    assert [message["default"] for message in delivered] == [r.body for r in sent]
    fcm = json.loads(delivered[0]["GCM"])["fcmV1Message"]["message"]["notification"]
    apns = json.loads(delivered[0]["APNS"])["aps"]["alert"]
    assert fcm == apns == {"title": "Demo Finance: payment past due", "body": sent[0].body}
    assert "5 days past due" in sent[0].body and "turn them off" in sent[0].body

    # ... Ben's disabled endpoint refused the first push, which became a suppression with the
    #     reason, so the second push rung was held back by the gate itself
    first, second = _push_records(world, "P2")
    assert (first.decision, first.reason) == (
        Decision.SUPPRESSED,
        "provider_rejected:push_endpoint_disabled",
    )
    assert (second.decision, second.rule) == (Decision.SUPPRESSED, "suppression")
    suppression = world.services.suppressions.get(Channel.PUSH, uninstalled)
    assert suppression is not None
    assert (suppression.source, suppression.detail) == (
        SuppressionSource.PROVIDER,
        "push_endpoint_disabled",
    )
    assert _delivered(uninstalled) == []

    # ... Cleo, without the app, had her push rungs suppressed for want of an address
    assert [(r.decision, r.reason) for r in _push_records(world, "P3")] == [
        (Decision.SUPPRESSED, "no_address")
    ] * 2

    # ... and the other channels went on as before: every SMS and email rung of all three
    others = [
        r
        for r in world.gate_records()
        if r.channel is not Channel.PUSH and r.decision is Decision.SENT
    ]
    assert len(others) == 3 * (len(LADDER.rungs) - len(PUSH_RUNGS))


def _no_blackout(record: AuditRecord, account: Account) -> str | None:
    return None


def _never_quiet(record: AuditRecord, account: Account) -> bool:
    return False


def test_the_simulators_summary_counts_push_like_the_other_channels(world: LocalWorld) -> None:
    # Given a borrower reachable by app push and by SMS only
    endpoint = _endpoint(world, "token-ana")
    row = f"P1,Ana,+12065550134,,{endpoint},245.50,USD,{DUE},America/Los_Angeles"
    world.put_object("uploads/demo/one.csv", f"{HEADER}\n{row}\n".encode())
    world.clock.run_until(START + timedelta(days=35))

    # When the simulator summarizes what the ladder did
    records = sorted(world.gate_records(), key=lambda r: (r.at_utc, r.rung))
    account = world.services.accounts.get("demo", "P1")
    assert account is not None
    result = SimulationResult(records=records, accounts=[account], suppressions=[], engine="full")
    summary = summarize(result, PRICES, in_quiet_hours=_never_quiet, on_blackout_day=_no_blackout)

    # Then push is counted per channel, per day and in the cost, like SMS and email
    sms_rungs = sum(1 for rung in LADDER.rungs if rung.channel is Channel.SMS)
    assert summary["sent"]["by_channel"] == {"sms": sms_rungs, "email": 0, "push": 2}
    push_days = [d for d, counts in summary["sent"]["by_day_utc"].items() if counts["push"]]
    assert push_days == ["2026-03-06", "2026-03-11"]  # days 5 and 10, 10:00 in Seattle
    assert summary["estimated_cost"]["push"] == float(PRICES.push * 2)
