"""boto3 adapters for the sending and control ports: End User Messaging SMS, SES v2 email,
Step Functions, S3.

Send errors are mapped to the names the ladder ASL matches on (functions.core.errors):
- TransientSendError — throttled or a 5xx: the provider did not take the message; retry later.
- PermanentSendError(reason) — the provider refused this message for good.
- UncertainSendError — the request may have reached the provider (read timeout, connection
  dropped mid-response): never retried, or the borrower could get the message twice.
Any other ClientError (access denied, missing configuration set…) is re-raised unchanged:
it says nothing about this message, and must fail loudly rather than pass for a verdict.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any, BinaryIO, NoReturn

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from functions.adapters.records import ObjectNotFound
from functions.core.errors import (
    ConfigError,
    PermanentSendError,
    RungError,
    TransientSendError,
    UncertainSendError,
)
from functions.core.ports import OutboundEmail, OutboundSms

# Throttling codes differ by service and protocol (query: Throttling; JSON: ThrottlingException).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "KMSThrottling",
        "KMSThrottlingException",
        "ProvisionedThroughputExceededException",  # DynamoDB
    }
)
SERVER_ERROR_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",  # Secrets Manager
        "InternalServiceErrorException",  # SES v2
        "ServiceUnavailable",
    }
)


def is_transient(exc: ClientError) -> bool:
    """Throttled or a 5xx: the service did nothing with the request; trying later may work."""
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in THROTTLING_CODES or code in SERVER_ERROR_CODES or status >= 500


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
SES_PERMANENT_REASONS: Mapping[str, str] = {
    "MessageRejected": "ses_message_rejected",
    "MailFromDomainNotVerifiedException": "ses_mail_from_not_verified",
    "AccountSuspendedException": "ses_account_suspended",
    "SendingPausedException": "ses_sending_paused",
    "BadRequestException": "ses_bad_request",
}

# One attempt per provider call: botocore's own retries would resend after a read timeout,
# which is exactly the double send the ledger exists to prevent. Step Functions retries
# TransientSendError instead, after the send Lambda releases its ledger claim.
SEND_CLIENT_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10
)

SFN_START_ATTEMPTS = 6  # StartExecution refills at ≈ 300/s: back-off 0.1 … 3.2 s covers bursts
SFN_BACKOFF_BASE_S = 0.1


class LadderStartThrottled(RungError):
    """StartExecution stayed throttled after every retry; the ladder was NOT started."""


def _send_failure(exc: ClientError, service: str, permanent: Mapping[str, str]) -> NoReturn:
    code = exc.response.get("Error", {}).get("Code", "")
    if is_transient(exc):
        raise TransientSendError(f"{service} {code}: provider did not accept") from exc
    if code in permanent:
        raise PermanentSendError(permanent[code], f"{service} {code}") from exc
    raise exc


def _network_failure(exc: Exception, service: str) -> NoReturn:
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        # No connection was made: the request never left, so a retry cannot double-send.
        raise TransientSendError(f"{service}: cannot connect") from exc
    raise UncertainSendError(f"{service}: request may have been delivered ({exc})") from exc


_NETWORK_ERRORS = (
    ReadTimeoutError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
)


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

    def send_sms(self, message: OutboundSms) -> str:
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
            answer: Mapping[str, Any] = exc.response  # type: ignore[assignment]
            refusal = (str(answer.get("Error", {}).get("Code", "")), str(answer.get("Reason", "")))
            reason = SMS_PERMANENT_REASONS.get(refusal)
            if reason:
                raise PermanentSendError(reason, f"sms-voice {refusal[1]}") from exc
            _send_failure(exc, "sms-voice", {})
        except _NETWORK_ERRORS as exc:
            _network_failure(exc, "sms-voice")
        return str(response["MessageId"])

    def opt_in(self, phone: str) -> bool:
        """`DeleteOptedOutNumber` after a START: End User Messaging lets a number off its
        opt-out list once per 30 days."""
        try:
            self.client.delete_opted_out_number(
                OptOutListName=self.opt_out_list, OptedOutNumber=phone
            )
        except ClientError as exc:
            # Not on the list: there was nothing to lift. Refused otherwise (the 30-day limit,
            # throttling): Rung's own suppression is already lifted, and the next send tells,
            # as `sms_opted_out`.
            return exc.response.get("ResourceType") == "opted-out-number"
        return True


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

    def send_email(self, message: OutboundEmail) -> str:
        request: dict[str, Any] = {
            "FromEmailAddress": message.from_address,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": message.text, "Charset": "UTF-8"},
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
            _send_failure(exc, "ses", SES_PERMANENT_REASONS)
        except _NETWORK_ERRORS as exc:
            _network_failure(exc, "ses")
        return str(response["MessageId"])


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:aws:states:REGION:ACCOUNT:stateMachine:SM → …:execution:SM:NAME."""
    parts = state_machine_arn.split(":")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "stateMachine":
        raise ConfigError(f"not a state machine ARN: {state_machine_arn!r}")
    return ":".join([*parts[:5], "execution", parts[6], name])


class SfnLadderControl:
    """Starts and stops ladder executions by their deterministic names
    (docs/design.md, Architecture)."""

    def __init__(
        self,
        state_machine_arn: str,
        *,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state_machine_arn = state_machine_arn
        self._given_client = client
        self._sleep = sleep

    @cached_property
    def client(self) -> Any:
        # Our own bounded back-off below is the one retry policy for throttling.
        return self._given_client or boto3.client(
            "stepfunctions", config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
        )

    def start(self, name: str, state_json: str) -> bool:
        """False if the name is taken (a duplicate S3 event, a re-upload): never a 2nd ladder.

        Step Functions itself answers a repeat with the same input while the execution is
        running as a success (same execution), so that case returns True without a new ladder.
        Throttling is retried with exponential back-off and full jitter; after
        SFN_START_ATTEMPTS it raises LadderStartThrottled so the caller can report it.
        """
        if not self.state_machine_arn:
            raise ConfigError("no state machine ARN configured (RUNG_STATE_MACHINE_ARN)")
        last: ClientError | None = None
        for attempt in range(SFN_START_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0, SFN_BACKOFF_BASE_S * 2**attempt))  # noqa: S311
            try:
                self.client.start_execution(
                    stateMachineArn=self.state_machine_arn, name=name, input=state_json
                )
            except self.client.exceptions.ExecutionAlreadyExists:
                return False
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in THROTTLING_CODES:
                    raise
                last = exc
            else:
                return True
        raise LadderStartThrottled(
            f"StartExecution throttled {SFN_START_ATTEMPTS} times for {name}"
        ) from last

    def stop(self, name: str, cause: str) -> bool:
        """Stop a running ladder (payment, opt-out). False if it never existed or has ended."""
        arn = execution_arn(self.state_machine_arn, name)
        try:
            status = self.client.describe_execution(executionArn=arn)["status"]
        except self.client.exceptions.ExecutionDoesNotExist:
            return False
        if status != "RUNNING":
            return False
        self.client.stop_execution(executionArn=arn, error="Rung.Stopped", cause=cause[:32768])
        return True


class LambdaContinuations:
    """Asynchronous self-invocation: Lambda queues the event and retries it twice on failure."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def continue_later(self, function_arn: str, payload: str) -> None:
        if self._client is None:
            self._client = boto3.client("lambda")
        self._client.invoke(
            FunctionName=function_arn, InvocationType="Event", Payload=payload.encode()
        )


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        *,
        client: Any | None = None,
        server_side_encryption: str | None = None,
        kms_key_id: str | None = None,
    ) -> None:
        self.bucket = bucket
        self._given_client = client
        # By default no header: the bucket's own default encryption (the stack's KMS key)
        # applies, rather than a weaker per-request choice.
        self._encryption: dict[str, str] = {}
        if server_side_encryption:
            self._encryption["ServerSideEncryption"] = server_side_encryption
        if kms_key_id:
            self._encryption["SSEKMSKeyId"] = kms_key_id

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client("s3")

    def open(self, key: str) -> BinaryIO:
        """The StreamingBody itself: lender files are read row by row, never whole."""
        try:
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.client.exceptions.NoSuchKey as exc:
            raise ObjectNotFound(f"no object s3://{self.bucket}/{key}") from exc
        return body

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **self._encryption
        )

    def link(self, key: str, valid_for: timedelta) -> str:
        """A presigned GET (SigV4). It stops working when `valid_for` ends — or earlier, when
        the temporary credentials that signed it expire (a Lambda role's last hours)."""
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=int(valid_for.total_seconds()),
        )
        return url
