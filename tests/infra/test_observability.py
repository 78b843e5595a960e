"""Observability: alarms with thresholds from cdk.json, and the stack outputs."""

from __future__ import annotations

from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from tests.infra.conftest import Synthesized, logical_id

CONFIG = RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY])


def _alarms_by_metric(synth: Synthesized) -> dict[str, dict]:
    return {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def test_alarms_watch_what_must_never_go_unnoticed(synthesized: Synthesized) -> None:
    # Given the alarms / Then each metric is watched with its configured threshold
    alarms = _alarms_by_metric(synthesized)
    thresholds = CONFIG.alarms
    assert {name: a["Threshold"] for name, a in alarms.items()} == {
        "UncertainSends": thresholds.uncertain_sends,
        "TemplateNotApproved": thresholds.template_not_approved,
        "ExecutionsFailed": thresholds.executions_failed,
        "ApproximateNumberOfMessagesVisible": thresholds.dead_letters,
        "Reputation.BounceRate": thresholds.ses_bounce_rate_percent / 100,
        "Reputation.ComplaintRate": thresholds.ses_complaint_rate_percent / 100,
    }
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [{"Ref": logical_id(synthesized.stack.observability.topic)}]


def test_ses_rate_alarms_fire_well_below_ses_review_levels(synthesized: Synthesized) -> None:
    # COMPLIANCE §6: SES reviews at 5 % bounces and 0.1 % complaints.
    alarms = _alarms_by_metric(synthesized)
    assert alarms["Reputation.BounceRate"]["Threshold"] <= 0.05 / 2
    assert alarms["Reputation.ComplaintRate"]["Threshold"] <= 0.001 / 2


def test_rung_metric_alarms_use_the_powertools_service_dimension(
    synthesized: Synthesized,
) -> None:
    alarms = _alarms_by_metric(synthesized)
    for name in ("UncertainSends", "TemplateNotApproved"):
        assert alarms[name]["Namespace"] == "Rung"
        assert alarms[name]["Dimensions"] == [{"Name": "service", "Value": CONFIG.service_name}]


def test_stack_outputs_name_the_operator_entry_points(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    outputs = {k: v["Value"] for k, v in synthesized.template["Outputs"].items()}
    assert outputs == {
        "UploadsBucketName": {"Ref": logical_id(stack.storage.bucket)},
        "LadderStateMachineArn": {"Ref": logical_id(stack.ladder.state_machine)},
        "InboundSmsTopicArn": {"Ref": logical_id(stack.messaging.inbound_sms)},
        "DeliveryEventsTopicArn": {"Ref": logical_id(stack.messaging.ses_feedback)},
        "UnsubscribeUrl": {
            "Fn::GetAtt": [logical_id(stack.functions.unsubscribe_url), "FunctionUrl"]
        },
    }
