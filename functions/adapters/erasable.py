"""Erasure on AWS: the borrower's items in every DynamoDB table and the objects in the uploads
bucket (functions.core.erasure decides what; this finds and changes them).

- accounts: deleted (the ladder ends at its next step: the account is gone).
- suppressions: every key of the address (collector-wide and lender-scoped) deleted; the
  hashed suppression (`erased#…`, DynamoErasedAddresses) written before them replaces them.
- ledger: address leases (minutes long) deleted; attempts kept for their retention, their
  `address` replaced by its pseudonym.
- audit: gate decisions of the borrower's ladders and inbound decisions (`inbound#…`) kept,
  every raw address in them replaced; an inbound decision moves to its pseudonymous key.
- reviews: kept (a reply with legal weight), address and text pseudonymised.
- uploads bucket: a lender or payments file naming the borrower is deleted, every version (a
  rewrite would be a new upload); a report naming them is rewritten, older versions deleted.
The erasure itself is appended to the audit table under `erasure#{id}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from functions.adapters.dynamo import (
    TTL_ATTRIBUTE,
    DynamoAddressLeases,
    Item,
    Table,
    from_wire,
    model_item,
    to_wire,
)
from functions.adapters.records import decision_sort_key, utc_iso
from functions.core.erasure import (
    LENDER_FILE_PREFIXES,
    file_replacements,
    mentions,
    scrub_bytes,
    scrub_value,
    suppression_keys_for,
)
from functions.core.models import (
    ERASURE_PREFIX,
    INBOUND_PREFIX,
    ErasedAddress,
    ErasureRecord,
    InboundDecision,
    suppression_key,
)
from functions.core.ports import ErasureScope, ErasureTally
from functions.core.retention import expires_at
from functions.core.sending import lease_key

ERASED_PREFIX = "erased#"  # hashed suppressions, in the suppressions table


class DynamoErasedAddresses(Table):
    """Hashed suppressions in the suppressions table under `erased#{pseudonym}`: no TTL."""

    def get(self, pseudonym: str) -> ErasedAddress | None:
        item = self._get({"pk": f"{ERASED_PREFIX}{pseudonym}"})
        return ErasedAddress.model_validate(item) if item is not None else None

    def put(self, mark: ErasedAddress) -> None:
        self._put_new(model_item(mark, pk=f"{ERASED_PREFIX}{mark.pseudonym}"))


@dataclass(frozen=True)
class ErasableTables:
    accounts: str
    suppressions: str
    ledger: str
    audit: str
    reviews: str


class DynamoBorrowerRecords:
    def __init__(
        self,
        tables: ErasableTables,
        *,
        bucket: str,
        records_retention_days: int,
        dynamodb: Any,
        s3: Any,
        lender_file_prefixes: tuple[str, ...] = LENDER_FILE_PREFIXES,
    ) -> None:
        self._tables = tables
        self._bucket = bucket
        self._retention_days = records_retention_days
        self._db = dynamodb
        self._s3 = s3
        self._lender_files = lender_file_prefixes

    # -- tables ----------------------------------------------------------------------------

    def erase(self, scope: ErasureScope) -> ErasureTally:
        tally = ErasureTally()
        tables = self._tables
        for account in scope.accounts:
            if self._delete(tables.accounts, {"pk": account.key}):
                tally.removed["accounts"] += 1
        for channel, address in scope.addresses:
            for key in suppression_keys_for(channel, address, scope.lender_ids):
                if self._delete(tables.suppressions, {"pk": key}):
                    tally.removed["suppressions"] += 1
        for channel, address in scope.addresses:
            # A lease names the address in its key; it lasts minutes, nothing needs it after.
            lease = {"pk": lease_key(channel, address), "sk": DynamoAddressLeases.SORT_KEY}
            if self._delete(tables.ledger, lease):
                tally.removed["address_leases"] += 1
        swap = scope.replacements
        ledger = Table(tables.ledger, client=self._db)
        for address, pseudonym in swap.items():
            found = ledger._query(
                IndexName="by_address",
                KeyConditionExpression="address = :a",
                ExpressionAttributeValues=to_wire({":a": address}),
            )
            for item in found:
                self._db.update_item(
                    TableName=tables.ledger,
                    Key=to_wire({"pk": item["pk"], "sk": item["sk"]}),
                    UpdateExpression="SET address = :p",
                    ExpressionAttributeValues=to_wire({":p": pseudonym}),
                )
                tally.pseudonymised["ledger"] += 1
        audit = Table(tables.audit, client=self._db)
        for account in scope.accounts:
            for item in audit._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_wire({":pk": account.ladder_key}),
                ConsistentRead=True,
            ):
                if self._rewrite(tables.audit, item, swap):
                    tally.pseudonymised["audit"] += 1
        for channel, address in scope.addresses:
            pk = f"{INBOUND_PREFIX}{suppression_key(channel, address)}"
            for item in audit._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_wire({":pk": pk}),
                ConsistentRead=True,
            ):
                self._move_decision(item, swap)
                tally.pseudonymised["inbound_decisions"] += 1
        for item in self._scan(tables.reviews):
            if self._rewrite(tables.reviews, item, swap):
                tally.pseudonymised["reviews"] += 1
        self._erase_objects(file_replacements(swap), tally)
        return tally

    def _delete(self, table: str, key: Item) -> bool:
        response = self._db.delete_item(TableName=table, Key=to_wire(key), ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    def _rewrite(self, table: str, item: Item, swap: Mapping[str, str]) -> bool:
        scrubbed = _scrubbed(item, swap)
        if scrubbed == item:
            return False
        self._db.put_item(TableName=table, Item=to_wire(scrubbed))
        return True

    def _move_decision(self, item: Item, swap: Mapping[str, str]) -> None:
        """An inbound decision's key holds the address: put it under its pseudonymous key,
        then delete the old item (in that order: the decision is never missing)."""
        moved = _scrubbed(item, swap)
        decision = InboundDecision.model_validate(moved)
        moved.update(pk=decision.key, sk=decision_sort_key(decision))
        self._db.put_item(TableName=self._tables.audit, Item=to_wire(moved))
        self._db.delete_item(
            TableName=self._tables.audit, Key=to_wire({"pk": item["pk"], "sk": item["sk"]})
        )

    def _scan(self, table: str) -> list[Item]:
        pages = self._db.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return [from_wire(item) for page in pages for item in page["Items"]]

    # -- the uploads bucket ----------------------------------------------------------------

    def _erase_objects(self, forms: dict[str, str], tally: ErasureTally) -> None:
        if not self._bucket:
            return
        for key, versions in self._objects().items():
            body = self._s3.get_object(Bucket=self._bucket, Key=key)
            data = body["Body"].read()
            if not mentions(data, forms):
                continue
            if key.startswith(self._lender_files):
                tally.removed["lender_files"] += 1
                stale = versions
            else:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=scrub_bytes(data, forms),
                    ContentType=body.get("ContentType", "application/octet-stream"),
                )
                tally.pseudonymised["reports"] += 1
                # Older versions hold the address too; without versioning ("null") the one
                # version is the rewritten object itself.
                stale = [v for v in versions if v != "null"]
            for version in stale:
                self._s3.delete_object(Bucket=self._bucket, Key=key, VersionId=version)

    def _objects(self) -> dict[str, list[str]]:
        """Key -> every version id, for keys whose newest version is an object (not deleted)."""
        found: dict[str, list[str]] = {}
        current: set[str] = set()
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=self._bucket):
            for version in page.get("Versions", []):
                found.setdefault(version["Key"], []).append(version["VersionId"])
                if version.get("IsLatest"):
                    current.add(version["Key"])
            for marker in page.get("DeleteMarkers", []):
                found.setdefault(marker["Key"], []).append(marker["VersionId"])
        return {key: versions for key, versions in found.items() if key in current}

    # -- the record ------------------------------------------------------------------------

    def record(self, erasure: ErasureRecord) -> None:
        item = model_item(
            erasure,
            pk=f"{ERASURE_PREFIX}{erasure.erasure_id}",
            sk=utc_iso(erasure.at),
            **{TTL_ATTRIBUTE: expires_at(erasure.at, self._retention_days)},
        )
        Table(self._tables.audit, client=self._db)._put_new(item)


def _scrubbed(item: Item, swap: Mapping[str, str]) -> Item:
    return cast(Item, scrub_value(item, swap))
