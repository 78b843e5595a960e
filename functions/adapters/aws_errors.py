"""AWS errors in Rung's terms: which are transient, and how a provider call's failure maps to
the send errors the ladder ASL matches on (functions.core.errors):

- TransientSendError — throttled or a 5xx: the provider did not take the message; retry later.
- PermanentSendError(reason) — the provider refused this message for good.
- UncertainSendError — the request may have reached the provider (read timeout, connection
  dropped mid-response): never retried, or the borrower could get the message twice.

Any other ClientError (access denied, missing configuration set…) is re-raised unchanged:
it says nothing about this message, and must fail loudly rather than pass for a verdict.

Handlers never import botocore: they name SDK failures through `SDK_ERRORS` (an AWS dependency
failing, not a defect of ours) and, in the send step, `transient_faults_deferred`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from functions.core.errors import PermanentSendError, TransientSendError, UncertainSendError

# Throttling codes differ by service and protocol (query: Throttling; JSON: ThrottlingException).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "KMSThrottling",
        "KMSThrottlingException",
        "ProvisionedThroughputExceededException",  # DynamoDB
    }
)
SERVER_ERROR_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",  # Secrets Manager
        "InternalServiceErrorException",  # SES v2
        "ServiceUnavailable",
    }
)


def is_transient(exc: ClientError) -> bool:
    """Throttled or a 5xx: the service did nothing with the request; trying later may work."""
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in THROTTLING_CODES or code in SERVER_ERROR_CODES or status >= 500


def send_failure(exc: ClientError, service: str, permanent: Mapping[str, str]) -> NoReturn:
    code = exc.response.get("Error", {}).get("Code", "")
    if is_transient(exc):
        raise TransientSendError(f"{service} {code}: provider did not accept") from exc
    if code in permanent:
        raise PermanentSendError(permanent[code], f"{service} {code}") from exc
    raise exc


def network_failure(exc: Exception, service: str) -> NoReturn:
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        # No connection was made: the request never left, so a retry cannot double-send.
        raise TransientSendError(f"{service}: cannot connect") from exc
    raise UncertainSendError(f"{service}: request may have been delivered ({exc})") from exc


NETWORK_ERRORS = (
    ReadTimeoutError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
)


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
