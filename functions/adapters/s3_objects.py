"""S3: lender files in, reject reports out (functions.core.ports.ObjectStore)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any, BinaryIO

import boto3

from functions.adapters.records import ObjectNotFound


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
