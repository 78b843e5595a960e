"""Step Functions: starting and stopping ladder executions
(functions.core.ports.LadderControl)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from functions.adapters.aws_errors import THROTTLING_CODES
from functions.core.errors import ConfigError, RungError

SFN_START_ATTEMPTS = 6  # StartExecution refills at ≈ 300/s: back-off 0.1 … 3.2 s covers bursts
SFN_BACKOFF_BASE_S = 0.1


class LadderStartThrottled(RungError):
    """StartExecution stayed throttled after every retry; the ladder was NOT started."""


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:aws:states:REGION:ACCOUNT:stateMachine:SM → …:execution:SM:NAME."""
    parts = state_machine_arn.split(":")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "stateMachine":
        raise ConfigError(f"not a state machine ARN: {state_machine_arn!r}")
    return ":".join([*parts[:5], "execution", parts[6], name])


class SfnLadderControl:
    """Starts and stops ladder executions by their deterministic names
    (docs/design.md, Architecture)."""

    def __init__(
        self,
        state_machine_arn: str,
        *,
        client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state_machine_arn = state_machine_arn
        self._given_client = client
        self._sleep = sleep

    @cached_property
    def client(self) -> Any:
        # Our own bounded back-off below is the one retry policy for throttling.
        return self._given_client or boto3.client(
            "stepfunctions", config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
        )

    def start(self, name: str, state_json: str) -> bool:
        """False if the name is taken (a duplicate S3 event, a re-upload): never a 2nd ladder.

        Step Functions itself answers a repeat with the same input while the execution is
        running as a success (same execution), so that case returns True without a new ladder.
        Throttling is retried with exponential back-off and full jitter; after
        SFN_START_ATTEMPTS it raises LadderStartThrottled so the caller can report it.
        """
        if not self.state_machine_arn:
            raise ConfigError("no state machine ARN configured (RUNG_STATE_MACHINE_ARN)")
        last: ClientError | None = None
        for attempt in range(SFN_START_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0, SFN_BACKOFF_BASE_S * 2**attempt))  # noqa: S311
            try:
                self.client.start_execution(
                    stateMachineArn=self.state_machine_arn, name=name, input=state_json
                )
            except self.client.exceptions.ExecutionAlreadyExists:
                return False
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in THROTTLING_CODES:
                    raise
                last = exc
            else:
                return True
        raise LadderStartThrottled(
            f"StartExecution throttled {SFN_START_ATTEMPTS} times for {name}"
        ) from last

    def stop(self, name: str, cause: str) -> bool:
        """Stop a running ladder (payment, opt-out). False if it never existed or has ended."""
        arn = execution_arn(self.state_machine_arn, name)
        try:
            status = self.client.describe_execution(executionArn=arn)["status"]
        except self.client.exceptions.ExecutionDoesNotExist:
            return False
        if status != "RUNNING":
            return False
        self.client.stop_execution(executionArn=arn, error="Rung.Stopped", cause=cause[:32768])
        return True
