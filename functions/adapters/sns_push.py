"""App push through SNS mobile push: the push channel's sender
(functions.core.ports.MessageSender).

The address is an SNS platform endpoint ARN (`arn:aws:sns:…:endpoint/GCM|APNS|APNS_SANDBOX/
{application}/{id}`), registered by the lender's app for the borrower's device and given in the
lender file's `push_endpoint` column. One `Publish` to the endpoint carries the title and body
for every platform (MessageStructure json); SNS hands each platform its own payload.

An endpoint the platform disabled (the app was uninstalled, the token expired: SNS sets the
endpoint's Enabled attribute to false) refuses the publish with `EndpointDisabled`: that is a
permanent refusal with `address_gone`, which the send step turns into a suppression.
"""

from __future__ import annotations

import json
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
from functions.core.errors import PermanentSendError
from functions.core.ports import OutboundMessage

# Refusals of one message by SNS Publish to a platform endpoint.
PUSH_PERMANENT_REASONS: Mapping[str, str] = {
    "InvalidParameter": "push_invalid_parameter",
    "NotFound": "push_endpoint_not_found",
    "PlatformApplicationDisabled": "push_application_disabled",
}
ENDPOINT_GONE = frozenset({"EndpointDisabled"})


def push_payload(title: str, body: str) -> str:
    """The Publish `Message` for MessageStructure json: one payload per platform."""
    apns = json.dumps({"aps": {"alert": {"title": title, "body": body}}}, ensure_ascii=False)
    fcm = json.dumps(
        {"fcmV1Message": {"message": {"notification": {"title": title, "body": body}}}},
        ensure_ascii=False,
    )
    return json.dumps(
        {"default": body, "GCM": fcm, "APNS": apns, "APNS_SANDBOX": apns}, ensure_ascii=False
    )


class SnsPushSender:
    """SNS `Publish` to one platform endpoint (FCM or APNs behind it)."""

    def __init__(self, client: Any | None = None) -> None:
        self._given_client = client

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client("sns", config=SEND_CLIENT_CONFIG)

    def send(self, message: OutboundMessage) -> str:
        try:
            response = self.client.publish(
                TargetArn=message.to,
                Message=push_payload(message.subject, message.body),
                MessageStructure="json",
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ENDPOINT_GONE:
                raise PermanentSendError(
                    "push_endpoint_disabled", f"sns {code}", address_gone=True
                ) from exc
            send_failure(exc, "sns", PUSH_PERMANENT_REASONS)
        except NETWORK_ERRORS as exc:
            network_failure(exc, "sns")
        return str(response["MessageId"])
