"""AWS SDK errors, as the handlers need to tell them apart: no handler imports botocore.

The adapters let an SDK error they cannot map to a domain error (a throttled table, an
unreachable endpoint) propagate. A handler needs to know only two things about it: that it is
an AWS dependency failing rather than a defect of ours (`SDK_ERRORS`), and, in the send step,
whether trying again later may work (`transient_faults_deferred`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from functions.adapters.messaging import is_transient
from functions.core.errors import TransientSendError

# Everything the AWS SDK raises: a service's answer (ClientError) or no answer at all.
SDK_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)


@contextmanager
def transient_faults_deferred() -> Iterator[None]:
    """Raise a throttled or failing AWS dependency (DynamoDB, Secrets Manager) as
    TransientSendError, the name the ladder ASL retries and then defers on. Any other SDK
    error goes on unchanged and fails the execution where it happened."""
    try:
        yield
    except ClientError as exc:
        if is_transient(exc):
            raise TransientSendError(f"AWS dependency unavailable: {exc}") from exc
        raise
