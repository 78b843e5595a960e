"""`rung preflight`: each check against moto where moto models the API, and against a fake
client at the port boundary where it does not (moto 5.2.5 has no `sesv2.get_account`, no
`pinpoint-sms-voice-v2`, reports every SES DKIM
status as NOT_STARTED, and refuses to hold an `/aws/service/…` SSM parameter)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rung import cli
from rung import preflight as checks
from rung.commands import preflight as command

STACK = "Rung"
RULE_SET = "RungInboundMail"
ORIGINATION = "+18005550100"
PHONE_ID = "phone-0123456789abcdef0123456789abcdef"  # its id, as cdk.json names it
LAYER = "/aws/service/powertools/python/x86_64/python3.13/3.37.0"


class Patched:
    """A real (moto) client with the calls moto does not model answered by a fake."""

    def __init__(self, client: Any, **fakes: Any) -> None:
        self._client, self._fakes = client, fakes

    def __getattr__(self, name: str) -> Any:
        if name in self._fakes:
            return lambda **_kwargs: self._fakes[name]
        return getattr(self._client, name)


class Unmodelled:
    """A service moto does not model at all: only the fakes the test gives."""

    def __init__(self, **fakes: Any) -> None:
        self._fakes = fakes

    def __getattr__(self, name: str) -> Any:
        return lambda **_kwargs: self._fakes[name]


READY_ACCOUNT = {
    "ProductionAccessEnabled": True,
    "SendingEnabled": True,
    "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}
READY_NUMBER = {
    "PhoneNumber": ORIGINATION,
    "PhoneNumberId": PHONE_ID,
    "Status": "ACTIVE",
    "NumberType": "TOLL_FREE",
    "NumberCapabilities": ["SMS"],
    "TwoWayEnabled": True,
}
PRODUCTION_TIER = {"AccountAttributes": [{"Name": "ACCOUNT_TIER", "Value": "PRODUCTION"}]}
READY_SPEND = {
    "SpendLimits": [
        {"Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT", "EnforcedLimit": 500, "MaxLimit": 500}
    ]
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A deployed-looking stack on moto: outputs, topics, a receipt rule set, an identity."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sns = boto3.client("sns")
        alarms = sns.create_topic(Name="alarms")["TopicArn"]
        inbound = sns.create_topic(Name="inbound-sms")["TopicArn"]
        outputs = {key: f"{key}-value" for key in checks.REQUIRED_OUTPUTS}
        outputs |= {
            "InboundMailRuleSetName": RULE_SET,
            "AlarmTopicArn": alarms,
            "InboundSmsTopicArn": inbound,
        }
        template = {
            "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        boto3.client("cloudformation").create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        boto3.client("ses").create_receipt_rule_set(RuleSetName=RULE_SET)
        yield outputs


def ready_clients(overrides: dict[str, Any] | None = None) -> checks.Clients:
    """moto for what it models; fakes reporting a ready account for the rest."""
    fakes: dict[str, Any] = {
        "sesv2": Patched(
            boto3.client("sesv2"),
            get_account=READY_ACCOUNT,
            get_email_identity={
                "VerifiedForSendingStatus": True,
                "DkimAttributes": {"Status": "SUCCESS"},
            },
        ),
        "pinpoint-sms-voice-v2": Unmodelled(
            describe_account_attributes=PRODUCTION_TIER,
            describe_spend_limits=READY_SPEND,
            describe_phone_numbers={"PhoneNumbers": []},
        ),
        "ssm": Patched(boto3.client("ssm"), get_parameter={"Parameter": {"Value": "arn:layer"}}),
    }
    fakes |= overrides or {}
    return lambda service: fakes[service] if service in fakes else boto3.client(service)


def expected(**changes: Any) -> checks.Expectations:
    base = checks.Expectations(
        stack=STACK,
        email_identities=("demo-finance.example",),
        origination_identities=(ORIGINATION,),
        layer_parameter=LAYER,
        alarm_email="ops@example.com",
        origination_resources={ORIGINATION: PHONE_ID},
    )
    return checks.Expectations(**{**base.__dict__, **changes})


def numbers(aws: dict[str, str], **changes: Any) -> Unmodelled:
    number = READY_NUMBER | {"TwoWayChannelArn": aws["InboundSmsTopicArn"]} | changes
    return Unmodelled(
        describe_account_attributes=PRODUCTION_TIER,
        describe_spend_limits=READY_SPEND,
        describe_phone_numbers={"PhoneNumbers": [number]},
    )


def ready_account(aws: dict[str, str]) -> checks.Clients:
    boto3.client("ses").set_active_receipt_rule_set(RuleSetName=RULE_SET)
    boto3.client("sns").subscribe(
        TopicArn=aws["AlarmTopicArn"], Protocol="email", Endpoint="ops@example.com"
    )
    return ready_clients({"pinpoint-sms-voice-v2": numbers(aws)})


def by_name(results: list[checks.Check], start: str) -> checks.Check:
    return next(c for c in results if c.name.startswith(start))


def test_preflight_passes_every_check_on_a_ready_account(aws: dict[str, str]) -> None:
    # Given a deployed stack, an active rule set, a confirmed alarm subscriber, a ready account
    clients = ready_account(aws)
    # When every check runs
    results = checks.run_checks(clients, expected())
    # Then every one passes
    assert [c.name for c in results if not c.ok] == []
    assert [c.name.split(" ")[0] for c in results] == [
        "stack",
        "SES",
        "SES",
        "SES",
        "the",
        "SMS",
        "SMS",
        "SMS",
        "Powertools",
        "someone",
    ]


def test_preflight_missing_stack_fails_with_the_deploy_fix(aws: dict[str, str]) -> None:
    results = checks.run_checks(ready_account(aws), expected(stack="NotDeployed"))
    stack = by_name(results, "stack NotDeployed")
    assert not stack.ok and "make deploy" in stack.fix
    # Without outputs, the checks that need them say so instead of guessing.
    assert not by_name(results, "the stack's receipt rule set").ok
    assert not by_name(results, "someone receives the alarms").ok


def test_preflight_stack_without_the_new_outputs_names_them(aws: dict[str, str]) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="Old",
        TemplateBody=json.dumps(
            {
                "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"UploadsBucketName": {"Value": "b"}},
            }
        ),
    )
    check, _ = checks.stack_outputs(ready_clients(), "Old")
    assert not check.ok
    assert "AlarmTopicArn" in check.detail and "LedgerTableName" in check.detail


def test_preflight_unverified_identity_fails_on_moto(aws: dict[str, str]) -> None:
    # Given an identity created but not verified (moto models verification state)
    boto3.client("sesv2").create_email_identity(EmailIdentity="demo-finance.example")
    check = checks.ses_identity(lambda service: boto3.client(service), "demo-finance.example")
    assert not check.ok
    assert "verified for sending: False" in check.detail and "DKIM" in check.fix


def test_preflight_unknown_identity_fails_naming_the_create_command(aws: dict[str, str]) -> None:
    check = checks.ses_identity(lambda service: boto3.client(service), "nowhere.example")
    assert not check.ok and "create-email-identity --email-identity nowhere.example" in check.fix


def test_preflight_verified_identity_without_dkim_fails(aws: dict[str, str]) -> None:
    sesv2 = Patched(
        boto3.client("sesv2"),
        get_email_identity={
            "VerifiedForSendingStatus": True,
            "DkimAttributes": {"Status": "PENDING"},
        },
    )
    check = checks.ses_identity(lambda _service: sesv2, "demo-finance.example")
    assert not check.ok and "DKIM PENDING" in check.detail and check.fix


@pytest.mark.parametrize(
    ("account", "failing", "fix_says"),
    [
        (
            READY_ACCOUNT | {"ProductionAccessEnabled": False},
            "SES out of the sandbox",
            "production access",
        ),
        (READY_ACCOUNT | {"SendingEnabled": False}, "SES out of the sandbox", "paused"),
        (
            READY_ACCOUNT | {"SuppressionAttributes": {"SuppressedReasons": ["BOUNCE"]}},
            "SES account-level suppression",
            "--suppressed-reasons BOUNCE COMPLAINT",
        ),
    ],
)
def test_preflight_ses_account_state(
    aws: dict[str, str], account: dict[str, Any], failing: str, fix_says: str
) -> None:
    sesv2 = Patched(boto3.client("sesv2"), get_account=account)
    results = [
        checks.ses_production_access(lambda _s: sesv2),
        checks.ses_account_suppression(lambda _s: sesv2),
    ]
    assert [c.name for c in results if not c.ok] == [
        next(c.name for c in results if c.name.startswith(failing))
    ]
    assert fix_says in by_name(results, failing).fix


def test_preflight_inactive_rule_set_fails_with_the_activation_command(aws: dict[str, str]) -> None:
    # Given another rule set is active (moto models the active set)
    ses = boto3.client("ses")
    ses.create_receipt_rule_set(RuleSetName="SomeoneElses")
    ses.set_active_receipt_rule_set(RuleSetName="SomeoneElses")
    check = checks.active_receipt_rule_set(lambda service: boto3.client(service), RULE_SET)
    assert not check.ok and "active: SomeoneElses" in check.detail
    assert f"set-active-receipt-rule-set --rule-set-name {RULE_SET}" in check.fix
    assert "replaces the active one" in check.fix


def test_preflight_sms_sandbox_and_spend_limit(aws: dict[str, str]) -> None:
    # End User Messaging SMS sends the texts: its account tier is the sandbox that matters
    sms = Unmodelled(
        describe_account_attributes={
            "AccountAttributes": [{"Name": "ACCOUNT_TIER", "Value": "SANDBOXED"}]
        },
        describe_spend_limits={
            "SpendLimits": [
                {"Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT", "EnforcedLimit": 1, "MaxLimit": 1}
            ]
        },
    )
    clients = {"pinpoint-sms-voice-v2": sms}
    sandbox = checks.sms_sandbox(clients.__getitem__)
    spend = checks.sms_spend_limit(clients.__getitem__)
    assert not sandbox.ok and "Move to production" in sandbox.fix
    assert sandbox.detail == "account tier: SANDBOXED"
    assert not spend.ok and spend.detail.startswith("US$1 a month")
    assert "set-text-message-spend-limit-override" in spend.fix


@pytest.mark.parametrize(
    ("changes", "fix_says"),
    [
        ({"Status": "PENDING"}, "registration"),
        (
            {"TwoWayEnabled": False},
            f"update-phone-number --phone-number-id {PHONE_ID} --two-way-enabled",
        ),
        (
            {"TwoWayChannelArn": "arn:aws:sns:us-east-1:123456789012:elsewhere"},
            "InboundSmsTopicArn",
        ),
        ({"NumberCapabilities": ["VOICE"]}, "no SMS capability"),
    ],
)
def test_preflight_origination_number_not_ready(
    aws: dict[str, str], changes: dict[str, Any], fix_says: str
) -> None:
    [check] = checks.origination_identities(
        {"pinpoint-sms-voice-v2": numbers(aws, **changes)}.__getitem__,
        [ORIGINATION],
        aws["InboundSmsTopicArn"],
    )
    assert not check.ok and fix_says in check.fix


@pytest.mark.parametrize(
    ("granted", "fix_says"),
    [
        ({}, f'"+18005550100": "{PHONE_ID}"'),
        ({ORIGINATION: "phone-2"}, f"its id is {PHONE_ID}"),
    ],
)
def test_preflight_origination_number_the_roles_may_not_send_from(
    aws: dict[str, str], granted: dict[str, str], fix_says: str
) -> None:
    # Given a ready number that cdk.json does not name (or names by another id)
    [check] = checks.origination_identities(
        {"pinpoint-sms-voice-v2": numbers(aws)}.__getitem__,
        [ORIGINATION],
        aws["InboundSmsTopicArn"],
        granted,
    )
    # Then it fails with the cdk.json entry to write: every text would be AccessDenied
    assert not check.ok and fix_says in check.fix


def test_preflight_origination_number_not_owned_names_registration(aws: dict[str, str]) -> None:
    [check] = checks.origination_identities(
        {"pinpoint-sms-voice-v2": numbers(aws)}.__getitem__, ["+18885550199"], "arn"
    )
    assert not check.ok and "10DLC" in check.fix and "toll-free" in check.fix


def test_preflight_missing_layer_parameter_fails_on_moto(aws: dict[str, str]) -> None:
    check = checks.powertools_layer(
        lambda service: boto3.client(service),
        "/aws/service/powertools/python/x86_64/python3.13/0.0.1",
    )
    assert not check.ok and "not found" in check.detail and "powertools_version" in check.fix


def test_preflight_alarm_topic_with_only_the_optout_function_fails(aws: dict[str, str]) -> None:
    check = checks.alarm_subscription(
        lambda service: boto3.client(service), aws["AlarmTopicArn"], None
    )
    assert not check.ok and "alarms.email" in check.fix


def test_preflight_pending_alarm_subscription_asks_to_confirm(aws: dict[str, str]) -> None:
    sns = Patched(
        boto3.client("sns"),
        list_subscriptions_by_topic={
            "Subscriptions": [
                {"Protocol": "lambda", "SubscriptionArn": "arn:sub:optout"},
                {"Protocol": "email", "SubscriptionArn": "PendingConfirmation"},
            ]
        },
    )
    check = checks.alarm_subscription(lambda _s: sns, aws["AlarmTopicArn"], "ops@example.com")
    assert not check.ok and "1 pending" in check.detail and "ops@example.com" in check.fix


# -- the command --------------------------------------------------------------------------


def test_preflight_cli_exit_0_and_json_when_ready(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = ready_account(aws)
    monkeypatch.setattr(command, "boto3_clients", lambda _region, _endpoint: clients)
    code = cli.main(["preflight", "--stack", STACK, "--json"])
    report = json.loads(capsys.readouterr().out)
    # cdk.json names the identities and layer; config/lenders the demo origination number.
    assert code == 0, [c for c in report["checks"] if not c["ok"]]
    assert report["ok"] is True
    assert any(c["check"].startswith("SMS origination +18005550100") for c in report["checks"])


def test_preflight_cli_lists_failures_with_fixes_exit_1(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the rule set was never activated and no one subscribed to the alarms
    monkeypatch.setattr(command, "boto3_clients", lambda _region, _endpoint: ready_clients())
    code = cli.main(["preflight", "--stack", STACK])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  the stack's receipt rule set is the active one" in out
    assert f"fix: aws ses set-active-receipt-rule-set --rule-set-name {RULE_SET}" in out
    assert "PASS  stack Rung deployed with its outputs" in out
    assert out.rstrip().endswith("checks pass")


def test_preflight_cli_without_credentials_exits_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code = cli.main(["preflight"])
    captured = capsys.readouterr()
    assert code == 2
    assert "no AWS credentials" in captured.err and "Traceback" not in captured.err


def test_preflight_cli_over_moto_server_reports_what_moto_cannot_answer(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given nothing deployed behind a real HTTP endpoint (every client built by the command)
    code = cli.main(["preflight", "--endpoint-url", moto_endpoint, "--region", "us-east-1"])
    out = capsys.readouterr().out
    # Then every check ran and failed with a reason, none crashed the command
    assert code == 1
    assert "FAIL  stack Rung deployed with its outputs: could not read it" in out
    assert "FAIL  SMS monthly spend limit above the sandbox's US$1: could not read it" in out
    assert "PASS" not in out


def test_preflight_simulator_number_needs_no_two_way(aws: dict[str, str]) -> None:
    # Given the smoke lender's simulator origination number, active, without two-way SMS
    simulator = numbers(aws, NumberType="SIMULATOR", TwoWayEnabled=False)
    [check] = checks.origination_identities(
        {"pinpoint-sms-voice-v2": simulator}.__getitem__, [ORIGINATION], aws["InboundSmsTopicArn"]
    )
    assert check.ok, check
