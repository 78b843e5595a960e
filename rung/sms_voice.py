"""AWS End User Messaging SMS (`pinpoint-sms-voice-v2`), modelled in-process for the local world.

moto does not implement this service, and Rung sends every text through it. This is Rung's own
model of the small part Rung uses — not AWS's code, and not a replacement for trying the
real service (`rung smoke`). It answers at the HTTP layer (botocore's `before-send` event), so
a real boto3 client serializes each request, validates its parameters and parses the answer —
errors included, with the `Reason` End User Messaging adds — exactly as against AWS:

- `SendTextMessage`: the configuration set and the origination identity must exist (else
  ResourceNotFoundException; with none named, the account's first number sends); a
  destination on the origination identity's opt-out list is
  refused with ConflictException, Reason DESTINATION_PHONE_NUMBER_OPTED_OUT; otherwise the
  message is recorded and gets a deterministic MessageId.
- `PutOptedOutNumber`, `DeleteOptedOutNumber`, `DescribeOptedOutNumbers` on opt-out lists
  (every account has the list "Default"). The once-per-30-days limit of DeleteOptedOutNumber
  is not modelled.
- Delivery events: for each accepted message, a `TEXT_DELIVERED` event (the JSON AWS publishes,
  `messageId` = the MessageId returned) goes to each SNS event destination of the message's
  configuration set whose matching event types include it. AWS publishes receipts after it
  answered the send (seconds to hours later); here they wait in `pending` until
  `deliver_events()` — the local world calls it after each handler returns, so a receipt never
  arrives before the sender recorded the MessageId. Every text is delivered in this model.

Order with the local world's IAM check (rung.access.enforcer): the enforcer wraps
`BaseClient._make_api_call`, which runs before botocore serializes and sends; this backend
answers at `before-send`, after that. A call the role does not grant never reaches it.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from unittest import mock

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from moto.core.botocore_stubber import MockRawResponse

from functions.core.segments import sms_segments

SERVICE = "pinpoint-sms-voice-v2"
TARGET_PREFIX = "PinpointSMSVoiceV2."
DEFAULT_OPT_OUT_LIST = "Default"
DELIVERED = "TEXT_DELIVERED"
# Event types that include TEXT_DELIVERED when an event destination matches them.
_MATCHES_DELIVERED = frozenset({"ALL", "TEXT_ALL", DELIVERED})
_HANDLER_ID = "rung-sms-voice-model"

# The backend answering for the clients of this process (one local world at a time).
_active: SmsVoiceBackend | None = None


class SmsVoiceError(Exception):
    """An error as End User Messaging answers it: code, message and modelled fields."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: str) -> None:
        super().__init__(message)
        self.code, self.status, self.fields = code, status, fields

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "Message": str(self), **self.fields}


def _not_found(resource_type: str, resource_id: str) -> SmsVoiceError:
    return SmsVoiceError(
        "ResourceNotFoundException",
        f"The {resource_type} {resource_id} does not exist",
        ResourceType=resource_type,
        ResourceId=resource_id,
    )


@dataclass(frozen=True)
class PhoneNumber:
    number: str  # E.164
    phone_number_id: str
    arn: str
    opt_out_list: str


@dataclass(frozen=True)
class EventDestination:
    name: str
    matching_event_types: frozenset[str]
    topic_arn: str


@dataclass
class ConfigurationSet:
    name: str
    arn: str
    destinations: list[EventDestination] = field(default_factory=list)


@dataclass(frozen=True)
class TextMessage:
    message_id: str
    to: str
    body: str
    origination: str  # the phone number (E.164) it was sent from
    configuration_set: str
    sent_at: datetime


@dataclass
class SmsVoiceBackend:
    """One account and region's End User Messaging SMS resources, messages and events."""

    account: str
    region: str
    clock: Callable[[], datetime]
    # Publishes an event (JSON) to an SNS topic, as the service does for an event destination.
    publish: Callable[[str, str], object]
    phone_numbers: dict[str, PhoneNumber] = field(default_factory=dict)  # by id
    configuration_sets: dict[str, ConfigurationSet] = field(default_factory=dict)
    opt_out_lists: dict[str, dict[str, datetime]] = field(default_factory=dict)
    messages: list[TextMessage] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)  # (topic ARN, event JSON)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.opt_out_lists.setdefault(DEFAULT_OPT_OUT_LIST, {})

    # --- what the deployer and the stack set up -------------------------------------------

    def arn(self, resource_type: str, name: str) -> str:
        return f"arn:aws:sms-voice:{self.region}:{self.account}:{resource_type}/{name}"

    def add_phone_number(
        self, number: str, phone_number_id: str, opt_out_list: str = DEFAULT_OPT_OUT_LIST
    ) -> PhoneNumber:
        phone = PhoneNumber(
            number, phone_number_id, self.arn("phone-number", phone_number_id), opt_out_list
        )
        with self._lock:
            self.phone_numbers[phone_number_id] = phone
            self.opt_out_lists.setdefault(opt_out_list, {})
        return phone

    def add_configuration_set(
        self, name: str, destinations: list[EventDestination] | None = None
    ) -> ConfigurationSet:
        configuration_set = ConfigurationSet(
            name, self.arn("configuration-set", name), list(destinations or [])
        )
        with self._lock:
            self.configuration_sets[name] = configuration_set
        return configuration_set

    def origination_arn(self, identity: str) -> str:
        """The ARN IAM authorises a send from `identity` on (a number, an id or an ARN)."""
        phone = self._phone(identity)
        return phone.arn if phone else self.arn("phone-number", identity)

    def reset(self) -> None:
        """Forget messages, opt-outs and pending events (resources stay)."""
        with self._lock:
            self.messages.clear()
            self.pending.clear()
            for numbers in self.opt_out_lists.values():
                numbers.clear()
            self._ids = itertools.count(1)

    # --- the API ------------------------------------------------------------------------

    def send_text_message(self, request: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            configuration_set = self._configuration_set(request.get("ConfigurationSetName"))
            identity = request.get("OriginationIdentity")
            if identity:
                phone = self._phone(identity)
                if phone is None:
                    raise _not_found("phone-number", identity)
            else:
                # None named: the service picks one of the account's own (here: the first).
                phone = next(iter(self.phone_numbers.values()), None)
                if phone is None:
                    raise SmsVoiceError(
                        "ConflictException",
                        "The account has no origination identity",
                        Reason="NO_ORIGINATION_IDENTITIES_FOUND",
                        ResourceType="account",
                        ResourceId=self.account,
                    )
            to = request["DestinationPhoneNumber"]
            if to in self.opt_out_lists[phone.opt_out_list]:
                raise SmsVoiceError(
                    "ConflictException",
                    f"The destination phone number {to} is opted out",
                    Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT",
                    ResourceType="opt-out-list",
                    ResourceId=phone.opt_out_list,
                )
            message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rung-sms-voice/{next(self._ids)}"))
            message = TextMessage(
                message_id=message_id,
                to=to,
                body=request["MessageBody"],
                origination=phone.number,
                configuration_set=configuration_set.name if configuration_set else "",
                sent_at=self.clock(),
            )
            self.messages.append(message)
            if configuration_set:
                event = json.dumps(self._delivered_event(message, request))
                for destination in configuration_set.destinations:
                    if destination.matching_event_types & _MATCHES_DELIVERED:
                        self.pending.append((destination.topic_arn, event))
        return {"MessageId": message_id}

    def put_opted_out_number(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name, number = request["OptOutListName"], request["OptedOutNumber"]
        with self._lock:
            numbers = self._opt_out_list(name)
            numbers.setdefault(number, self.clock())
            return self._opted_out_answer(name, number, numbers[number])

    def delete_opted_out_number(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name, number = request["OptOutListName"], request["OptedOutNumber"]
        with self._lock:
            numbers = self._opt_out_list(name)
            if number not in numbers:
                raise _not_found("opted-out-number", number)
            return self._opted_out_answer(name, number, numbers.pop(number))

    def describe_opted_out_numbers(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["OptOutListName"]
        with self._lock:
            numbers = self._opt_out_list(name)
            wanted = request.get("OptedOutNumbers") or sorted(numbers)
            missing = [number for number in wanted if number not in numbers]
            if missing:
                raise _not_found("opted-out-number", missing[0])
            return {
                "OptOutListArn": self.arn("opt-out-list", name),
                "OptOutListName": name,
                "OptedOutNumbers": [
                    {
                        "OptedOutNumber": number,
                        "OptedOutTimestamp": numbers[number].timestamp(),
                        "EndUserOptedOut": True,
                    }
                    for number in wanted
                ],
            }

    # --- events -------------------------------------------------------------------------

    def deliver_events(self) -> int:
        """Publish every pending delivery event to its topic; how many were published."""
        delivered = 0
        while True:
            with self._lock:
                if not self.pending:
                    return delivered
                topic_arn, event = self.pending.pop(0)
            # Outside the lock: the subscriber (the optout function) may send a text itself.
            self.publish(topic_arn, event)
            delivered += 1

    # --- the HTTP layer -----------------------------------------------------------------

    def answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """A `before-send` handler: the service's answer to one serialized request."""
        target = dict(request.headers).get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).removeprefix(
            TARGET_PREFIX
        )
        body = request.body
        params = json.loads(body if isinstance(body, str | bytes | bytearray) and body else "{}")
        operations: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "SendTextMessage": self.send_text_message,
            "PutOptedOutNumber": self.put_opted_out_number,
            "DeleteOptedOutNumber": self.delete_opted_out_number,
            "DescribeOptedOutNumbers": self.describe_opted_out_numbers,
        }
        try:
            handler = operations.get(operation)
            if handler is None:
                raise SmsVoiceError(
                    "ValidationException",
                    f"{operation} is not part of Rung's End User Messaging model",
                    Reason="UNKNOWN_OPERATION",
                )
            status, payload = 200, handler(params)
        except SmsVoiceError as error:
            status, payload = error.status, error.body()
        raw = MockRawResponse(json.dumps(payload).encode())
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-RequestId"] = "rung"
        return AWSResponse(request.url, status, headers, raw)

    # --- internals ----------------------------------------------------------------------

    def _phone(self, identity: str) -> PhoneNumber | None:
        for phone in self.phone_numbers.values():
            if identity in (phone.number, phone.phone_number_id, phone.arn):
                return phone
        return None

    def _configuration_set(self, name: str | None) -> ConfigurationSet | None:
        if not name:
            return None
        for configuration_set in self.configuration_sets.values():
            if name in (configuration_set.name, configuration_set.arn):
                return configuration_set
        raise _not_found("configuration-set", name)

    def _opt_out_list(self, name: str) -> dict[str, datetime]:
        key = name.rsplit("/", 1)[-1] if name.startswith("arn:") else name
        if key not in self.opt_out_lists:
            raise _not_found("opt-out-list", name)
        return self.opt_out_lists[key]

    def _opted_out_answer(self, name: str, number: str, at: datetime) -> dict[str, Any]:
        return {
            "OptOutListArn": self.arn("opt-out-list", name),
            "OptOutListName": name,
            "OptedOutNumber": number,
            "OptedOutTimestamp": at.timestamp(),
            "EndUserOptedOut": False,
        }

    def _delivered_event(self, message: TextMessage, request: Mapping[str, Any]) -> dict[str, Any]:
        """The TEXT_DELIVERED event, in the JSON shape End User Messaging publishes."""
        at_ms = int(message.sent_at.timestamp() * 1000)
        segments = sms_segments(message.body)
        return {
            "eventType": DELIVERED,
            "eventVersion": "1.0",
            "eventTimestamp": at_ms,
            "isFinal": True,
            "originationPhoneNumber": message.origination,
            "destinationPhoneNumber": message.to,
            "messageId": message.message_id,
            "messageRequestTimestamp": at_ms,
            "messageEncoding": "GSM" if segments.encoding == "GSM-7" else "UCS2",
            "messageType": request.get("MessageType", "TRANSACTIONAL"),
            "messageStatus": "DELIVERED",
            "messageStatusDescription": "Message has been accepted by phone",
            "totalMessageParts": segments.segments,
        }


def install(stack: ExitStack, backend: SmsVoiceBackend) -> None:
    """Answer every `pinpoint-sms-voice-v2` call of this process from `backend` until `stack`
    closes. Install it before the IAM check (rung.access.enforcer) so that the check wraps it."""
    stack.enter_context(_activated(backend))
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == SERVICE:
            # Registered on the client itself, at the service's own event name: botocore calls
            # the most specific handlers first, so this answers before moto's generic stubber.
            client.meta.events.register_first(
                f"before-send.{SERVICE}",
                # botocore's stubs type handlers as returning None; `before-send` ones answer.
                cast(Callable[..., None], _answer),
                unique_id=_HANDLER_ID,
            )
        return original(client, operation, params)

    stack.enter_context(mock.patch.object(BaseClient, "_make_api_call", make_api_call))


@contextmanager
def _activated(backend: SmsVoiceBackend) -> Iterator[None]:
    global _active
    previous, _active = _active, backend
    try:
        yield
    finally:
        _active = previous


def _answer(request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
    if _active is None:
        return None
    return _active.answer(request, **kwargs)
