"""Functions: four handlers, one asset, the pinned Powertools layer, a least-privilege role each."""

from __future__ import annotations

import json
import os
from importlib import metadata
from typing import Any

import pytest

from functions.bootstrap import (
    PORTS,
    Unwired,
    optout_services,
    plan_services,
    schedule_services,
    send_services,
    unsubscribe_services,
)
from functions.core.errors import ConfigError
from functions.core.retention import load_retention
from functions.observability import METRICS_NAMESPACE
from functions.settings import FUNCTION_SETTINGS, PROJECT_ROOT
from infra.components.analytics import HANDLER as ANALYTICS_HANDLER
from infra.components.console import HANDLER as CONSOLE_HANDLER
from infra.components.functions import receipt_recipients
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from rung.access.policy import Request, evaluate
from tests.infra.conftest import (
    Synthesized,
    arn_of,
    as_list,
    logical_id,
    resources_for,
    role_actions,
    role_statements,
)

CONFIG = RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY])
HANDLERS = {
    "schedule": "functions.schedule.handler.handler",
    "send": "functions.send.handler.handler",
    "optout": "functions.optout.handler.handler",
    "unsubscribe": "functions.optout.unsubscribe.handler",
    "plan": "functions.plan.handler.handler",
}
ALWAYS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
DEAD_LETTER_SEND = {
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
}
# Least privilege, spelled out from what the adapters call (functions/adapters/*.py): any new
# permission must be added here on purpose.
STOP_LADDER = {"states:DescribeExecution", "states:StopExecution"}
# Lender files pushed without a deploy: read the lenders/ prefix of the bucket (its key decrypts).
READ_LENDERS = {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
EXPECTED_ACTIONS = {
    "schedule": ALWAYS
    | DEAD_LETTER_SEND
    | STOP_LADDER
    | READ_LENDERS
    | {
        "s3:GetObject",
        "s3:PutObject",
        "kms:GenerateDataKey",
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "states:StartExecution",
        "lambda:InvokeFunction",
        "secretsmanager:GetSecretValue",  # the OpenPGP key of encrypted lender files
        "ses:SendEmail",  # the lender's receipt for every file
    },
    "send": ALWAYS
    | READ_LENDERS
    | {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "sms-voice:SendTextMessage",
        "ses:SendEmail",
        "sns:Publish",
        "secretsmanager:GetSecretValue",
    },
    "optout": ALWAYS
    | DEAD_LETTER_SEND
    | STOP_LADDER
    | READ_LENDERS
    | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "sms-voice:SendTextMessage",
        "sms-voice:DeleteOptedOutNumber",
        "ses:SendEmail",
    },
    "unsubscribe": ALWAYS
    | STOP_LADDER
    | READ_LENDERS
    | {"secretsmanager:GetSecretValue", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
    # Reads (and decrypts) an accepted lender file, writes its capacity plan: no table, no ladder
    "plan": ALWAYS
    | DEAD_LETTER_SEND
    | READ_LENDERS
    | {"s3:GetObject", "s3:PutObject", "kms:GenerateDataKey", "secretsmanager:GetSecretValue"},
}


def _function(synth: Synthesized, name: str) -> dict[str, Any]:
    return synth.resource(getattr(synth.stack.functions, name))["Properties"]


def test_stack_has_the_rung_functions_with_their_entry_points(synthesized: Synthesized) -> None:
    # Given the synthesised functions (CDK adds its own bucket-notification handler)
    handlers = sorted(
        f["Properties"]["Handler"]
        for f in synthesized.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"].startswith("functions.")
    )
    # Then exactly the four fixed entry points exist, the console's (see test_console.py) and
    # the analytics function's (fed by DynamoDB Streams, which the local world does not play: a
    # simulation writes its events)
    assert handlers == sorted([*HANDLERS.values(), CONSOLE_HANDLER, ANALYTICS_HANDLER])
    for name, handler in HANDLERS.items():
        assert _function(synthesized, name)["Handler"] == handler


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_runs_pinned_runtime_layer_and_shared_asset(
    synthesized: Synthesized, name: str
) -> None:
    # Given one Rung function
    function = _function(synthesized, name)
    # Then runtime, tracing and the single code asset are shared by all four
    assert function["Runtime"] == f"python{CONFIG.lambda_python}"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Architectures"] == ["x86_64"]
    codes = {str(_function(synthesized, other)["Code"]) for other in HANDLERS}
    assert len(codes) == 1
    # And the only layer is Powertools, resolved from its public SSM parameter at deploy time
    (layer,) = function["Layers"]
    parameter = synthesized.template["Parameters"][layer["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == (
        f"/aws/service/powertools/python/x86_64/python{CONFIG.lambda_python}/"
        f"{CONFIG.powertools_version}"
    )


def test_powertools_layer_version_is_the_one_the_tests_run() -> None:
    # Given the Powertools release pinned for the layer / Then it is the one installed locally
    assert CONFIG.powertools_version == metadata.version("aws-lambda-powertools")


def test_each_function_has_its_own_role(synthesized: Synthesized) -> None:
    # Given the role of every Rung function
    roles = [_function(synthesized, name)["Role"] for name in HANDLERS]
    # Then no two functions share a role
    assert len({str(role) for role in roles}) == len(HANDLERS)


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_role_allows_exactly_the_expected_actions(
    synthesized: Synthesized, name: str
) -> None:
    # Given one function's role / When we collect every allowed action
    role = synthesized.stack.functions.roles[name.capitalize()]
    actions = role_actions(synthesized, role)
    # Then it is exactly the reviewed set: no wildcard actions, nothing extra
    assert actions == EXPECTED_ACTIONS[name]


@pytest.mark.parametrize("name", ["send", "optout"])
def test_sms_is_sent_only_from_the_configured_identities_with_rungs_configuration_set(
    synthesized: Synthesized, name: str
) -> None:
    # Given a role that sends SMS through End User Messaging
    role = synthesized.stack.functions.roles[name.capitalize()]
    # When we read what SendTextMessage is granted on
    resources = resources_for(synthesized, role, "sms-voice:SendTextMessage")
    # Then it is cdk.json's origination number (by its phone number id) and the stack's SMS
    # configuration set, nothing wider; and no statement denies anything (none is needed)
    phone = (
        "arn:",
        {"Ref": "AWS::Partition"},
        ":sms-voice:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
        ":phone-number/phone-0123456789abcdef0123456789abcdef",
    )
    assert sorted(map(str, resources)) == sorted(
        map(
            str,
            [
                {"Fn::Join": ["", list(phone)]},
                arn_of(synthesized.stack.messaging.sms_configuration_set),
            ],
        )
    )
    statements = role_statements(synthesized, role)
    assert [s for s in statements if s["Effect"] == "Deny"] == []


def test_send_publishes_push_only_to_the_configured_applications_endpoints(
    synthesized: Synthesized,
) -> None:
    # Given the send role, which publishes app push through SNS
    role = synthesized.stack.functions.roles["Send"]
    # Then it may publish to the endpoints of cdk.json's platform application only (no topic,
    # no phone number, no other application), and write the suppression of a disabled one
    assert resources_for(synthesized, role, "sns:Publish") == [
        "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-finance/*"
    ]
    for name in ("Schedule", "Optout", "Unsubscribe"):
        other = synthesized.stack.functions.roles[name]
        assert resources_for(synthesized, other, "sns:Publish") == []


def test_optout_lifts_numbers_from_the_configured_opt_out_list_only(
    synthesized: Synthesized,
) -> None:
    role = synthesized.stack.functions.roles["Optout"]
    assert resources_for(synthesized, role, "sms-voice:DeleteOptedOutNumber") == [
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":sms-voice:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":opt-out-list/Default",
                ],
            ]
        }
    ]


def test_send_role_cannot_touch_s3_or_step_functions(synthesized: Synthesized) -> None:
    # Beyond reading lender files (the lenders/ prefix, tested above), no S3 and no ladder control
    actions = role_actions(synthesized, synthesized.stack.functions.roles["Send"]) - READ_LENDERS
    assert not {a for a in actions if a.startswith(("s3:", "states:"))}


def test_send_reads_only_the_unsubscribe_signing_key(synthesized: Synthesized) -> None:
    # Every email carries a signed one-click unsubscribe link: the send role reads that one
    # secret, and nothing else in Secrets Manager.
    role = synthesized.stack.functions.roles["Send"]
    secret = {"Ref": logical_id(synthesized.stack.functions.unsubscribe_secret)}
    assert resources_for(synthesized, role, "secretsmanager:GetSecretValue") == [secret]


def test_schedule_role_emails_only_the_lenders_receipt_addresses(
    synthesized: Synthesized,
) -> None:
    role = synthesized.stack.functions.roles["Schedule"]
    actions = role_actions(synthesized, role)
    assert not {a for a in actions if a.startswith(("sns:", "sms-voice:"))}
    # Its one email grant: receipts, to the addresses the lenders configured, never a borrower
    (statement,) = [s for s in role_statements(synthesized, role) if s["Action"] == "ses:SendEmail"]
    recipients = receipt_recipients(PROJECT_ROOT)
    assert recipients == ["files@demo-finance.example"]
    assert statement["Condition"] == {
        "ForAllValues:StringEqualsIgnoreCase": {"ses:Recipients": recipients},
        "Null": {"ses:Recipients": "false"},
    }
    resource = "arn:aws:ses:us-east-1:123456789012:identity/demo-finance.example"
    plain = {**statement, "Resource": resource}

    def may_send(*to: str) -> bool:
        request = Request("ses:SendEmail", resource, context={"ses:Recipients": to})
        return evaluate([plain], request).allowed

    assert may_send("files@demo-finance.example") and may_send("FILES@demo-finance.example")
    assert not may_send("borrower@example.com")
    assert not may_send("files@demo-finance.example", "borrower@example.com")
    assert not evaluate([plain], Request("ses:SendEmail", resource)).allowed


def test_schedule_reads_its_prefixes_and_writes_only_rejects(
    synthesized: Synthesized,
) -> None:
    # Given the schedule role and the uploads bucket
    role = synthesized.stack.functions.roles["Schedule"]
    bucket = arn_of(synthesized.stack.storage.bucket)

    def under(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [bucket, f"/{prefix}*"]]}

    # Then object access is limited to its three prefixes and the lender files, and only
    # rejects/ is written
    assert sorted(map(str, resources_for(synthesized, role, "s3:GetObject"))) == sorted(
        map(str, [under("uploads/"), under("payments/"), under("rejects/"), under("lenders/")])
    )
    assert resources_for(synthesized, role, "s3:PutObject") == [under("rejects/")]


def test_plan_reads_lender_files_and_the_pgp_key_and_writes_only_plans(
    synthesized: Synthesized,
) -> None:
    functions, storage = synthesized.stack.functions, synthesized.stack.storage
    role = functions.roles["Plan"]
    bucket = arn_of(storage.bucket)

    def under(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [bucket, f"/{prefix}*"]]}

    assert sorted(map(str, resources_for(synthesized, role, "s3:GetObject"))) == sorted(
        map(str, [under("uploads/"), under("lenders/")])
    )
    assert resources_for(synthesized, role, "s3:PutObject") == [under("plans/")]
    assert resources_for(synthesized, role, "secretsmanager:GetSecretValue") == [
        {"Ref": logical_id(functions.pgp_secret)}
    ]
    # The bucket's key (and the dead-letter queue's, for failed invocations)
    assert resources_for(synthesized, role, "kms:GenerateDataKey") == [arn_of(storage.key)]
    assert sorted(map(str, resources_for(synthesized, role, "kms:Decrypt"))) == sorted(
        map(str, [arn_of(storage.key), arn_of(synthesized.stack.messaging.key)])
    )
    # ... and nothing else may write plans/
    for name in ("Schedule", "Send", "Optout", "Unsubscribe"):
        other = functions.roles[name]
        assert under("plans/") not in resources_for(synthesized, other, "s3:PutObject")


def test_plan_function_has_the_schedule_functions_room_and_time(
    synthesized: Synthesized,
) -> None:
    plan, schedule = _function(synthesized, "plan"), _function(synthesized, "schedule")
    for setting in ("MemorySize", "Timeout", "EphemeralStorage"):
        assert plan[setting] == schedule[setting]
    assert "ReservedConcurrentExecutions" not in plan  # one invocation per accepted file


def test_unsubscribe_writes_only_suppressions_and_the_decision_log(
    synthesized: Synthesized,
) -> None:
    storage = synthesized.stack.storage
    role = synthesized.stack.functions.roles["Unsubscribe"]
    assert sorted(map(str, resources_for(synthesized, role, "dynamodb:PutItem"))) == sorted(
        map(str, [arn_of(storage.suppressions), arn_of(storage.audit)])
    )
    assert resources_for(synthesized, role, "dynamodb:Query") == [
        {"Fn::Join": ["", [arn_of(storage.accounts), "/index/by_email"]]}
    ]
    secret = {"Ref": logical_id(synthesized.stack.functions.unsubscribe_secret)}
    assert resources_for(synthesized, role, "secretsmanager:GetSecretValue") == [secret]


def test_optout_queries_only_the_address_indexes_and_the_receipt_index(
    synthesized: Synthesized,
) -> None:
    storage = synthesized.stack.storage
    role = synthesized.stack.functions.roles["Optout"]
    accounts, ledger = arn_of(storage.accounts), arn_of(storage.ledger)
    indexes = [{"Fn::Join": ["", [accounts, f"/index/{i}"]]} for i in ("by_email", "by_phone")]
    indexes.append({"Fn::Join": ["", [ledger, "/index/by_message"]]})
    queried = resources_for(synthesized, role, "dynamodb:Query")
    assert sorted(map(str, queried)) == sorted(map(str, indexes))


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_environment_satisfies_exactly_its_settings_model(
    synthesized: Synthesized, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment the stack gives one function, as its cold start reads it (a
    # CloudFormation reference resolves to a name or ARN at deploy time: one stands in here)
    variables = _function(synthesized, name)["Environment"]["Variables"]
    for key in [key for key in os.environ if key.startswith("RUNG_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value if isinstance(value, str) else f"resolved-{key.lower()}")
    model = FUNCTION_SETTINGS[name]
    # Then that function's settings model validates it: nothing missing, nothing malformed
    settings = model.from_environment()
    # ... and the stack sets every variable the model reads and no other (only config_root,
    # the configuration shipped beside the code, is left to its meaning when unset)
    rung = {key for key in variables if key.startswith("RUNG_")}
    assert rung == model.variables() - {"RUNG_CONFIG_ROOT"}
    assert settings.config_root == PROJECT_ROOT
    assert variables["POWERTOOLS_SERVICE_NAME"] == CONFIG.service_name
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE == "Rung"
    assert variables["POWERTOOLS_LOG_LEVEL"] == CONFIG.log_level


def test_function_environments_carry_the_stack_configuration(synthesized: Synthesized) -> None:
    schedule = _function(synthesized, "schedule")["Environment"]["Variables"]
    send = _function(synthesized, "send")["Environment"]["Variables"]
    optout = _function(synthesized, "optout")["Environment"]["Variables"]
    assert schedule["RUNG_REPORTS_PREFIX"] == "rejects/"
    # config/retention.yaml: the longest duty served (Reg F's three years) plus the margin
    records_days = load_retention(PROJECT_ROOT).records_days
    assert records_days == 1096 + 180
    for variables in (schedule, send, optout):
        assert variables["RUNG_AUDIT_RETENTION_DAYS"] == str(records_days)
    assert send["RUNG_SMS_PER_SECOND"] == str(CONFIG.send_rates.sms_per_second)
    assert send["RUNG_EMAIL_PER_SECOND"] == str(CONFIG.send_rates.email_per_second)
    assert optout["RUNG_SMS_OPT_OUT_LIST"] == CONFIG.sms.opt_out_list


# The ports each function wires at its cold start; any other is unwired (its role has no grant
# for it, and its settings name no resource for it).
WIRED_PORTS = {
    "schedule": {
        "accounts",
        "uploads",
        "objects",
        "decryption",
        "email",
        "ladders",
        "continuations",
        "experiments",
        "lenders",
    },
    "send": {
        "accounts",
        "suppressions",
        "channels",
        "ledger",
        "slots",
        "leases",
        "audit",
        "templates",
        "sms",
        "email",
        "push",
        "unsubscribe_key",
        "erased",
        "lenders",
    },
    "optout": {
        "accounts",
        "suppressions",
        "channels",
        "ledger",
        "decisions",
        "inbound",
        "reviews",
        "ladders",
        "sms",
        "email",
        "experiments",
        "lenders",
    },
    "unsubscribe": {
        "accounts",
        "suppressions",
        "channels",
        "decisions",
        "ladders",
        "unsubscribe_key",
        "lenders",
    },
    "plan": {"objects", "decryption", "lenders"},
}
COLD_STARTS = {
    "schedule": schedule_services,
    "send": send_services,
    "optout": optout_services,
    "unsubscribe": unsubscribe_services,
    "plan": plan_services,
}


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_each_function_wires_only_the_ports_it_uses(
    synthesized: Synthesized, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function's environment from the template, as Lambda gives it
    variables = _function(synthesized, name)["Environment"]["Variables"]
    for key in [key for key in os.environ if key.startswith("RUNG_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value if isinstance(value, str) else "resolved")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    COLD_STARTS[name].cache_clear()
    # When it starts cold
    services = COLD_STARTS[name]()
    COLD_STARTS[name].cache_clear()
    # Then the ports it uses are boto3 adapters, and any other fails loudly when touched
    wired = {port for port in PORTS if not isinstance(getattr(services, port), Unwired)}
    assert wired == WIRED_PORTS[name]
    unused = sorted(set(PORTS) - wired)[0]
    with pytest.raises(ConfigError, match=f"the {name} function has no {unused} port"):
        getattr(services, unused).anything()


def test_a_missing_or_malformed_variable_fails_the_cold_start_naming_it(
    synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the send function's environment without its ledger table and with a bad rate
    variables = _function(synthesized, "send")["Environment"]["Variables"]
    for key in [key for key in os.environ if key.startswith("RUNG_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value if isinstance(value, str) else "resolved")
    monkeypatch.delenv("RUNG_LEDGER_TABLE")
    monkeypatch.setenv("RUNG_SMS_PER_SECOND", "0")
    send_services.cache_clear()
    # When the function starts cold
    with pytest.raises(ConfigError) as failed:
        send_services()
    send_services.cache_clear()
    # Then the error names both variables and why, and nothing else
    message = str(failed.value)
    assert "RUNG_LEDGER_TABLE: Field required" in message
    assert "RUNG_SMS_PER_SECOND: Input should be greater than or equal to 1" in message
    assert message.count("RUNG_") == 2


def _partitioned(service: str, resource: str) -> dict[str, Any]:
    """The CloudFormation form of arn:${Partition}:<service>:${Region}:${Account}:<resource>."""
    region, account = {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}
    parts = [
        "arn:",
        {"Ref": "AWS::Partition"},
        f":{service}:",
        region,
        ":",
        account,
        f":{resource}",
    ]
    return {"Fn::Join": ["", parts]}


def test_only_ladder_controllers_know_the_state_machine(synthesized: Synthesized) -> None:
    # Given the fixed ladder name (functions hold its ARN without a reference cycle)
    machine = synthesized.resource(synthesized.stack.ladder.state_machine)["Properties"]
    name = machine["StateMachineName"]
    assert name == f"{CONFIG.stack_name}-ladder"
    expected_arn = _partitioned("states", f"stateMachine:{name}")
    # Then schedule, optout and unsubscribe get its ARN; send, which it invokes, and plan do not
    for fn in HANDLERS:
        variables = _function(synthesized, fn)["Environment"]["Variables"]
        expected = None if fn in ("send", "plan") else expected_arn
        assert variables.get("RUNG_STATE_MACHINE_ARN") == expected


@pytest.mark.parametrize("name", ["schedule", "optout", "unsubscribe"])
def test_ladder_control_is_limited_to_this_ladder(synthesized: Synthesized, name: str) -> None:
    role = synthesized.stack.functions.roles[name.capitalize()]
    executions = _partitioned("states", f"execution:{CONFIG.stack_name}-ladder:*")
    for action in ("states:StopExecution", "states:DescribeExecution"):
        assert resources_for(synthesized, role, action) == [executions]


def test_schedule_may_continue_only_in_itself_and_ask_only_the_plan_function(
    synthesized: Synthesized,
) -> None:
    # A long file continues in a new asynchronous invocation of the same function; an accepted
    # lender file is handed to the plan function, whose ARN the schedule function is given.
    schedule = _function(synthesized, "schedule")
    role = synthesized.stack.functions.roles["Schedule"]
    plan = arn_of(synthesized.stack.functions.plan)
    assert sorted(map(str, resources_for(synthesized, role, "lambda:InvokeFunction"))) == sorted(
        map(str, [_partitioned("lambda", f"function:{schedule['FunctionName']}"), plan])
    )
    assert schedule["Environment"]["Variables"]["RUNG_PLAN_FUNCTION"] == plan
    assert resources_for(synthesized, role, "states:StartExecution") == [
        _partitioned("states", f"stateMachine:{CONFIG.stack_name}-ladder")
    ]
    for name in ("send", "optout", "unsubscribe", "plan"):
        other = synthesized.stack.functions.roles[name.capitalize()]
        assert resources_for(synthesized, other, "lambda:InvokeFunction") == []


def test_the_send_function_gets_the_unsubscribe_function_url(synthesized: Synthesized) -> None:
    # Every reminder email carries the link; nothing else builds one
    url = {"Fn::GetAtt": [logical_id(synthesized.stack.functions.unsubscribe_url), "FunctionUrl"]}
    assert _function(synthesized, "send")["Environment"]["Variables"]["RUNG_UNSUBSCRIBE_URL"] == url
    for name in ("schedule", "optout", "unsubscribe"):
        assert (
            "RUNG_UNSUBSCRIBE_URL" not in _function(synthesized, name)["Environment"]["Variables"]
        )


def test_unsubscribe_url_is_public_and_targets_unsubscribe(synthesized: Synthesized) -> None:
    (url,) = synthesized.resources("AWS::Lambda::Url").values()
    assert url["Properties"] == {
        "AuthType": "NONE",
        "TargetFunctionArn": arn_of(synthesized.stack.functions.unsubscribe),
    }


def test_signing_secret_is_generated_never_written_in_code(synthesized: Synthesized) -> None:
    resource = synthesized.resource(synthesized.stack.functions.unsubscribe_secret)
    secret = resource["Properties"]
    assert resource["DeletionPolicy"] == "Retain"
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32


def test_reserved_concurrency_caps_all_but_send(synthesized: Synthesized) -> None:
    caps = CONFIG.reserved_concurrency
    assert "ReservedConcurrentExecutions" not in _function(synthesized, "send")
    for name in ("schedule", "optout", "unsubscribe"):
        assert _function(synthesized, name)["ReservedConcurrentExecutions"] == getattr(caps, name)


@pytest.mark.parametrize("name", ["schedule", "optout", "plan"])
def test_async_failures_go_to_the_dead_letter_queue(synthesized: Synthesized, name: str) -> None:
    function_id = logical_id(getattr(synthesized.stack.functions, name))
    (config,) = [
        c["Properties"]
        for c in synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == arn_of(
        synthesized.stack.messaging.dead_letters
    )


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_logs_have_retention(synthesized: Synthesized, name: str) -> None:
    function = _function(synthesized, name)
    log_group = synthesized.template["Resources"][function["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] == 400  # THIRTEEN_MONTHS in cdk.json


def test_optout_appends_inbound_decisions_and_opens_reviews_only(
    synthesized: Synthesized,
) -> None:
    storage = synthesized.stack.storage
    role = synthesized.stack.functions.roles["Optout"]
    put = resources_for(synthesized, role, "dynamodb:PutItem")
    # The audit table (inbound decisions) and the review queue: put only, never read or delete
    assert arn_of(storage.audit) in put and arn_of(storage.reviews) in put
    for action in ("dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"):
        touched = resources_for(synthesized, role, action)
        assert arn_of(storage.audit) not in touched and arn_of(storage.reviews) not in touched
    # And no other function touches the review queue
    for name in ("Schedule", "Send", "Unsubscribe"):
        other = synthesized.stack.functions.roles[name]
        assert all(
            arn_of(storage.reviews) not in resources_for(synthesized, other, action)
            for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Scan")
        )


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_every_function_reads_lender_files_under_the_lenders_prefix_only(
    synthesized: Synthesized, name: str
) -> None:
    # Given a function's role
    role = synthesized.stack.functions.roles[name.capitalize()]
    statements = role_statements(synthesized, role)

    def naming(action: str) -> list[dict[str, Any]]:
        return [st for st in statements if action in as_list(st["Action"])]

    # Then it may read objects under lenders/, list that prefix only, and write nothing there
    assert any("/lenders/*" in json.dumps(st["Resource"]) for st in naming("s3:GetObject"))
    listing = naming("s3:ListBucket")
    assert listing and all(
        st["Condition"] == {"StringEquals": {"s3:prefix": "lenders/"}} for st in listing
    )
    assert not any("lenders/" in json.dumps(st["Resource"]) for st in naming("s3:PutObject"))
