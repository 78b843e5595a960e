"""The IAM evaluator the local world judges every handler's calls with."""

from __future__ import annotations

from typing import Any

import pytest

from rung.access.policy import Decision, Request, UnsupportedPolicy, evaluate

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/rung-accounts"


def allow(action: object, resource: object = "*", **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: object, resource: object = "*", **extra: object) -> dict[str, object]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_nothing_granted_is_an_implicit_deny() -> None:
    verdict = evaluate([], Request("dynamodb:GetItem", TABLE))
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert not verdict.allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = [allow("sns:Publish", "*"), deny("sns:Publish", "arn:*:sns:*:*:*")]
    topic = "arn:aws:sns:us-east-1:123456789012:anything"
    assert evaluate(statements, Request("sns:Publish", topic)).decision is Decision.EXPLICIT_DENY
    # A message to a phone number has no resource ARN ("*"): the topic Deny does not reach it
    assert evaluate(statements, Request("sns:Publish", "*")).allowed


def test_actions_match_case_insensitively_with_wildcards() -> None:
    statements = [allow("DynamoDB:Get*", TABLE)]
    assert evaluate(statements, Request("dynamodb:GetItem", TABLE)).allowed
    assert not evaluate(statements, Request("dynamodb:PutItem", TABLE)).allowed
    assert evaluate(
        [allow("kms:GenerateDataKey?", "*")], Request("kms:GenerateDataKeyX", "k")
    ).allowed


def test_resources_match_case_sensitively_and_dots_are_literal() -> None:
    statements = [allow("s3:GetObject", "arn:aws:s3:::bucket/uploads/*")]
    assert evaluate(
        statements, Request("s3:GetObject", "arn:aws:s3:::bucket/uploads/a.csv")
    ).allowed
    assert not evaluate(
        statements, Request("s3:GetObject", "arn:aws:s3:::bucket/Uploads/a.csv")
    ).allowed
    # "." in a pattern is a dot, not "any character"
    dotted = [allow("ses:SendEmail", "arn:aws:ses:r:a:identity/demo.example")]
    assert not evaluate(
        dotted, Request("ses:SendEmail", "arn:aws:ses:r:a:identity/demoXexample")
    ).allowed


def test_an_index_is_a_resource_of_its_own() -> None:
    statements = [allow("dynamodb:Query", TABLE)]
    assert not evaluate(statements, Request("dynamodb:Query", f"{TABLE}/index/by_phone")).allowed


def test_not_action_allows_everything_else() -> None:
    statements = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
    assert evaluate(statements, Request("dynamodb:GetItem", TABLE)).allowed
    assert not evaluate(statements, Request("iam:CreateUser", "*")).allowed


def test_not_resource_excludes_what_it_names() -> None:
    statements = [{"Effect": "Deny", "Action": "*", "NotResource": TABLE}, allow("*")]
    assert evaluate(statements, Request("dynamodb:GetItem", TABLE)).allowed
    assert not evaluate(statements, Request("dynamodb:GetItem", f"{TABLE}-other")).allowed


def test_a_statement_whose_condition_fails_does_not_apply_rather_than_denying() -> None:
    # moto's own evaluator turns a failed condition into a Deny; AWS does not
    statements = [
        allow("sns:Publish", "*", Condition={"StringEquals": {"aws:SourceAccount": "111"}}),
        allow("sns:Publish", "*"),
    ]
    request = Request("sns:Publish", "t", context={"aws:SourceAccount": "222"})
    assert evaluate(statements, request).allowed


def test_condition_keys_are_case_insensitive_and_values_any_of() -> None:
    statement = allow(
        "sns:Publish",
        "*",
        Condition={"StringEquals": {"AWS:SourceAccount": ["111", "222"]}},
    )
    assert evaluate(
        [statement], Request("sns:Publish", "t", context={"aws:sourceaccount": "222"})
    ).allowed
    assert not evaluate(
        [statement], Request("sns:Publish", "t", context={"aws:SourceAccount": "3"})
    ).allowed


def test_a_missing_condition_key_fails_the_condition_unless_if_exists() -> None:
    strict = allow("sns:Publish", "*", Condition={"StringEquals": {"aws:SourceAccount": "1"}})
    lenient = allow(
        "sns:Publish", "*", Condition={"StringEqualsIfExists": {"aws:SourceAccount": "1"}}
    )
    assert not evaluate([strict], Request("sns:Publish", "t")).allowed
    assert evaluate([lenient], Request("sns:Publish", "t")).allowed


def test_arn_like_and_bool_conditions() -> None:
    statement = allow(
        "sns:Publish",
        "*",
        Condition={
            "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:Rung-*"},
            "Bool": {"aws:SecureTransport": "true"},
        },
    )
    good = {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:Rung-X",
        "aws:SecureTransport": "true",
    }
    assert evaluate([statement], Request("sns:Publish", "t", context=good)).allowed
    other_alarm = {**good, "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:Other"}
    assert not evaluate([statement], Request("sns:Publish", "t", context=other_alarm)).allowed
    plain_http = {**good, "aws:SecureTransport": "false"}
    assert not evaluate([statement], Request("sns:Publish", "t", context=plain_http)).allowed


def test_resource_policies_match_service_principals() -> None:
    statement = allow("sns:Publish", "t", Principal={"Service": ["ses.amazonaws.com"]})
    assert evaluate([statement], Request("sns:Publish", "t", principal="ses.amazonaws.com")).allowed
    assert not evaluate(
        [statement], Request("sns:Publish", "t", principal="sms-voice.amazonaws.com")
    ).allowed
    anyone = allow("sns:Publish", "t", Principal="*")
    assert evaluate(
        [anyone], Request("sns:Publish", "t", principal="cloudwatch.amazonaws.com")
    ).allowed


@pytest.mark.parametrize(
    "statement",
    [
        allow("sns:Publish", "*", Condition={"NumericLessThan": {"x": "1"}}),
        {"Effect": "Allow", "Action": "a:b", "NotAction": "c:d", "Resource": "*"},
        {"Effect": "Allow", "Action": "a:b", "Resource": "*", "NotPrincipal": {"AWS": "x"}},
        {"Effect": "Maybe", "Action": "a:b", "Resource": "*"},
    ],
)
def test_what_is_not_modelled_is_refused_loudly(statement: dict[str, object]) -> None:
    with pytest.raises(UnsupportedPolicy):
        evaluate([statement], Request("a:b", "r", context={"x": "0"}))


def test_multi_valued_keys_follow_for_all_and_for_any_values() -> None:
    def allowed(operator: str, *values: str, null: bool = False) -> bool:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Action": "ses:SendEmail",
            "Resource": "*",
            "Condition": {operator: {"ses:Recipients": ["a@x.example", "b@x.example"]}},
        }
        if null:
            statement["Condition"]["Null"] = {"ses:Recipients": "false"}
        context = {"ses:Recipients": values} if values else {}
        return evaluate([statement], Request("ses:SendEmail", "r", context=context)).allowed

    assert allowed("ForAllValues:StringEquals", "a@x.example", "b@x.example")
    assert not allowed("ForAllValues:StringEquals", "a@x.example", "c@x.example")
    assert allowed("ForAllValues:StringEquals")  # AWS: true when the key is absent ...
    assert not allowed("ForAllValues:StringEquals", null=True)  # ... hence the Null check
    assert allowed("ForAnyValue:StringEquals", "c@x.example", "b@x.example")
    assert not allowed("ForAnyValue:StringEquals", "c@x.example")
    with pytest.raises(UnsupportedPolicy, match="several values"):
        allowed("StringEquals", "a@x.example", "b@x.example")
