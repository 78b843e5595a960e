"""Every hand-over between AWS services in the stack is one AWS would allow.

moto accepts any publish or invocation; these tests evaluate each edge of the synthesized
template against its resource policies (topic, queue, key, Lambda permission) as AWS does,
and show, by removing the statement that makes an edge work, that the check would fail.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rung.access.edges import Edge, edges
from tests.infra.conftest import Synthesized, logical_id


def _refused(template: dict[str, Any]) -> list[Edge]:
    return [edge for edge in edges(template) if not edge.allowed]


def _names(template: dict[str, Any], fragment: str) -> list[str]:
    return [edge.name for edge in edges(template) if fragment in edge.name]


def test_every_integration_edge_is_allowed(synthesized: Synthesized) -> None:
    refused = _refused(synthesized.template)
    assert refused == [], "\n".join(f"{edge.name}: {edge.problems}" for edge in refused)


def test_every_kind_of_edge_is_checked(synthesized: Synthesized) -> None:
    names = [edge.name for edge in edges(synthesized.template)]
    for fragment in (
        "SES events of",
        "SES receipt rule",
        "End User Messaging SMS (InboundSmsTopicArn)",
        "End User Messaging SMS (DeliveryEventsTopicArn)",
        "alarm ",
        "S3 notification",
        "subscription ",
        "dead letters → queue",
        "on-failure destination",
        "state machine",
    ):
        assert any(fragment in name for name in names), fragment
    # Every alarm's action is an edge of its own
    alarms = synthesized.resources("AWS::CloudWatch::Alarm")
    assert len(_names(synthesized.template, "(AlarmActions)")) == len(alarms)


def _without_statement(template: dict[str, Any], policy_id: str, predicate: Any) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    document = changed["Resources"][policy_id]["Properties"]["PolicyDocument"]
    kept = [statement for statement in document["Statement"] if not predicate(statement)]
    assert len(kept) < len(document["Statement"]), "the statement to remove was not found"
    document["Statement"] = kept
    return changed


def test_alarms_reach_their_topic_only_while_its_policy_lets_cloudwatch_publish(
    synthesized: Synthesized,
) -> None:
    # Given the alarm topic's policy without its CloudWatch statement (the stack before the fix:
    # only the TLS deny, so SNS's default policy no longer applies)
    policy = logical_id(synthesized.stack.observability.topic.node.find_child("Policy"))
    broken = _without_statement(
        synthesized.template, policy, lambda s: s.get("Sid") == "CloudWatchAlarmsPublish"
    )
    # Then every alarm's notification is refused, and the email channel would never pause
    refused = [edge.name for edge in _refused(broken)]
    assert refused and all("alarm " in name for name in refused)
    assert len(refused) == len(synthesized.resources("AWS::CloudWatch::Alarm"))


def test_sms_delivery_events_need_end_user_messaging_on_the_delivery_topic(
    synthesized: Synthesized,
) -> None:
    # Given the delivery-events topic admitting SES only (the stack before the fix)
    topic = synthesized.stack.messaging.ses_feedback
    policy = logical_id(topic.node.find_child("Policy"))
    broken = copy.deepcopy(synthesized.template)
    for statement in broken["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]:
        if statement.get("Sid") == "ServicePublishes":
            statement["Principal"] = {"Service": "ses.amazonaws.com"}
    # Then End User Messaging's TEXT_* events are refused; SES's still arrive
    refused = [edge.name for edge in _refused(broken)]
    assert refused == [
        "End User Messaging SMS (DeliveryEventsTopicArn) → topic MessagingSesFeedback"
    ]


def test_the_receipt_rule_is_created_after_the_inbound_topic_policy(
    synthesized: Synthesized,
) -> None:
    rules = synthesized.resources("AWS::SES::ReceiptRule")
    assert len(rules) == 1
    (rule_id,) = rules
    broken = copy.deepcopy(synthesized.template)
    broken["Resources"][rule_id].pop("DependsOn", None)
    refused = [edge.name for edge in _refused(broken)]
    assert refused == [
        "MessagingInboundMailRule0 is created after the policy of topic MessagingInboundEmail"
    ]


def test_an_encrypted_topic_needs_its_key_to_trust_the_publisher(synthesized: Synthesized) -> None:
    # Given the messaging key's policy without the statement for AWS services that publish
    key = logical_id(synthesized.stack.messaging.key)
    broken = copy.deepcopy(synthesized.template)
    document = broken["Resources"][key]["Properties"]["KeyPolicy"]
    document["Statement"] = [
        s for s in document["Statement"] if s.get("Sid") != "AwsServicesPublishingToRung"
    ]
    refused = _refused(broken)
    # Then SES, End User Messaging, CloudWatch and SNS's redrive are all refused by the key
    problems = " ".join(problem for edge in refused for problem in edge.problems)
    for service in ("ses", "sms-voice", "cloudwatch", "sns"):
        assert f"{service}.amazonaws.com kms:GenerateDataKey" in problems


@pytest.mark.parametrize(
    "fragment", ["S3 notification", "subscription FunctionsOptoutInboundSms →"]
)
def test_an_invocation_needs_its_lambda_permission(synthesized: Synthesized, fragment: str) -> None:
    broken = copy.deepcopy(synthesized.template)
    resources = broken["Resources"]
    for key in [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Permission"]:
        del resources[key]
    refused = [edge.name for edge in _refused(broken)]
    assert any(fragment in name for name in refused)
