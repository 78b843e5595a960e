"""Template version stores: DynamoDB (`templates` table) and in-memory, one behaviour.

Table: pk `pk` = "{template_id}#{channel}#{locale}", sk `sk` = version (content hash).
Other attributes: template_id, channel, locale, source, status, author, created_at,
approver, approved_at (UTC ISO, fixed width), lint (a map: rules_version, profile, ok, findings).
Approval is a conditional update (`status = DRAFT`), so two approvers racing cannot both win
and an approval is never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from functions.adapters.records import utc_iso
from functions.core.approval import AlreadyApprovedError, UnknownVersionError
from functions.core.models import Channel, TemplateStatus, TemplateVersion

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def template_pk(template_id: str, channel: Channel, locale: str) -> str:
    return f"{template_id}#{channel.value}#{locale}"


def _newest_approved(versions: list[TemplateVersion]) -> TemplateVersion | None:
    approved = [v for v in versions if v.status is TemplateStatus.APPROVED and v.approved_at]
    # Ties on the instant (same second, two approvals) fall back to the version string so the
    # answer is the same on every call and in both adapters.
    return max(approved, key=lambda v: (v.approved_at, v.version), default=None)


def _sort_key(version: TemplateVersion) -> tuple[str, str, str, str, str]:
    created = utc_iso(version.created_at) if version.created_at else ""
    return (version.template_id, version.channel.value, version.locale, created, version.version)


class MemoryTemplateStore:
    def __init__(self) -> None:
        self._versions: dict[tuple[str, Channel, str, str], TemplateVersion] = {}

    def put_draft(self, version: TemplateVersion) -> bool:
        key = (version.template_id, version.channel, version.locale, version.version)
        if key in self._versions:
            return False
        self._versions[key] = version
        return True

    def get(
        self, template_id: str, channel: Channel, locale: str, version: str
    ) -> TemplateVersion | None:
        return self._versions.get((template_id, channel, locale, version))

    def approve(
        self,
        template_id: str,
        channel: Channel,
        locale: str,
        version: str,
        by: str,
        at: datetime,
        lint: Mapping[str, object] | None = None,
    ) -> TemplateVersion:
        key = (template_id, channel, locale, version)
        current = self._versions.get(key)
        if current is None:
            raise UnknownVersionError(f"{template_pk(*key[:3])}@{version}: no such version")
        if current.status is not TemplateStatus.DRAFT:
            raise AlreadyApprovedError(f"{template_pk(*key[:3])}@{version}: is {current.status}")
        approved = current.model_copy(
            update={
                "status": TemplateStatus.APPROVED,
                "approver": by,
                "approved_at": at,
                "lint": dict(lint or {}),
            }
        )
        self._versions[key] = approved
        return approved

    def versions(self, template_id: str | None = None) -> list[TemplateVersion]:
        found = [v for v in self._versions.values() if template_id in (None, v.template_id)]
        return sorted(found, key=_sort_key)

    def newest_approved(
        self, template_id: str, channel: Channel, locale: str
    ) -> TemplateVersion | None:
        return _newest_approved(
            [v for k, v in self._versions.items() if k[:3] == (template_id, channel, locale)]
        )


class DynamoTemplateStore:
    def __init__(self, table_name: str, *, client: Any | None = None) -> None:
        self.table_name = table_name
        self._given_client = client

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client("dynamodb")

    def create_table(self) -> None:
        """For local endpoints and tests only: on AWS the CDK stack owns the table."""
        self.client.create_table(
            TableName=self.table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table_name)

    def put_draft(self, version: TemplateVersion) -> bool:
        item = _to_item(version)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={k: _serializer.serialize(v) for k, v in item.items()},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False  # this content hash is stored already: same content, same version
        return True

    def get(
        self, template_id: str, channel: Channel, locale: str, version: str
    ) -> TemplateVersion | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": template_pk(template_id, channel, locale)}, "sk": {"S": version}},
            ConsistentRead=True,
        )
        return _from_wire(response["Item"]) if "Item" in response else None

    def approve(
        self,
        template_id: str,
        channel: Channel,
        locale: str,
        version: str,
        by: str,
        at: datetime,
        lint: Mapping[str, object] | None = None,
    ) -> TemplateVersion:
        pk = template_pk(template_id, channel, locale)
        values = {
            ":approved": TemplateStatus.APPROVED.value,
            ":draft": TemplateStatus.DRAFT.value,
            ":by": by,
            ":at": utc_iso(at),
            ":lint": dict(lint or {}),
        }
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": pk}, "sk": {"S": version}},
                UpdateExpression=(
                    "SET #status = :approved, approver = :by, approved_at = :at, lint = :lint"
                ),
                ConditionExpression="attribute_exists(pk) AND #status = :draft",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in values.items()},
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            current = self.get(template_id, channel, locale, version)
            if current is None:
                raise UnknownVersionError(f"{pk}@{version}: no such version") from exc
            raise AlreadyApprovedError(
                f"{pk}@{version}: is {current.status} (by {current.approver})"
            ) from exc
        return _from_wire(response["Attributes"])

    def versions(self, template_id: str | None = None) -> list[TemplateVersion]:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        if template_id is not None:
            kwargs["FilterExpression"] = "template_id = :t"
            kwargs["ExpressionAttributeValues"] = {":t": {"S": template_id}}
        found = [
            _from_wire(item)
            for page in self.client.get_paginator("scan").paginate(**kwargs)
            for item in page["Items"]
        ]
        return sorted(found, key=_sort_key)

    def newest_approved(
        self, template_id: str, channel: Channel, locale: str
    ) -> TemplateVersion | None:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            FilterExpression="#status = :approved",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pk": {"S": template_pk(template_id, channel, locale)},
                ":approved": {"S": TemplateStatus.APPROVED.value},
            },
            ConsistentRead=True,
        )
        return _newest_approved([_from_wire(i) for page in pages for i in page["Items"]])


def _to_item(version: TemplateVersion) -> dict[str, object]:
    item: dict[str, object] = {
        "pk": template_pk(version.template_id, version.channel, version.locale),
        "sk": version.version,
        "template_id": version.template_id,
        "channel": version.channel.value,
        "locale": version.locale,
        "source": version.source,
        "status": version.status.value,
        "author": version.author,
        "lint": dict(version.lint),
    }
    if version.created_at is not None:
        item["created_at"] = utc_iso(version.created_at)
    if version.approver:
        item["approver"] = version.approver
    if version.approved_at is not None:
        item["approved_at"] = utc_iso(version.approved_at)
    return item


def _from_wire(wire: Mapping[str, Any]) -> TemplateVersion:
    item = {k: _deserializer.deserialize(v) for k, v in wire.items()}
    return TemplateVersion(
        template_id=item["template_id"],
        channel=Channel(item["channel"]),
        locale=item["locale"],
        version=item["sk"],
        source=item["source"],
        status=TemplateStatus(item["status"]),
        author=item.get("author", ""),
        created_at=datetime.fromisoformat(item["created_at"]) if "created_at" in item else None,
        approver=item.get("approver", ""),
        approved_at=(
            datetime.fromisoformat(item["approved_at"]) if "approved_at" in item else None
        ),
        lint=item.get("lint", {}),
    )
