"""What IAM checks for End User Messaging SMS calls (Service Authorization Reference): the send on
the origination identity and on the configuration set, the opt-out lift on the opt-out list."""

from __future__ import annotations

import pytest

from rung.access.requests import Call, UnmodelledCall, Where, calls_for

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
