"""What IAM checks (Service Authorization Reference) for End User Messaging SMS calls: the send on
the origination identity and on the configuration set, the opt-out lift on the opt-out list;
for Athena calls: the workgroup, and what Athena reads and writes with the caller's
credentials."""

from __future__ import annotations

import pytest

from rung.access.requests import Call, QueryPlace, UnmodelledCall, Where, calls_for

REGION, ACCOUNT = "us-east-1", "123456789012"
PHONE_ARN = f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:phone-number/phone-0123456789abcdef"
WHERE = Where(
    region=REGION,
    account=ACCOUNT,
    secret_arn=lambda secret: secret,
    email_identity=lambda address: address,
    sms_identity=lambda identity: PHONE_ARN if identity == "+18005550100" else identity,
)


def test_send_text_message_is_authorised_on_the_number_and_the_configuration_set() -> None:
    calls = calls_for(
        "pinpoint-sms-voice-v2",
        "SendTextMessage",
        {
            "DestinationPhoneNumber": "+14155550123",
            "OriginationIdentity": "+18005550100",
            "MessageBody": "Reminder",
            "ConfigurationSetName": "rung-sms",
        },
        WHERE,
    )

    assert calls == [
        Call("sms-voice:SendTextMessage", PHONE_ARN),
        Call(
            "sms-voice:SendTextMessage",
            f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:configuration-set/rung-sms",
        ),
    ]


def test_delete_opted_out_number_is_authorised_on_the_opt_out_list() -> None:
    calls = calls_for(
        "pinpoint-sms-voice-v2",
        "DeleteOptedOutNumber",
        {"OptOutListName": "Default", "OptedOutNumber": "+14155550123"},
        WHERE,
    )

    assert calls == [
        Call(
            "sms-voice:DeleteOptedOutNumber",
            f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:opt-out-list/Default",
        )
    ]


def test_an_sms_call_the_functions_do_not_make_is_not_waved_through() -> None:
    with pytest.raises(UnmodelledCall, match="PutOptedOutNumber"):
        calls_for("pinpoint-sms-voice-v2", "PutOptedOutNumber", {}, WHERE)


ATHENA_WHERE = Where(
    region=REGION,
    account=ACCOUNT,
    secret_arn=lambda secret: secret,
    email_identity=lambda address: address,
    sms_identity=lambda identity: identity,
    query_place=lambda workgroup: QueryPlace(
        output="s3://analytics/athena-results/",
        tables={
            "rung_analytics/events": "s3://analytics/events/",
            "other_db/other": "s3://elsewhere/other/",
        },
    ),
    query_workgroup=lambda query_id: "rung-kpis",
)
WORKGROUP_ARN = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/rung-kpis"
GLUE = f"arn:aws:glue:{REGION}:{ACCOUNT}"


def test_a_query_is_authorised_on_the_workgroup_and_reads_and_writes_as_the_caller() -> None:
    calls = calls_for(
        "athena",
        "StartQueryExecution",
        {
            "QueryString": "SELECT 1 FROM events",
            "QueryExecutionContext": {"Database": "rung_analytics"},
            "WorkGroup": "rung-kpis",
        },
        ATHENA_WHERE,
    )

    assert calls[0] == Call("athena:StartQueryExecution", WORKGROUP_ARN)
    table = [
        f"{GLUE}:catalog",
        f"{GLUE}:database/rung_analytics",
        f"{GLUE}:table/rung_analytics/events",
    ]
    assert set(calls[1:]) == {
        Call("glue:GetDatabase", f"{GLUE}:catalog"),
        Call("glue:GetDatabase", f"{GLUE}:database/rung_analytics"),
        *(Call(action, arn) for action in ("glue:GetTable", "glue:GetPartitions") for arn in table),
        Call("s3:GetBucketLocation", "arn:aws:s3:::analytics"),
        Call("s3:ListBucket", "arn:aws:s3:::analytics", (("s3:prefix", "events/"),)),
        Call("s3:GetObject", "arn:aws:s3:::analytics/events/"),
        Call("s3:PutObject", "arn:aws:s3:::analytics/athena-results/"),
    }  # another database's table is not read


def test_a_querys_state_and_results_are_authorised_on_its_workgroup() -> None:
    state = calls_for("athena", "GetQueryExecution", {"QueryExecutionId": "q-1"}, ATHENA_WHERE)
    results = calls_for("athena", "GetQueryResults", {"QueryExecutionId": "q-1"}, ATHENA_WHERE)

    assert state == [Call("athena:GetQueryExecution", WORKGROUP_ARN)]
    assert results == [
        Call("athena:GetQueryResults", WORKGROUP_ARN),
        Call("s3:GetObject", "arn:aws:s3:::analytics/athena-results/"),
    ]


def test_a_world_that_does_not_say_where_queries_go_does_not_wave_them_through() -> None:
    with pytest.raises(UnmodelledCall, match="athena"):
        calls_for("athena", "GetQueryExecution", {"QueryExecutionId": "q-1"}, WHERE)
