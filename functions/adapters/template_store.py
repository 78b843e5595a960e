"""Template version stores: DynamoDB (`templates` table) and in-memory, one behaviour.

Table: pk `pk` = "{template_id}#{channel}#{locale}", sk `sk` = version (content hash).
Other attributes: the TemplateVersion fields, mapped as every other table's items are
(`functions.adapters.dynamo.model_item`: UTC ISO instants, enums by value, lint as a map).
Approval is a conditional update (`status = DRAFT`), so two approvers racing cannot both win
and an approval is never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from functions.adapters.dynamo import Item, Table, from_wire, model_item, to_wire
from functions.adapters.records import utc_iso
from functions.core.approval import AlreadyApprovedError, UnknownVersionError
from functions.core.models import Channel, TemplateStatus, TemplateVersion


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
        # The table's partitions: (template_id, channel, locale) -> version -> TemplateVersion,
        # so finding a template's newest approval reads its own versions, not every one.
        self._partitions: dict[tuple[str, Channel, str], dict[str, TemplateVersion]] = {}

    def put_draft(self, version: TemplateVersion) -> bool:
        partition = self._partitions.setdefault(
            (version.template_id, version.channel, version.locale), {}
        )
        if version.version in partition:
            return False
        partition[version.version] = version
        return True

    def get(
        self, template_id: str, channel: Channel, locale: str, version: str
    ) -> TemplateVersion | None:
        return self._partitions.get((template_id, channel, locale), {}).get(version)

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
        partition = self._partitions.get((template_id, channel, locale), {})
        current = partition.get(version)
        if current is None:
            raise UnknownVersionError(f"{pk}@{version}: no such version")
        if current.status is not TemplateStatus.DRAFT:
            raise AlreadyApprovedError(f"{pk}@{version}: is {current.status}")
        approved = current.model_copy(
            update={
                "status": TemplateStatus.APPROVED,
                "approver": by,
                "approved_at": at,
                "lint": dict(lint or {}),
            }
        )
        partition[version] = approved
        return approved

    def versions(self, template_id: str | None = None) -> list[TemplateVersion]:
        found = [
            v
            for (tid, _, _), partition in self._partitions.items()
            if template_id in (None, tid)
            for v in partition.values()
        ]
        return sorted(found, key=_sort_key)

    def newest_approved(
        self, template_id: str, channel: Channel, locale: str
    ) -> TemplateVersion | None:
        partition = self._partitions.get((template_id, channel, locale))
        return _newest_approved(list(partition.values())) if partition else None


class DynamoTemplateStore(Table):
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
        # Same content, same version: a hash already stored is not stored again.
        return self._put_new(_item(version)) is None

    def get(
        self, template_id: str, channel: Channel, locale: str, version: str
    ) -> TemplateVersion | None:
        item = self._get({"pk": template_pk(template_id, channel, locale), "sk": version})
        return TemplateVersion.model_validate(item) if item is not None else None

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
                Key=to_wire({"pk": pk, "sk": version}),
                UpdateExpression=(
                    "SET #status = :approved, approver = :by, approved_at = :at, lint = :lint"
                ),
                ConditionExpression="attribute_exists(pk) AND #status = :draft",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_wire(values),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            current = self.get(template_id, channel, locale, version)
            if current is None:
                raise UnknownVersionError(f"{pk}@{version}: no such version") from exc
            raise AlreadyApprovedError(
                f"{pk}@{version}: is {current.status} (by {current.approver})"
            ) from exc
        return TemplateVersion.model_validate(from_wire(response["Attributes"]))

    def versions(self, template_id: str | None = None) -> list[TemplateVersion]:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        if template_id is not None:
            kwargs["FilterExpression"] = "template_id = :t"
            kwargs["ExpressionAttributeValues"] = {":t": {"S": template_id}}
        found = [
            TemplateVersion.model_validate(from_wire(item))
            for page in self.client.get_paginator("scan").paginate(**kwargs)
            for item in page["Items"]
        ]
        return sorted(found, key=_sort_key)

    def newest_approved(
        self, template_id: str, channel: Channel, locale: str
    ) -> TemplateVersion | None:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            FilterExpression="#status = :approved",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_wire(
                {
                    ":pk": template_pk(template_id, channel, locale),
                    ":approved": TemplateStatus.APPROVED.value,
                }
            ),
            ConsistentRead=True,
        )
        return _newest_approved([TemplateVersion.model_validate(item) for item in items])


def _item(version: TemplateVersion) -> Item:
    pk = template_pk(version.template_id, version.channel, version.locale)
    return model_item(version, pk=pk, sk=version.version)
