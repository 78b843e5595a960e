"""SMS through AWS End User Messaging SMS (pinpoint-sms-voice-v2): the SMS channel's sender
(functions.core.ports.MessageSender) and its provider opt-out list."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.adapters.aws_errors import (
    NETWORK_ERRORS,
    network_failure,
    send_failure,
)
from functions.adapters.send_client import SEND_CLIENT_CONFIG
from functions.core.errors import ConfigError, PermanentSendError
from functions.core.ports import OutboundMessage

# End User Messaging SMS (pinpoint-sms-voice-v2) refusals of one message, by error code and the
# `Reason` the service adds to it. Any other Reason of these codes (an unverified number in
# the SMS sandbox, a mismatched configuration) is about the account, not the message.
SMS_PERMANENT_REASONS: Mapping[tuple[str, str], str] = {
    ("ConflictException", "DESTINATION_PHONE_NUMBER_OPTED_OUT"): "sms_opted_out",
    ("ValidationException", "INVALID_PARAMETER"): "sms_invalid_parameter",
    ("ValidationException", "CANNOT_PARSE"): "sms_invalid_parameter",
    ("ValidationException", "DESTINATION_COUNTRY_BLOCKED"): "sms_destination_blocked",
    ("ValidationException", "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY"): "sms_destination_blocked",
    ("ConflictException", "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION"): (
        "sms_destination_blocked"
    ),
    ("ConflictException", "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE"): (
        "sms_destination_blocked"
    ),
}


class SmsVoiceSender:
    """SMS through AWS End User Messaging SMS `SendTextMessage`, as a TRANSACTIONAL message.

    Every text names the stack's configuration set: End User Messaging publishes `TEXT_*`
    delivery events only for messages sent with a configuration set that has an event
    destination (SNS `Publish` cannot name one, so its texts never had receipts). The service
    refuses a number on the origination identity's opt-out list itself (a STOP sent to the
    number directly, or before Rung knew it) — the second line of defence behind Rung's own
    suppressions — which is reported as the permanent reason `sms_opted_out`.
    """

    def __init__(
        self,
        configuration_set: str,
        *,
        opt_out_list: str = "Default",
        client: Any | None = None,
    ) -> None:
        self.configuration_set = configuration_set
        self.opt_out_list = opt_out_list
        self._given_client = client

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client(
            "pinpoint-sms-voice-v2", config=SEND_CLIENT_CONFIG
        )

    def send(self, message: OutboundMessage) -> str:
        if not self.configuration_set:
            raise ConfigError("no SMS configuration set configured (RUNG_SMS_CONFIGURATION_SET)")
        request: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "MessageBody": message.body,
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": self.configuration_set,
        }
        if message.origination:
            request["OriginationIdentity"] = message.origination
        try:
            response = self.client.send_text_message(**request)
        except ClientError as exc:
            # End User Messaging adds a `Reason` beside the error code (a modelled field).
            answer: Mapping[str, Any] = exc.response
            refusal = (str(answer.get("Error", {}).get("Code", "")), str(answer.get("Reason", "")))
            reason = SMS_PERMANENT_REASONS.get(refusal)
            if reason:
                raise PermanentSendError(reason, f"sms-voice {refusal[1]}") from exc
            send_failure(exc, "sms-voice", {})
        except NETWORK_ERRORS as exc:
            network_failure(exc, "sms-voice")
        return str(response["MessageId"])

    def opt_in(self, address: str) -> bool:
        """`DeleteOptedOutNumber` after a START: End User Messaging lets a number off its
        opt-out list once per 30 days."""
        try:
            self.client.delete_opted_out_number(
                OptOutListName=self.opt_out_list, OptedOutNumber=address
            )
        except ClientError as exc:
            # Not on the list: there was nothing to lift. Refused otherwise (the 30-day limit,
            # throttling): Rung's own suppression is already lifted, and the next send tells,
            # as `sms_opted_out`.
            return exc.response.get("ResourceType") == "opted-out-number"
        return True
