"""Lambda: a large upload's next chunk (or an accepted file's plan), invoked asynchronously
(functions.core.ports.Continuations)."""

from __future__ import annotations

from typing import Any

import boto3


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
