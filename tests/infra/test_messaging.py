"""Messaging: encrypted TLS-only topics, the SES and SMS configuration sets, the dead letters."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized, arn_of, logical_id

TOPICS = ["inbound_sms", "ses_feedback", "inbound_email"]


def test_every_topic_is_kms_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    # Given all topics, including the alarm topic
    topics = synthesized.resources("AWS::SNS::Topic")
    assert len(topics) == len(TOPICS) + 1
    key = arn_of(synthesized.stack.messaging.key)
    policies = synthesized.resources("AWS::SNS::TopicPolicy").values()
    for topic_id, topic in topics.items():
        # Then each uses the messaging key
        assert topic["Properties"]["KmsMasterKeyId"] == key
        # And its policy denies publishing without TLS
        (policy,) = [p for p in policies if {"Ref": topic_id} in p["Properties"]["Topics"]]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )


@pytest.mark.parametrize("topic", TOPICS)
def test_inbound_topics_feed_optout_with_redrive(synthesized: Synthesized, topic: str) -> None:
    # Given one inbound topic
    topic_ref = {"Ref": logical_id(getattr(synthesized.stack.messaging, topic))}
    # When we find its subscriptions
    (subscription,) = [
        s["Properties"]
        for s in synthesized.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == topic_ref
    ]
    # Then the optout function receives it and undeliverable messages go to the DLQ
    assert subscription["Protocol"] == "lambda"
    assert subscription["Endpoint"] == arn_of(synthesized.stack.functions.optout)
    assert subscription["RedrivePolicy"] == {
        "deadLetterTargetArn": arn_of(synthesized.stack.messaging.dead_letters)
    }


def test_configuration_set_publishes_feedback_and_tracks_reputation(
    synthesized: Synthesized,
) -> None:
    messaging = synthesized.stack.messaging
    (config_set,) = synthesized.resources("AWS::SES::ConfigurationSet").values()
    properties = config_set["Properties"]
    assert properties["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert properties["SuppressionOptions"]["SuppressedReasons"] == ["BOUNCE", "COMPLAINT"]
    (destination,) = synthesized.resources("AWS::SES::ConfigurationSetEventDestination").values()
    event_destination = destination["Properties"]["EventDestination"]
    assert destination["Properties"]["ConfigurationSetName"] == {
        "Ref": logical_id(messaging.configuration_set)
    }
    assert set(event_destination["MatchingEventTypes"]) == {
        "bounce",
        "complaint",
        "delivery",
        "reject",
    }
    assert event_destination["SnsDestination"] == {
        "TopicARN": {"Ref": logical_id(messaging.ses_feedback)}
    }


def test_sms_configuration_set_sends_final_receipts_to_the_delivery_topic(
    synthesized: Synthesized,
) -> None:
    # Given the End User Messaging SMS configuration set every text names
    messaging = synthesized.stack.messaging
    resource = synthesized.resource(messaging.sms_configuration_set)
    (destination,) = resource["Properties"]["EventDestinations"]
    # Then its enabled SNS destination is the delivery-events topic, for final outcomes only
    assert destination["Enabled"] is True
    assert destination["SnsDestination"] == {
        "TopicArn": {"Ref": logical_id(messaging.ses_feedback)}
    }
    assert "TEXT_DELIVERED" in destination["MatchingEventTypes"]
    assert all(t.startswith("TEXT_") for t in destination["MatchingEventTypes"])
    assert not {"TEXT_ALL", "TEXT_PENDING", "TEXT_QUEUED"} & set(destination["MatchingEventTypes"])
    # And it is created after the topic's policy (End User Messaging checks it may publish)
    (policy_id,) = [
        policy_id
        for policy_id, policy in synthesized.resources("AWS::SNS::TopicPolicy").items()
        if {"Ref": logical_id(messaging.ses_feedback)} in policy["Properties"]["Topics"]
    ]
    assert policy_id in resource["DependsOn"]
    # And the functions name it
    send = synthesized.resource(synthesized.stack.functions.send)["Properties"]
    assert send["Environment"]["Variables"]["RUNG_SMS_CONFIGURATION_SET"] == {
        "Ref": logical_id(messaging.sms_configuration_set)
    }


def test_inbound_mail_rule_publishes_to_inbound_email_topic(synthesized: Synthesized) -> None:
    (rule,) = synthesized.resources("AWS::SES::ReceiptRule").values()
    (action,) = rule["Properties"]["Rule"]["Actions"]
    assert action["SNSAction"] == {
        "TopicArn": {"Ref": logical_id(synthesized.stack.messaging.inbound_email)},
        "Encoding": "UTF-8",
    }
    assert rule["Properties"]["Rule"]["ScanEnabled"] is True


def test_dead_letter_queue_is_encrypted_tls_only_and_kept_14_days(
    synthesized: Synthesized,
) -> None:
    queue = synthesized.resource(synthesized.stack.messaging.dead_letters)["Properties"]
    assert queue["KmsMasterKeyId"] == arn_of(synthesized.stack.messaging.key)
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = synthesized.resources("AWS::SQS::QueuePolicy").values()
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
