"""DynamoDB reads and writes only the console makes (functions.console.services).

Lists are scans: the console reads them when a person opens a page, and the tables they scan
(uploads, suppressions) are small; one account's history is a scan of the ledger and audit
tables filtered on the account's key prefix (`lender#account#`), since a partition key cannot
be queried by prefix. Console actions go to the audit table under `console#{day}`, append-only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from functions.adapters.dynamo import TTL_ATTRIBUTE, Table, from_wire, model_item, to_wire
from functions.adapters.records import AuditConflict, utc_iso
from functions.console.services import CONSOLE_PREFIX, ConsoleAction
from functions.core.models import (
    INBOUND_PREFIX,
    AuditRecord,
    LedgerEntry,
    Suppression,
    UploadRecord,
)


def _scan(table: Table, **kwargs: Any) -> list[dict[str, Any]]:
    return [
        from_wire(item)
        for page in table.client.get_paginator("scan").paginate(
            TableName=table.table_name, ConsistentRead=True, **kwargs
        )
        for item in page["Items"]
    ]


def _account_prefix(lender_id: str, account_id: str) -> dict[str, Any]:
    return {
        "FilterExpression": "begins_with(pk, :prefix)",
        "ExpressionAttributeValues": to_wire({":prefix": f"{lender_id}#{account_id}#"}),
    }


class DynamoConsoleRecords:
    def __init__(
        self,
        *,
        uploads_table: str,
        suppressions_table: str,
        audit_table: str,
        ledger_table: str,
        client: Any | None = None,
    ) -> None:
        self._uploads = Table(uploads_table, client=client)
        self._suppressions = Table(suppressions_table, client=client)
        self._audit = Table(audit_table, client=client)
        self._ledger = Table(ledger_table, client=client)

    def uploads(self) -> list[UploadRecord]:
        found = [UploadRecord.model_validate(item) for item in _scan(self._uploads)]
        return sorted(found, key=lambda u: (u.received_at, u.key), reverse=True)

    def suppressions(self) -> list[Suppression]:
        items = _scan(self._suppressions)
        found = [
            Suppression.model_validate(item)
            for item in items
            if not str(item["pk"]).startswith("pause#")
        ]
        return sorted(found, key=lambda s: s.at, reverse=True)

    def gate_records(self, lender_id: str, account_id: str) -> list[AuditRecord]:
        items = _scan(self._audit, **_account_prefix(lender_id, account_id))
        found = [
            AuditRecord.model_validate(item)
            for item in items
            if not str(item["pk"]).startswith((INBOUND_PREFIX, CONSOLE_PREFIX))
        ]
        return sorted(found, key=lambda r: (r.at_utc, r.rung, r.channel.value))

    def attempts(self, lender_id: str, account_id: str) -> list[LedgerEntry]:
        items = _scan(self._ledger, **_account_prefix(lender_id, account_id))
        found = [LedgerEntry.model_validate(item) for item in items]
        return sorted(found, key=lambda e: (e.attempted_at, e.rung, e.channel.value))


class DynamoConsoleLog(Table):
    """Console actions in the audit table, kept as long as the audit (DynamoDB TTL)."""

    def __init__(self, table_name: str, *, retention_days: int, client: Any | None = None) -> None:
        super().__init__(table_name, client=client)
        self.retention = timedelta(days=retention_days)

    def append(self, action: ConsoleAction) -> None:
        item = model_item(
            action,
            pk=f"{CONSOLE_PREFIX}{action.at:%Y-%m-%d}",
            sk=f"{utc_iso(action.at)}#{action.username}#{action.verb}#{action.target}",
            **{TTL_ATTRIBUTE: int((action.at + self.retention).timestamp())},
        )
        existing = self._put_new(item)
        if existing is not None and ConsoleAction.model_validate(existing) != action:
            raise AuditConflict(f"console action {item['sk']} already holds another")

    def recent(self, limit: int | None = 50) -> list[ConsoleAction]:
        items = _scan(
            self,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues=to_wire({":prefix": CONSOLE_PREFIX}),
        )
        found = [ConsoleAction.model_validate(item) for item in items]
        return sorted(found, key=lambda a: a.at, reverse=True)[:limit]
