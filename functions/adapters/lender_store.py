"""Lender configurations in the stack's bucket, under `lenders/{lender_id}.yaml`
(functions.core.ports.LenderSource): how a lender is added or changed without a deploy.

`rung lenders push` validates and writes them; the functions read them on use. Each container
keeps the listing of `lenders/` and each file it read for `CACHE_SECONDS`, then asks S3 again
(a file with the ETag it holds: an unchanged file costs a 304 and no parsing). A lender with
no stored file falls back to the file shipped in `config/lenders/`; a stored file always wins.
A stored file that does not validate is refused (ConfigError naming the file and field):
neither an older version nor the shipped file silently stands in for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

from functions.core.lenders import LenderConfig, parse_lender
from functions.core.ports import LenderSource

LENDERS_PREFIX = "lenders/"
# Our choice: a pushed change reaches every running function within a minute, for one
# conditional GetObject per lender per container per minute.
CACHE_SECONDS = 60.0
_NOT_MODIFIED = frozenset({"304", "NotModified"})
_MISSING = frozenset({"404", "NoSuchKey"})


def lender_key(lender_id: str) -> str:
    return f"{LENDERS_PREFIX}{lender_id}.yaml"


@dataclass
class _Held:
    config: LenderConfig
    etag: str
    checked: float  # monotonic seconds


class S3LenderSource:
    def __init__(
        self,
        bucket: str,
        shipped: LenderSource,
        *,
        client: Any | None = None,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = bucket
        self.shipped = shipped
        self._given_client = client
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._held: dict[str, _Held] = {}
        self._listed: tuple[float, frozenset[str]] | None = None

    @cached_property
    def client(self) -> Any:
        return self._given_client or boto3.client("s3")

    def get(self, lender_id: str) -> LenderConfig:
        if lender_id not in self._stored():
            self._held.pop(lender_id, None)
            return self.shipped.get(lender_id)
        now = self._monotonic()
        held = self._held.get(lender_id)
        if held is not None and now - held.checked < self._cache_seconds:
            return held.config
        key = lender_key(lender_id)
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, **({"IfNoneMatch": held.etag} if held else {})
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if held is not None and code in _NOT_MODIFIED:
                held.checked = now
                return held.config
            if code in _MISSING:  # deleted since the listing
                self._held.pop(lender_id, None)
                return self.shipped.get(lender_id)
            raise
        text = response["Body"].read().decode("utf-8")
        config = parse_lender(text, f"s3://{self.bucket}/{key}", lender_id)
        self._held[lender_id] = _Held(config, str(response.get("ETag", "")), now)
        return config

    def ids(self) -> list[str]:
        return sorted(self._stored() | set(self.shipped.ids()))

    def all(self) -> list[LenderConfig]:
        return [self.get(lender_id) for lender_id in self.ids()]

    def _stored(self) -> frozenset[str]:
        """Lender ids with a stored file, listed at most once per `cache_seconds`. Listing
        first means a GetObject only ever names a stored file: the functions may list the
        `lenders/` prefix only, and S3 answers a missing key 403, not 404, without s3:ListBucket
        on the whole bucket."""
        now = self._monotonic()
        if self._listed is not None and now - self._listed[0] < self._cache_seconds:
            return self._listed[1]
        stored = set()
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=LENDERS_PREFIX
        )
        for page in pages:
            for item in page.get("Contents", ()):
                name = str(item["Key"])[len(LENDERS_PREFIX) :]
                if name.endswith(".yaml") and "/" not in name:
                    stored.add(name.removesuffix(".yaml"))
        self._listed = (now, frozenset(stored))
        return self._listed[1]
