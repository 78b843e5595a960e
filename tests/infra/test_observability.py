"""Observability: alarms with thresholds from cdk.json, and the stack outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from functions.settings import PROJECT_ROOT
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from rung.commands.erase import OUTPUTS as ERASE_OUTPUTS
from rung.commands.kpis import DATABASE_OUTPUT, WORKGROUP_OUTPUT
from rung.preflight import REQUIRED_OUTPUTS
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
        "ExperimentGuardrailBreached": thresholds.experiment_guardrails_breached,
        "ExecutionsFailed": thresholds.executions_failed,
        "ApproximateNumberOfMessagesVisible": thresholds.dead_letters,
        "Reputation.BounceRate": thresholds.ses_bounce_rate_percent / 100,
        "Reputation.ComplaintRate": thresholds.ses_complaint_rate_percent / 100,
    }
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [{"Ref": logical_id(synthesized.stack.observability.topic)}]


def test_ses_rate_alarms_fire_well_below_ses_review_levels(synthesized: Synthesized) -> None:
    # docs/compliance.md, Email reputation: SES reviews at 5 % bounces and 0.1 % complaints.
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
        "InboundMailRuleSetName": {"Ref": logical_id(stack.messaging.receipt_rules)},
        "AlarmTopicArn": {"Ref": logical_id(stack.observability.topic)},
        "AccountsTableName": {"Ref": logical_id(stack.storage.accounts)},
        "LedgerTableName": {"Ref": logical_id(stack.storage.ledger)},
        "AuditTableName": {"Ref": logical_id(stack.storage.audit)},
        "SuppressionsTableName": {"Ref": logical_id(stack.storage.suppressions)},
        # `rung erase` also reads these: the reviews table and the pseudonym key's secret
        "ReviewsTableName": {"Ref": logical_id(stack.storage.reviews)},
        "UnsubscribeSecretArn": {"Ref": logical_id(stack.functions.unsubscribe_secret)},
        # What each lender is given: the role it assumes to deliver files
        "UploadRoleArnDemo": {
            "Fn::GetAtt": [logical_id(stack.lender_access.upload_roles["demo"]), "Arn"]
        },
        # Where the ops console is, and the pool its people are added to
        "ConsoleUrl": outputs["ConsoleUrl"],
        "ConsoleUserPoolId": {"Ref": logical_id(stack.console.user_pool)},
        # Where `rung kpis --athena` queries, and where the analytics record is kept
        "AnalyticsWorkgroupName": {"Ref": logical_id(stack.analytics.workgroup)},
        "AnalyticsDatabaseName": stack.analytics.database_name,
        "AnalyticsBucketName": {"Ref": logical_id(stack.analytics.bucket)},
    }
    # `rung preflight`, `rung smoke`, `rung erase` and `rung kpis --athena` read exactly these.
    console = {"ConsoleUrl", "ConsoleUserPoolId"}
    kept = {"UploadRoleArnDemo", "AnalyticsBucketName"}  # for people: the lender, an analyst
    read = set(REQUIRED_OUTPUTS) | set(ERASE_OUTPUTS.values()) | {WORKGROUP_OUTPUT, DATABASE_OUTPUT}
    assert set(outputs) - kept - console == read


def test_handlers_emit_metrics_where_the_alarms_look(synthesized: Synthesized) -> None:
    # Given each handler imported as the Lambda runtime imports it: a fresh interpreter with
    # the environment the stack gives that function (not whatever this test process holds)
    from functions.observability import METRICS_NAMESPACE

    for resource in synthesized.resources("AWS::Lambda::Function").values():
        properties = resource["Properties"]
        if not properties["Handler"].startswith("functions."):
            continue
        variables = properties["Environment"]["Variables"]
        env = {
            "PATH": os.environ["PATH"],
            "AWS_DEFAULT_REGION": "us-east-1",
            **{key: value for key, value in variables.items() if isinstance(value, str)},
        }
        module = properties["Handler"].rsplit(".", 1)[0]
        probe = (
            "import importlib, json; "
            f"m = importlib.import_module({module!r}).metrics; "
            "print(json.dumps([m.namespace, m.service]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        namespace, service = json.loads(result.stdout.strip().splitlines()[-1])
        # Then their metrics land in the alarms' namespace, under the service dimension the
        # stack sets (POWERTOOLS_SERVICE_NAME), never a name of their own that no alarm watches
        assert namespace == METRICS_NAMESPACE, module
        assert service == variables["POWERTOOLS_SERVICE_NAME"], module


def test_ses_reputation_alarms_pause_email_through_the_optout_function(
    synthesized: Synthesized,
) -> None:
    # Given the alarm topic and the optout function
    stack = synthesized.stack
    names = stack.observability.email_pause_alarm_names
    alarm_names = {
        a["Properties"]["MetricName"]: a["Properties"]["AlarmName"]
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
    }
    # Then the two SES rate alarms are the ones named for the pause
    assert sorted(names) == sorted(
        [alarm_names["Reputation.BounceRate"], alarm_names["Reputation.ComplaintRate"]]
    )
    # ... the optout function is told their names
    env = synthesized.resource(stack.functions.optout)["Properties"]["Environment"]["Variables"]
    assert env["RUNG_EMAIL_PAUSE_ALARMS"] == ",".join(names)
    # ... and it listens on the alarm topic
    topic = {"Ref": logical_id(stack.observability.topic)}
    subscribed = [
        s["Properties"]
        for s in synthesized.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == topic
    ]
    optout = {"Fn::GetAtt": [logical_id(stack.functions.optout), "Arn"]}
    assert [s["Endpoint"] for s in subscribed if s["Protocol"] == "lambda"] == [optout]
