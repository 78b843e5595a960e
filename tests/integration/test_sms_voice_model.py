"""Rung's model of AWS End User Messaging SMS (rung.sms_voice), through a real boto3 client:
what it refuses, how its opt-out lists behave, and when it publishes delivery events."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rung import sms_voice
from rung.sms_voice import EventDestination, SmsVoiceBackend

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OURS = "+18005550100"
BORROWER = "+14155550123"


@dataclass
class Model:
    backend: SmsVoiceBackend
    client: Any
    published: list[tuple[str, str]]


@pytest.fixture
def model() -> Iterator[Model]:
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    published: list[tuple[str, str]] = []
    backend = SmsVoiceBackend(
        "123456789012",
        "us-east-1",
        clock=lambda: T0,
        publish=lambda topic, event: published.append((topic, event)),
    )
    backend.add_phone_number(OURS, "phone-0123456789abcdef0123456789abcdef")
    backend.add_configuration_set(
        "receipts", [EventDestination("All", frozenset({"TEXT_ALL"}), "arn:topic:receipts")]
    )
    backend.add_configuration_set(
        "blocked-only", [EventDestination("B", frozenset({"TEXT_BLOCKED"}), "arn:topic:blocked")]
    )
    with mock.patch.dict(os.environ, environment), mock_aws(), ExitStack() as stack:
        sms_voice.install(stack, backend)
        yield Model(backend, boto3.client("pinpoint-sms-voice-v2"), published)


def _send(model: Model, **changes: str) -> dict[str, Any]:
    request = {
        "DestinationPhoneNumber": BORROWER,
        "OriginationIdentity": OURS,
        "MessageBody": "Reminder",
        "MessageType": "TRANSACTIONAL",
        "ConfigurationSetName": "receipts",
        **changes,
    }
    answer: dict[str, Any] = model.client.send_text_message(**request)
    return answer


def test_delivery_event_waits_until_delivered_and_names_the_message(model: Model) -> None:
    message_id = _send(model)["MessageId"]

    # Nothing is published while the sender has not seen its answer yet
    assert model.published == []
    assert model.backend.deliver_events() == 1

    ((topic, event),) = model.published
    assert topic == "arn:topic:receipts"
    received = json.loads(event)
    assert received["eventType"] == "TEXT_DELIVERED"
    assert received["messageId"] == message_id
    assert received["destinationPhoneNumber"] == BORROWER
    assert received["originationPhoneNumber"] == OURS
    assert received["eventTimestamp"] == int(T0.timestamp() * 1000)


def test_destination_that_does_not_match_delivered_gets_nothing(model: Model) -> None:
    _send(model, ConfigurationSetName="blocked-only")

    assert model.backend.deliver_events() == 0
    assert model.published == []


def test_unknown_configuration_set_or_number_is_refused(model: Model) -> None:
    with pytest.raises(ClientError) as unknown_set:
        _send(model, ConfigurationSetName="nobody")
    with pytest.raises(ClientError) as unknown_number:
        _send(model, OriginationIdentity="+18005550999")

    assert unknown_set.value.response["ResourceType"] == "configuration-set"
    assert unknown_number.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert unknown_number.value.response["ResourceType"] == "phone-number"
    assert model.backend.messages == []


def test_opt_out_list_refuses_then_lifts_a_number(model: Model) -> None:
    model.client.put_opted_out_number(OptOutListName="Default", OptedOutNumber=BORROWER)
    listed = model.client.describe_opted_out_numbers(OptOutListName="Default")
    assert [n["OptedOutNumber"] for n in listed["OptedOutNumbers"]] == [BORROWER]

    with pytest.raises(ClientError) as refused:
        _send(model)
    assert refused.value.response["Error"]["Code"] == "ConflictException"
    assert refused.value.response["Reason"] == "DESTINATION_PHONE_NUMBER_OPTED_OUT"

    model.client.delete_opted_out_number(OptOutListName="Default", OptedOutNumber=BORROWER)
    assert _send(model)["MessageId"]
    with pytest.raises(ClientError) as again:
        model.client.delete_opted_out_number(OptOutListName="Default", OptedOutNumber=BORROWER)
    assert again.value.response["ResourceType"] == "opted-out-number"
