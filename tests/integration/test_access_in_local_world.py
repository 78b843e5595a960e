"""IAM in the local world: each handler's AWS calls are judged by its own role as the CDK app
synthesizes it, refused as AWS refuses them, and every grant of every role is needed.

One recorded run covers what the functions do in production: the sample simulation (uploads,
ladders, SMS and email, replies, payments), delivery receipts of both channels, a one-click
unsubscribe, a lender file long enough to continue in a second invocation, the plans of the
accepted lender files, and an inbound event, an upload and a plan that fail (so Lambda hands
them to the on-failure destination).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.bootstrap import LOCAL_UNSUBSCRIBE_KEY
from functions.core import intake
from functions.core.models import Channel
from functions.core.unsubscribe import make_unsubscribe_url
from functions.plan import uploads as plan_uploads
from functions.schedule import handler as schedule_handler
from functions.settings import PROJECT_ROOT
from rung import moto_patches
from rung.access.enforcer import Denial, Recorded
from rung.access.policy import Request, evaluate
from rung.access.roles import Principal
from rung.access.stack import push_platform_applications
from rung.access.template import synthesized_template
from rung.aws_calls import render_calls
from rung.engine import ScriptedReply, SimulationInput, read_replies
from rung.engine_full import AccessRefused, run_in, simulation_world
from rung.events import UNSUBSCRIBE_URL, inbound_sms_message
from rung.localworld import AccessDenials, LocalWorld
from tests.integration.test_optout_handler import url_event

pytestmark = pytest.mark.slow

SAMPLES = PROJECT_ROOT / "samples"
CONFIG_LENDERS = PROJECT_ROOT / "config" / "lenders"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aws"
START = datetime(2026, 12, 1, tzinfo=UTC)
AWS_CALLS_DOC = PROJECT_ROOT / "docs" / "aws-calls.md"
OURS = "+18005550100"  # the demo lender's number
LATE_ACCOUNTS = (
    b"account_id,first_name,phone,email,amount_due,currency,due_date,locale,country,state\n"
    b"L-1,Lee,,late.one@example.org,80.00,USD,2027-01-04,en-US,US,TX\n"
    b"L-2,Lou,+15085550177,,90.00,USD,2027-01-04,en-US,US,MA\n"
)


@dataclass(frozen=True)
class Recording:
    calls: frozenset[Recorded]
    principals: dict[str, Principal]


def _sample_run() -> SimulationInput:
    return SimulationInput(
        accounts_file=SAMPLES / "accounts.csv",
        lender_id="demo",
        start=START,
        days=35,
        replies=read_replies(SAMPLES / "replies.csv"),
        payments_file=SAMPLES / "payments.csv",
    )


def _fixture_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return event


def _publish_receipts(world: LocalWorld) -> None:
    """SES and End User Messaging events for messages the run really sent."""
    topic = world.resources.ses_feedback_topic_arn
    email_id = world.sent_emails()[0].message_id
    for name in ("ses_event_bounce.json", "ses_delivery.json"):
        message = json.loads(_fixture_event(name)["Records"][0]["Sns"]["Message"])
        message["mail"]["messageId"] = email_id
        world.client("sns").publish(TopicArn=topic, Message=json.dumps(message))
    sms = json.loads(_fixture_event("sms_delivery_event.json")["Records"][0]["Sns"]["Message"])
    sms["messageId"] = world.sent_sms()[0].message_id
    world.client("sns").publish(TopicArn=topic, Message=json.dumps(sms))


def _unsubscribe_click(world: LocalWorld) -> dict[str, Any]:
    url = make_unsubscribe_url(
        UNSUBSCRIBE_URL,
        LOCAL_UNSUBSCRIBE_KEY,
        address="late.one@example.org",
        lender_id="demo",
        account_id="L-1",
        issued_at=world.clock.now(),
    )
    token = url.split("token=")[1]
    event = url_event("POST", token, body="List-Unsubscribe=One-Click")
    response = world.client("lambda").invoke(
        FunctionName=world.resources.function_arns["unsubscribe"], Payload=json.dumps(event)
    )
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    return payload


def _reply(sender: str, text: str) -> ScriptedReply:
    return ScriptedReply(at=START, sender=sender, channel=Channel.SMS, text=text)


def _push_to_app_users(world: LocalWorld) -> None:
    """App push: two borrowers of a lender whose ladder has push rungs, one with a working
    endpoint and one whose endpoint the platform disabled (it becomes a suppression). The
    lender file is due six days ago, so the day-5 push rung is the one due now."""
    sns = world.client("sns")
    [application] = push_platform_applications()
    working, disabled = (
        sns.create_platform_endpoint(PlatformApplicationArn=application, Token=token)["EndpointArn"]
        for token in ("token-1", "token-2")
    )
    sns.set_endpoint_attributes(EndpointArn=disabled, Attributes={"Enabled": "false"})
    due = (world.clock.now() - timedelta(days=6)).date()
    rows = (
        "account_id,push_endpoint,amount_due,currency,due_date,timezone\n"
        f"P-1,{working},50.00,USD,{due},Asia/Tokyo\n"
        f"P-2,{disabled},50.00,USD,{due},Asia/Tokyo\n"
    )
    # The demo lender switched to the ladder with push rungs, without a deploy.
    shipped = (CONFIG_LENDERS / "demo.yaml").read_bytes()
    with_push = shipped.replace(b"\nladder: default\n", b"\nladder: with_push\n")
    assert with_push != shipped
    world.put_object("lenders/demo.yaml", with_push)
    world.put_object("uploads/demo/app.csv", rows.encode())
    # The recorded run ends at midnight UTC: 09:00 in Tokyo, the push rung is due now.
    world.clock.run_until(world.clock.now() + timedelta(minutes=1))
    world.put_object("lenders/demo.yaml", shipped)
    pushed = [r for r in world.gate_records() if r.account_id.startswith("P-")]
    assert sorted((r.account_id, r.channel, r.decision.value) for r in pushed if r.rung == 2) == [
        ("P-1", Channel.PUSH, "SENT"),
        ("P-2", Channel.PUSH, "SUPPRESSED"),
    ], pushed


def _crash(*args: object, **kwargs: object) -> None:
    raise RuntimeError("scripted crash while processing an upload")


@pytest.fixture(scope="module")
def recording() -> Recording:
    sim = _sample_run()
    with simulation_world(sim) as world:
        # The demo lender as `rung lenders push` stores it: every function reads it from the
        # bucket's lenders/ prefix (no deploy), under its own role.
        world.put_object("lenders/demo.yaml", (CONFIG_LENDERS / "demo.yaml").read_bytes())
        run_in(world, sim)
        _publish_receipts(world)
        # Two late accounts, whose ladders are running: one unsubscribes by the link in an
        # email, the other texts "stop all"; both ladders are stopped.
        world.put_object("uploads/demo/late.csv", LATE_ACCOUNTS)
        world.clock.settle()  # both ladders have taken their first step and wait
        assert _unsubscribe_click(world)["statusCode"] == 200
        world.publish_inbound_sms(inbound_sms_message(_reply("+15085550177", "stop all"), OURS))
        world.clock.settle()
        stopped = {
            e["name"].rsplit("-", 1)[0] for e in world.executions() if e["status"] == "ABORTED"
        }
        assert {"demo-L-1-2027-01-04", "demo-L-2-2027-01-04"} <= stopped, stopped
        # The second texts START: Rung's suppression and End User Messaging's opt-out lift.
        world.publish_inbound_sms(inbound_sms_message(_reply("+15085550177", "START"), OURS))
        # A lender file that does not fit one invocation continues in another (batches of 5
        # rows, and too little time left after each), rewriting its reject report.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(intake, "BATCH_SIZE", 5)
            patch.setattr(moto_patches, "_LAMBDA_TIMEOUT_MS", 1_000)
            world.put_object("uploads/demo/continued.csv", (SAMPLES / "accounts.csv").read_bytes())
        _push_to_app_users(world)
        # An OpenPGP-encrypted file: the schedule function reads the key's secret (none is
        # installed in this world, so the file is rejected whole, naming why).
        world.put_object("uploads/demo/sealed.csv.pgp", (SAMPLES / "accounts.csv.pgp").read_bytes())
        # Failed asynchronous invocations go to the on-failure destination: an inbound message
        # that is not one, and an upload whose processing crashes.
        world.publish_inbound_sms("this is not a two-way SMS message")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(schedule_handler, "ingest", _crash)
            world.put_object("payments/demo/crashes.csv", b"account_id,amount,paid_at\n")
        # ... and a lender file accepted whose planning crashes
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(plan_uploads, "plan_upload", _crash)
            world.put_object("uploads/demo/unplanned.csv", LATE_ACCOUNTS)
        failed = {error.function_name for error in world.handler_errors}
        assert failed == {"rung-optout", "Rung-schedule", "rung-plan"}, failed
        denials = world.access.take_denials()
        assert denials == []
        return Recording(frozenset(world.access.calls), dict(world.access.principals))


def test_the_recorded_run_touches_every_function_and_the_ladder(recording: Recording) -> None:
    principals = {call.principal for call in recording.calls}
    assert principals == {"schedule", "send", "optout", "unsubscribe", "plan", "ladder"}


def test_every_grant_of_every_role_is_needed(recording: Recording) -> None:
    """Remove any one Allow statement of any role, and some call of the run is refused; every
    Deny statement refuses something its role's Allows would otherwise permit."""
    unneeded = []
    for name, principal in recording.principals.items():
        calls = [call for call in recording.calls if call.principal == name]
        for grant in principal.grants:
            if grant.written.get("Effect") == "Deny":
                probe = Request("sns:Publish", "arn:aws:sns:us-east-1:123456789012:any-topic")
                others = [g.resolved for g in principal.grants if g is not grant]
                if not evaluate(others, probe).allowed:
                    unneeded.append(f"{name}: Deny {grant.origin} refuses nothing extra")
                continue
            if not any(
                not principal.allows(
                    call.action, call.resource, without=grant.origin, context=dict(call.context)
                )
                for call in calls
            ):
                unneeded.append(f"{name}: {grant.origin} {grant.written.get('Action')}")
    assert unneeded == [], "grants no recorded call needs:\n" + "\n".join(unneeded)


def test_docs_list_every_aws_call_each_function_makes(recording: Recording) -> None:
    rendered = render_calls(recording.calls, recording.principals)
    if os.environ.get("RUNG_WRITE_AWS_CALLS") == "1":  # `make aws-calls`
        AWS_CALLS_DOC.write_text(rendered, encoding="utf-8")
    current = AWS_CALLS_DOC.read_text(encoding="utf-8") if AWS_CALLS_DOC.is_file() else ""
    assert current == rendered, (
        "docs/aws-calls.md is out of date: run `make aws-calls` and commit the result"
    )


def _without_grant(role: str, action: str) -> dict[str, Any]:
    """The synthesized template with the statements granting `action` to the role whose
    logical id contains `role` removed."""
    template = copy.deepcopy(synthesized_template())
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or role not in str(
            resource["Properties"]["Roles"]
        ):
            continue
        document = resource["Properties"]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if action not in str(s["Action"])]
    return template


def _refused_run(template: dict[str, Any], days: int) -> tuple[LocalWorld, list[Denial], str]:
    """A run of the sample file on `template`, which IAM must stop; its denials and error."""
    sim = SimulationInput(
        accounts_file=SAMPLES / "accounts.csv", lender_id="demo", start=START, days=days
    )
    with LocalWorld(START, template=template, unsubscribe_url=UNSUBSCRIBE_URL) as world:
        with pytest.raises(AccessRefused, match="refused by IAM") as raised:
            run_in(world, sim)
        return world, world.access.take_denials(), str(raised.value)


def test_a_call_the_role_does_not_grant_is_refused_naming_function_action_and_resource() -> None:
    # Given the stack as it was before: the send role without the signing key's secret
    template = _without_grant("Send", "secretsmanager:GetSecretValue")
    # When the sample file runs up to its first email rungs
    world, denials, error = _refused_run(template, days=4)
    # Then the first email rung is refused as AWS would refuse it, and the message says who,
    # what and on which resource
    assert {(d.principal, d.action) for d in denials} == {("send", "secretsmanager:GetSecretValue")}
    assert all(":secret:rung-unsubscribe-key" in d.resource for d in denials)
    assert "send: secretsmanager:GetSecretValue on arn:aws:secretsmanager:" in error
    assert not world.sent_emails()  # no email went out without its unsubscribe link


def test_a_state_machine_that_may_not_invoke_send_is_refused() -> None:
    world, denials, _ = _refused_run(_without_grant("Ladder", "lambda:InvokeFunction"), days=2)
    assert denials and {(d.principal, d.action) for d in denials} == {
        ("ladder", "lambda:InvokeFunction")
    }
    assert all(d.resource == world.resources.function_arns["send"] for d in denials)
    assert not world.sent_sms()


def test_the_world_refuses_to_close_quietly_over_a_denial() -> None:
    template = _without_grant("Optout", "dynamodb:PutItem")
    refused = r"optout: dynamodb:GetItem on .*table/rung-suppressions"
    with pytest.raises(AccessDenials, match=refused), LocalWorld(START, template=template) as world:
        world.publish_inbound_sms(
            json.dumps(
                {
                    "originationNumber": "+14155550123",
                    "destinationNumber": "+18005550100",
                    "messageKeyword": "STOP",
                    "messageBody": "STOP",
                    "inboundMessageId": "in-1",
                    "previousPublishedMessageId": "",
                }
            )
        )
        world.clock.run_until(START + timedelta(minutes=1))
