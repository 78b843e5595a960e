"""The ops console in the synthesized stack: Cognito pool and client, HTTP API, the console
Lambda's least-privilege role, outputs, and the cdk.json switch."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import pytest

from functions.console.identity import Group
from functions.settings import ConsoleLambdaSettings
from infra.app import build_app
from infra.stack_config import cdk_json_context
from tests.infra.conftest import (
    Synthesized,
    arn_of,
    as_list,
    logical_id,
    resources_for,
    role_actions,
    role_statements,
)


@pytest.fixture(scope="module")
def console(synthesized: Synthesized) -> Any:
    assert synthesized.stack.console is not None, "cdk.json turns the console on by default"
    return synthesized.stack.console


def _only(synth: Synthesized, resource_type: str) -> dict[str, Any]:
    (resource,) = synth.resources(resource_type).values()
    return resource


def test_user_pool_admits_only_invited_people_with_strong_passwords_and_totp(
    synthesized: Synthesized,
) -> None:
    pool = _only(synthesized, "AWS::Cognito::UserPool")["Properties"]

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]  # TOTP only, no SMS codes
    password = pool["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 14
    assert all(
        password[rule]
        for rule in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    assert pool["DeletionProtection"] == "ACTIVE"


def test_user_pool_is_kept_and_guarded_by_threat_protection(synthesized: Synthesized) -> None:
    (pool,) = synthesized.resources("AWS::Cognito::UserPool").values()

    assert pool["DeletionPolicy"] == "Retain"
    assert pool["Properties"]["UserPoolTier"] == "PLUS"
    assert pool["Properties"]["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}


def test_user_pool_has_the_console_groups(synthesized: Synthesized) -> None:
    groups = synthesized.resources("AWS::Cognito::UserPoolGroup").values()

    assert {group["Properties"]["GroupName"] for group in groups} == {g.value for g in Group}


def test_app_client_allows_only_the_authorization_code_flow_to_the_console(
    synthesized: Synthesized, console: Any
) -> None:
    client = _only(synthesized, "AWS::Cognito::UserPoolClient")["Properties"]

    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["GenerateSecret"] is False  # a public client: PKCE binds the code
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email"}
    # No username/password API flows: sign-in happens on the managed login page only
    assert client.get("ExplicitAuthFlows", []) in ([], ["ALLOW_REFRESH_TOKEN_AUTH"])
    api = logical_id(console.api)
    (callback,) = client["CallbackURLs"]
    (logout,) = client["LogoutURLs"]
    assert {"Ref": api} in callback["Fn::Join"][1]
    assert callback["Fn::Join"][1][-1].endswith("/auth/callback")
    assert {"Ref": api} in logout["Fn::Join"][1]
    assert client["IdTokenValidity"] == 60
    assert client["TokenValidityUnits"]["IdToken"] == "minutes"


def test_managed_login_domain_and_style_exist(synthesized: Synthesized) -> None:
    domain = _only(synthesized, "AWS::Cognito::UserPoolDomain")["Properties"]
    branding = _only(synthesized, "AWS::Cognito::ManagedLoginBranding")["Properties"]

    assert domain["ManagedLoginVersion"] == 2
    assert branding["UseCognitoProvidedValues"] is True


def test_http_api_sends_every_request_to_the_console_lambda(
    synthesized: Synthesized, console: Any
) -> None:
    (route,) = synthesized.resources("AWS::ApiGatewayV2::Route").values()
    (integration_id, integration) = next(
        iter(synthesized.resources("AWS::ApiGatewayV2::Integration").items())
    )

    assert route["Properties"]["RouteKey"] == "$default"
    assert {"Ref": integration_id} in route["Properties"]["Target"]["Fn::Join"][1]
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationUri"] == arn_of(console.function)
    function = synthesized.resource(console.function)["Properties"]
    assert function["Handler"] == "functions.console.handler.handler"


def test_api_stage_logs_access_without_query_strings_and_is_throttled(
    synthesized: Synthesized,
) -> None:
    stage = _only(synthesized, "AWS::ApiGatewayV2::Stage")["Properties"]

    assert stage["StageName"] == "$default"
    log_format = stage["AccessLogSettings"]["Format"]
    assert "$context.requestId" in log_format
    # A search by phone number or email travels in the query string: never logged
    assert "querystring" not in log_format.lower()
    assert "$context.path" in log_format
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 10
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 20


def test_console_lambda_shares_the_code_asset_runtime_and_layer_and_keeps_logs(
    synthesized: Synthesized, console: Any
) -> None:
    function = synthesized.resource(console.function)["Properties"]
    send = synthesized.resource(synthesized.stack.functions.send)["Properties"]

    for shared in ("Code", "Runtime", "Layers", "TracingConfig"):
        assert function[shared] == send[shared], shared
    log_group = synthesized.template["Resources"][function["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] > 0


def test_console_role_names_exact_actions_on_data(synthesized: Synthesized, console: Any) -> None:
    for statement in role_statements(synthesized, console.role):
        actions = as_list(statement["Action"])
        assert not any(action.endswith("*") for action in actions), statement
        if statement["Resource"] == "*":
            assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_console_role_allows_exactly_what_its_pages_call(
    synthesized: Synthesized, console: Any
) -> None:
    # Least privilege spelled out from the console's adapters (functions/console/wiring.py):
    # a new permission must be added here on purpose.
    storage = synthesized.stack.storage
    expected = {
        "dynamodb:GetItem": [
            storage.accounts,
            storage.suppressions,
            storage.templates,
            storage.reviews,
        ],
        "dynamodb:UpdateItem": [storage.accounts, storage.templates],
        "dynamodb:PutItem": [
            storage.suppressions,
            storage.audit,
            storage.templates,
            storage.reviews,
        ],
        "dynamodb:DeleteItem": [storage.suppressions],
        "dynamodb:Query": [storage.audit, storage.templates],
        "dynamodb:Scan": [
            storage.suppressions,
            storage.ledger,
            storage.uploads,
            storage.audit,
            storage.templates,
            storage.reviews,
        ],
    }
    actions = role_actions(synthesized, console.role)
    assert {a for a in actions if a.startswith("dynamodb:")} == set(expected)
    for action, tables in expected.items():
        granted = [r for r in resources_for(synthesized, console.role, action) if "Fn::GetAtt" in r]
        assert sorted(map(str, granted)) == sorted(str(arn_of(t)) for t in tables), action
    indexes = [
        r for r in resources_for(synthesized, console.role, "dynamodb:Query") if "Fn::Join" in r
    ]
    assert sorted(r["Fn::Join"][1][-1] for r in indexes) == ["/index/by_email", "/index/by_phone"]
    assert actions - {a for a in actions if a.startswith("dynamodb:")} == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "s3:GetObject",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
        # The KPIs page's Athena queries (functions/console/outcomes.py)
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetPartitions",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:PutObject",
        "kms:GenerateDataKey",
    }


def test_console_role_reads_only_reject_reports_plans_events_and_query_results(
    synthesized: Synthesized, console: Any
) -> None:
    storage, analytics = synthesized.stack.storage, synthesized.stack.analytics
    objects = resources_for(synthesized, console.role, "s3:GetObject")
    assert sorted(map(str, objects)) == sorted(
        str({"Fn::Join": ["", [arn_of(bucket), f"/{prefix}/*"]]})
        for bucket, prefix in (
            (storage.bucket, "rejects"),
            (storage.bucket, "plans"),
            (analytics.bucket, "events"),
            (analytics.bucket, "athena-results"),
        )
    )
    # The uploads bucket is listed under plans/ only (the newest plan is found by listing)
    listing = [
        statement
        for statement in role_statements(synthesized, console.role)
        if "s3:ListBucket" in as_list(statement["Action"])
        and statement["Resource"] == arn_of(storage.bucket)
    ]
    assert [statement["Condition"] for statement in listing] == [
        {"StringEquals": {"s3:prefix": "plans/"}}
    ]
    # Objects are written only where Athena puts its results (and the page its batch item)
    assert resources_for(synthesized, console.role, "s3:PutObject") == [
        {"Fn::Join": ["", [arn_of(analytics.bucket), "/athena-results/*"]]}
    ]
    assert resources_for(synthesized, console.role, "s3:GetBucketLocation") == [
        arn_of(analytics.bucket)
    ]
    assert sorted(map(str, resources_for(synthesized, console.role, "s3:ListBucket"))) == sorted(
        str(arn_of(bucket)) for bucket in (storage.bucket, analytics.bucket)
    )
    assert sorted(map(str, resources_for(synthesized, console.role, "kms:Decrypt"))) == sorted(
        str(arn_of(key)) for key in (storage.key, analytics.key)
    )
    assert resources_for(synthesized, console.role, "kms:GenerateDataKey") == [
        arn_of(analytics.key)
    ]


def test_console_role_runs_queries_in_the_analytics_workgroup_only(
    synthesized: Synthesized, console: Any
) -> None:
    analytics = synthesized.stack.analytics
    for action in (
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
    ):
        (workgroup,) = resources_for(synthesized, console.role, action)
        assert workgroup["Fn::Join"][1][-2:] == [
            ":workgroup/",
            {"Ref": logical_id(analytics.workgroup)},
        ]
    for action in ("glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"):
        glue = [str(r) for r in resources_for(synthesized, console.role, action)]
        assert len(glue) == 3, action
        assert any(f"{analytics.database_name}/events" in r for r in glue), action


def test_console_lambda_is_told_where_the_kpi_queries_run(
    synthesized: Synthesized, console: Any
) -> None:
    analytics = synthesized.stack.analytics
    variables = synthesized.resource(console.function)["Properties"]["Environment"]["Variables"]
    assert variables["RUNG_ANALYTICS_WORKGROUP"] == {"Ref": logical_id(analytics.workgroup)}
    assert variables["RUNG_ANALYTICS_DATABASE"] == analytics.database_name
    assert variables["RUNG_ANALYTICS_BUCKET"] == {"Ref": logical_id(analytics.bucket)}
    assert variables["RUNG_ANALYTICS_RESULTS_PREFIX"] == "athena-results/"
    timeout = synthesized.resource(console.function)["Properties"]["Timeout"]
    assert 0 < float(variables["RUNG_REPORT_WAIT_SECONDS"]) < timeout < 30


def test_console_role_cannot_touch_ladders_messages_or_inbound_dedupe(
    synthesized: Synthesized, console: Any
) -> None:
    actions = role_actions(synthesized, console.role)
    storage = synthesized.stack.storage

    assert not {a for a in actions if a.split(":")[0] in ("states", "ses", "sms-voice", "sns")}
    tables = {
        str(resource)
        for statement in role_statements(synthesized, console.role)
        for resource in as_list(statement["Resource"])
    }
    assert not any(logical_id(storage.inbound) in table for table in tables)
    # No deletes anywhere but suppressions (lifting one) and channel pauses (same table)
    deleters = resources_for(synthesized, console.role, "dynamodb:DeleteItem")
    assert deleters == [arn_of(storage.suppressions)]
    assert "dynamodb:BatchWriteItem" not in actions


def test_console_role_reads_its_session_key_only(synthesized: Synthesized, console: Any) -> None:
    assert resources_for(synthesized, console.role, "secretsmanager:GetSecretValue") == [
        {"Ref": logical_id(console.session_secret)}
    ]


def test_console_lambda_is_told_where_the_pool_and_its_key_are(
    synthesized: Synthesized, console: Any
) -> None:
    variables = synthesized.resource(console.function)["Properties"]["Environment"]["Variables"]

    assert variables["RUNG_USER_POOL_ID"] == {"Ref": logical_id(console.user_pool)}
    assert variables["RUNG_USER_POOL_CLIENT_ID"] == {"Ref": logical_id(console.client)}
    assert variables["RUNG_SESSION_SECRET_ARN"] == {"Ref": logical_id(console.session_secret)}
    assert "amazoncognito.com" in str(variables["RUNG_USER_POOL_DOMAIN"])
    assert variables["RUNG_LENDER_IDS"] == "demo"


def test_console_environment_satisfies_exactly_its_settings_model(
    synthesized: Synthesized, console: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment the stack gives the console (a reference stands in resolved)
    variables = synthesized.resource(console.function)["Properties"]["Environment"]["Variables"]
    for key in [key for key in os.environ if key.startswith("RUNG_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value if isinstance(value, str) else f"resolved-{key.lower()}")
    # Then its cold start reads every variable it needs, and the stack sets no other
    settings = ConsoleLambdaSettings.from_environment()
    rung = {key for key in variables if key.startswith("RUNG_")}
    assert rung == ConsoleLambdaSettings.variables() - {"RUNG_CONFIG_ROOT"}
    assert settings.lenders == ("demo",)


def test_stack_outputs_the_console_url_and_user_pool(
    synthesized: Synthesized, console: Any
) -> None:
    outputs = synthesized.template["Outputs"]

    assert outputs["ConsoleUserPoolId"]["Value"] == {"Ref": logical_id(console.user_pool)}
    assert {"Ref": logical_id(console.api)} in outputs["ConsoleUrl"]["Value"]["Fn::Join"][1]


def _synth(tmp_path_factory: pytest.TempPathFactory, edit: Callable[[dict[str, Any]], None]) -> Any:
    context = copy.deepcopy(cdk_json_context())
    edit(context["rung"]["console"])
    app, stack = build_app(
        tmp_path_factory.mktemp("cdk.out"), cloudformation_validation=False, context=context
    )
    return stack, app.synth().get_stack_artifact(stack.artifact_id).template


def test_console_switched_off_in_cdk_json_deploys_nothing_of_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stack, template = _synth(tmp_path_factory, lambda console: console.update(enabled=False))

    assert stack.console is None
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert not {t for t in types if t.startswith(("AWS::Cognito::", "AWS::ApiGatewayV2::"))}
    assert "ConsoleUrl" not in template["Outputs"]


def test_console_without_threat_protection_stays_on_essentials_with_mfa(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # cdk-nag's threat-protection findings are acknowledged with the deployer's reason
    _, template = _synth(
        tmp_path_factory,
        lambda console: console.update(threat_protection=False, domain_prefix="acme-ops"),
    )

    (pool,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"]
    assert pool["Properties"]["UserPoolTier"] == "ESSENTIALS"
    assert pool["Properties"]["MfaConfiguration"] == "ON"
    (domain,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPoolDomain"
    ]
    assert domain["Properties"]["Domain"] == "acme-ops"
