"""Email through SES v2: the email channel's sender (functions.core.ports.MessageSender)."""

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
from functions.core.ports import OutboundMessage

SES_PERMANENT_REASONS: Mapping[str, str] = {
    "MessageRejected": "ses_message_rejected",
    "MailFromDomainNotVerifiedException": "ses_mail_from_not_verified",
    "AccountSuspendedException": "ses_account_suspended",
    "SendingPausedException": "ses_sending_paused",
    "BadRequestException": "ses_bad_request",
}


class SesEmailSender:
    """Email through SES v2 `SendEmail`, Simple content with text and HTML parts.

    List-Unsubscribe and List-Unsubscribe-Post travel as message headers (RFC 8058 one-click,
    required by the large mailbox providers for bulk senders).
    """

    def __init__(self, client: Any | None = None) -> None:
        self._given_client = client

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client("sesv2", config=SEND_CLIENT_CONFIG)

    def send(self, message: OutboundMessage) -> str:
        request: dict[str, Any] = {
            "FromEmailAddress": message.origination or "",
            "Destination": {"ToAddresses": [message.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": message.body, "Charset": "UTF-8"},
                        "Html": {"Data": message.html, "Charset": "UTF-8"},
                    },
                    "Headers": [{"Name": k, "Value": v} for k, v in message.headers.items()],
                }
            },
        }
        if message.configuration_set:
            request["ConfigurationSetName"] = message.configuration_set
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            send_failure(exc, "ses", SES_PERMANENT_REASONS)
        except NETWORK_ERRORS as exc:
            network_failure(exc, "ses")
        return str(response["MessageId"])
