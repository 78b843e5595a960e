"""IAM in the local world: every AWS call a handler makes is checked against its own role.

moto runs every call with unlimited permissions (its own IAM enforcement checks most services
against resource `*` only). The enforcer sits in front of botocore: while a function's handler
runs, each call is turned into the action and resource IAM authorises (rung.access.requests)
and evaluated against that function's statements as the CDK app synthesized them
(rung.access.roles). A call the role does not grant is refused as AWS refuses it — the client
raises AccessDenied — and kept in `denials`, naming the function, action and resource. Calls by
the state machine's Lambda tasks are checked against the state machine's role.

Besides the code's own calls, AWS uses a function's role for work done on its behalf; these are
checked and recorded too: writing the function's logs, X-Ray segments of traced functions,
the KMS key of an encrypted bucket behind each object read or write, and the on-failure
destination (and its key) when an asynchronous invocation fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from rung.access.requests import Call, Where, calls_for
from rung.access.roles import LADDER, FunctionFacts, Principal

_acting_as: ContextVar[str | None] = ContextVar("rung_acting_as", default=None)
# The attribute that marks a client as the state machine's own (its Lambda tasks).
PRINCIPAL_ATTRIBUTE = "_rung_principal"
# How each service says "access denied" on the wire.
_DENIED_CODES = {"s3": "AccessDenied"}


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str

    def __str__(self) -> str:
        return (
            f"{self.principal}: {self.action} on {self.resource} is not allowed by its role "
            "in the synthesized stack"
        )


@dataclass(frozen=True)
class Recorded:
    principal: str
    action: str
    resource: str
    context: tuple[tuple[str, str | tuple[str, ...]], ...] = ()  # the request's condition keys


@dataclass
class AccessEnforcer:
    principals: Mapping[str, Principal]
    facts: Mapping[str, FunctionFacts]  # by principal name (functions only)
    where: Where
    keys: Mapping[str, str]  # encrypted bucket name or queue ARN → its KMS key ARN
    handlers: Mapping[str, str]  # handler ("functions.send.handler.handler") → principal name
    # The stack's functions in the local world (names and ARNs). A state machine task that
    # invokes anything else is a test's scripted machine, which no role of the stack covers.
    stack_functions: frozenset[str] = frozenset()
    denials: list[Denial] = field(default_factory=list)
    calls: set[Recorded] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, stack: ExitStack) -> None:
        enforcer = self
        original = BaseClient._make_api_call  # type: ignore[attr-defined]

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            principal = _acting_as.get() or getattr(client, PRINCIPAL_ATTRIBUTE, None)
            if principal is not None:
                service = client.meta.service_model.service_name
                enforcer._check_call(principal, service, operation, params)
            return original(client, operation, params)

        stack.enter_context(mock.patch.object(BaseClient, "_make_api_call", make_api_call))

        # The clients of the state machine's Lambda tasks act as the state machine's role.
        task_client = lambda_eval_utils.boto_client_for

        def ladder_client(region: str, service: str, state_credentials: Any = None) -> Any:
            client = task_client(region, service, state_credentials)
            setattr(client, PRINCIPAL_ATTRIBUTE, LADDER)
            return client

        stack.enter_context(mock.patch.object(lambda_eval_utils, "boto_client_for", ladder_client))

    def take_denials(self) -> list[Denial]:
        """The denials so far, forgotten (for tests that provoke one on purpose)."""
        with self._lock:
            taken, self.denials = self.denials, []
        return taken

    @contextmanager
    def invocation(self, handler: str) -> Iterator[Callable[[], None]]:
        """A function's handler runs: its calls are checked as its role. Yields `failed`, to be
        called when the handler raised (an asynchronous invocation then goes to its on-failure
        destination after Lambda's retries)."""
        name = self.handlers.get(handler)
        if name is None:
            yield lambda: None
            return
        facts = self.facts[name]
        # The Lambda service writes the function's logs and traces with its role.
        self._check(name, "logs:CreateLogStream", f"{facts.log_group_arn}")
        self._check(name, "logs:PutLogEvents", f"{facts.log_group_arn}")
        if facts.traced:
            self._traced(name)

        def failed() -> None:
            if facts.failure_destination:
                queue = facts.failure_destination
                self._check(name, "sqs:SendMessage", queue)
                if queue in self.keys:
                    self._check(name, "kms:GenerateDataKey", self.keys[queue])

        token = _acting_as.set(name)
        try:
            yield failed
        finally:
            _acting_as.reset(token)

    def state_machine_created(self, logging: bool) -> None:
        """Step Functions checks the state machine's role for log delivery when logging is on."""
        if logging:
            for action in (
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ):
                self._check(LADDER, action, "*")

    # --- internals ----------------------------------------------------------------------

    def _check_call(
        self, principal: str, service: str, operation: str, params: Mapping[str, Any]
    ) -> None:
        if principal == LADDER:
            if params.get("FunctionName") not in self.stack_functions:
                return
            self._traced(LADDER)
        for call in calls_for(service, operation, params, self.where):
            if not self._check(principal, call.action, call.resource, dict(call.context)):
                raise _access_denied(service, operation, principal, call)
            for implied in self._implied(call):
                if not self._check(principal, implied.action, implied.resource):
                    raise _access_denied(service, operation, principal, implied)

    def _implied(self, call: Call) -> list[Call]:
        """S3 asks KMS with the caller's permissions for objects in an SSE-KMS bucket."""
        if not call.action.startswith("s3:") or not call.resource.startswith("arn:aws:s3:::"):
            return []
        bucket = call.resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        key = self.keys.get(bucket)
        if key is None:
            return []
        action = "kms:GenerateDataKey" if call.action == "s3:PutObject" else "kms:Decrypt"
        return [Call(action, key)]

    def _traced(self, principal: str) -> None:
        for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
            self._check(principal, action, "*")

    def _check(
        self,
        principal: str,
        action: str,
        resource: str,
        context: Mapping[str, str | tuple[str, ...]] | None = None,
    ) -> bool:
        allowed = self.principals[principal].allows(action, resource, context=context)
        with self._lock:
            if allowed:
                keys = tuple(sorted((context or {}).items()))
                self.calls.add(Recorded(principal, action, resource, keys))
            else:
                self.denials.append(Denial(principal, action, resource))
        return allowed


def _access_denied(service: str, operation: str, principal: str, call: Call) -> ClientError:
    code = _DENIED_CODES.get(service, "AccessDeniedException")
    message = (
        f"User: arn:aws:sts::assumed-role/{principal} is not authorized to perform: "
        f"{call.action} on resource: {call.resource} because no identity-based policy allows "
        f"the {call.action} action"
    )
    response: Any = {"Error": {"Code": code, "Message": message}}
    response["ResponseMetadata"] = {"HTTPStatusCode": 403}
    return ClientError(response, operation)
