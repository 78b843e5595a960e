"""Every change the local world makes to moto 5.2.5, in one place, each with its reason.

moto gives us S3, DynamoDB, SNS, SES, Lambda and — with `execute_state_machine` on — a
Step Functions interpreter that runs the real ladder ASL. These patches make it usable and
faithful; each names the moto source it replaces:

1. Lambda code runs in Docker (`LambdaFunction._invoke_lambda`, moto/awslambda/models.py:981),
   which this machine does not have: run the handler in-process instead. The one patch covers
   the Step Functions `lambda:invoke` integration, the Invoke API, S3 notifications
   (moto/s3/notifications.py:261 `_invoke_awslambda`) and, through patch 4, SNS lambda
   subscriptions.
2. Wait states and Retry back-offs sleep for real: route them to the virtual clock.
3. The clock must know which threads run executions and when they end or are stopped.
4. moto's SNS → Lambda event is a placeholder (fixed TopicArn, MessageId, 1970 timestamp).
5. jsonpath-ng parses every JSONPath expression afresh on every use: cache the parses.
6. A new boto3 client per Step Functions Lambda task: cache one per (region, service).
7. The ASL is parsed again for every execution: parse each definition once.
8. Retry's `JitterStrategy: FULL` draws at random: draw it reproducibly.
9. DynamoDB's conditional writes are atomic; moto's read the item, evaluate the condition and
   write without a lock, so two threads may both win one conditional put: serialise writes.

All patches are `unittest.mock.patch.object` on an ExitStack: leaving the world restores moto.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import threading
import traceback
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC
from types import SimpleNamespace
from typing import Any
from unittest import mock

import jsonpath_ng
import jsonpath_ng.ext
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as get_lambda_backend
from moto.dynamodb.models import DynamoDBBackend
from moto.sns.models import Subscription
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import (
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from rung.ladder_retry import jitter
from rung.virtual_clock import ClockStalled, VirtualClock

# Lambda's own limit; reported by the fake context so handlers can budget their work.
_LAMBDA_TIMEOUT_MS = 900_000


@dataclass(frozen=True)
class InProcessContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return _LAMBDA_TIMEOUT_MS


@dataclass(frozen=True)
class HandlerError:
    """An exception a handler raised. S3 notifications swallow these (moto/s3/notifications.py:270
    `except: pass`, as AWS's asynchronous invoke would), so the world keeps them for callers."""

    function_name: str
    error_type: str
    message: str
    trace: str


@dataclass
class InProcessLambda:
    """Runs a registered Lambda function's handler in this process.

    `services` builds the `Services` the handlers receive (their optional `services`
    argument) — the boto3 adapters against moto, with the virtual clock.
    """

    services: Callable[[], Any]
    # Wraps each run of a handler (the IAM check of its calls, rung.access); yields the
    # callback to report that the handler raised.
    guard: Callable[[str], AbstractContextManager[Callable[[], None]]] | None = None
    # Runs after each handler has returned (and its guard has closed): what AWS does after a
    # function's work, such as End User Messaging publishing the receipts of its texts.
    after: Callable[[], object] | None = None
    errors: list[HandlerError] = field(default_factory=list)
    invocations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """The `_invoke_lambda` contract: (response payload, errored, logs)."""
        with self._lock:
            self.invocations += 1
            # Deterministic request ids: the n-th invocation of a run always gets the same one.
            request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rung-local/{self.invocations}"))
        handler = _resolve_handler(function.handler)
        # Each function runs in containers of its own: what one cached (Powertools' parameter
        # cache holds the unsubscribe signing key) is never another's, so every invocation
        # fetches afresh and its role is checked for it. The providers (and their boto3
        # clients) stay: a new one would build a boto3 session, which parses botocore's
        # endpoint data again (about 50 ms of CPU on every invocation).
        for provider in DEFAULT_PROVIDERS.values():
            provider.clear_cache()
        context = InProcessContext(
            function_name=function.function_name,
            function_version=str(function.version),
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            aws_request_id=request_id,
            log_group_name=function.logs_group_name,
            log_stream_name=f"local/{request_id}",
        )
        guard = self.guard(str(function.handler)) if self.guard else nullcontext(lambda: None)
        with guard as failed:
            result = self._run(handler, event, context, failed)
        if self.after is not None:
            self.after()
        return result

    def _run(
        self,
        handler: Callable[..., Any],
        event: Any,
        context: InProcessContext,
        failed: Callable[[], None],
    ) -> tuple[str, bool, str]:
        try:
            result = handler(event if event is not None else {}, context, services=self.services())
        # The Lambda runtime turns *any* exception into a function error whose errorType is the
        # exception's class name; Step Functions Retry/Catch match on that name
        # (state_task_service_lambda.py:69-79 reads `errorType` from the error payload).
        except Exception as exc:
            error = HandlerError(
                function_name=context.function_name,
                error_type=type(exc).__name__,
                message=str(exc),
                trace=traceback.format_exc(),
            )
            with self._lock:
                self.errors.append(error)
            failed()
            payload = {
                "errorType": error.error_type,
                "errorMessage": error.message,
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
            # errored=True makes moto answer with `x-amz-function-error` (awslambda/models.py:1153),
            # which boto3 surfaces as FunctionError and Step Functions raises as
            # LambdaFunctionErrorException (lambda_eval_utils.py:101-105).
            return json.dumps(payload), True, ""
        return json.dumps(result), False, ""


def _sleeper(env: Environment) -> tuple[str, Callable[[], bool]]:
    """Who sleeps (the execution name orders same-instant wake-ups) and how to see a stop."""
    name = str(env.states.context_object.context_object_data["Execution"]["Name"])
    return name, lambda: not env.is_running()


@functools.cache
def _resolve_handler(handler: str) -> Callable[..., Any]:
    """ "functions.send.handler.handler" → the function, as the Python runtime resolves it."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"Lambda handler {handler!r} is not of the form module.function")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    if "services" not in inspect.signature(function).parameters:
        raise TypeError(f"Lambda handler {handler!r} must accept a `services` argument")
    return function


def install(stack: ExitStack, clock: VirtualClock, lambdas: InProcessLambda) -> None:
    """Apply every patch on `stack`; closing the stack restores moto."""

    def patch(target: object, attribute: str, new: object) -> None:
        stack.enter_context(mock.patch.object(target, attribute, new))

    # 0. The functions' parameter providers (and their boto3 clients) belong to this world
    #    alone: none made before it is reused, none outlives it.
    DEFAULT_PROVIDERS.clear()
    stack.callback(DEFAULT_PROVIDERS.clear)

    # 1. Lambda in-process instead of Docker (awslambda/models.py:981).
    def invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return lambdas.invoke(function, event)

    patch(LambdaFunction, "_invoke_lambda", invoke_lambda)

    # 2a. TimestampPath/Timestamp waits (wait_function/timestamp.py:84-90) compute
    #     `timestamp - datetime.now()` with a naive *wall-clock* now, then sleep for real
    #     (wait_function.py:15-18). Instead: read the timestamp ourselves and block until the
    #     virtual clock reaches it. Step Functions timestamps are UTC ("…Z").
    def timestamp_wait(self: Timestamp, env: Environment) -> None:
        self.string.eval(env=env)
        timestamp_text: str = env.stack.pop()
        timestamp = self._from_timestamp_string(timestamp=timestamp_text)
        if timestamp is None:
            raise FailureEventException(self._create_failure_event(env, timestamp_text))
        clock.sleep_until(timestamp.replace(tzinfo=UTC), *_sleeper(env))

    patch(Timestamp, "_eval_body", timestamp_wait)

    # 2b. Seconds/SecondsPath waits sleep in `WaitFunction._wait_interval` (wait_function.py:15).
    def wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
        clock.sleep_for(wait_seconds, *_sleeper(env))

    patch(WaitFunction, "_wait_interval", wait_interval)

    # 2c. Retry back-off is `time.sleep(interval_seconds)` (retry/retrier_decl.py:107), the
    #     module's only use of `time`, and it is not given the environment: note the retrier's
    #     environment on the thread while it evaluates, and give the module a `time` whose
    #     sleep is virtual and belongs to that environment's execution.
    retrying = threading.local()
    original_retrier = RetrierDecl._eval_body

    def retrier_body(self: RetrierDecl, env: Environment) -> None:
        retrying.env = env
        try:
            original_retrier(self, env)
        finally:
            retrying.env = None

    def backoff(seconds: float) -> None:
        clock.sleep_for(seconds, *_sleeper(retrying.env))

    patch(RetrierDecl, "_eval_body", retrier_body)
    patch(retrier_decl, "time", SimpleNamespace(sleep=backoff))

    # 8. `JitterStrategy: FULL` is `random.uniform(0, delay)` (retry/jitter_strategy_decl.py:33),
    #    evaluated inside the retrier (2c notes its environment). Draw it from the execution
    #    name, the virtual instant and the delay instead (rung.ladder_retry.jitter): runs are
    #    reproducible, and the fast engine, which reads the same Retry from the ASL, retries at
    #    the same instants.
    def uniform(low: float, high: float) -> float:
        name, _ = _sleeper(retrying.env)
        return low + jitter(high - low, name, clock.now())

    patch(jitter_strategy_decl, "random", SimpleNamespace(uniform=uniform))

    # 3. Execution threads (backend/execution_worker.py:111-114 start a daemon thread running
    #    `_execution_logic`, which runs the program on a second thread and joins it,
    #    program/program.py:78-83). Count the execution before its thread starts, uncount it
    #    when `_execution_logic` returns, and wake its sleep when it is stopped (:116).
    #    A stop can arrive before the thread has built its environment (moto's `stop` then
    #    fails on `env` None, :117); Step Functions accepts it from StartExecution on, so a
    #    stop waits for the environment, which the thread builds without waiting on the clock.
    original_start: Callable[[ExecutionWorker], None] = ExecutionWorker.start
    original_logic: Callable[[ExecutionWorker], None] = ExecutionWorker._execution_logic
    original_environment = ExecutionWorker._get_evaluation_environment
    original_stop = ExecutionWorker.stop
    begun: dict[int, threading.Event] = {}  # id(worker) -> set once its `env` exists

    def start(self: ExecutionWorker) -> None:
        begun[id(self)] = threading.Event()
        clock.thread_starting()
        try:
            original_start(self)
        except RuntimeError:  # the thread could not be started: it will never uncount itself
            clock.thread_start_failed()
            raise

    def evaluation_environment(self: ExecutionWorker) -> Any:
        self.env = original_environment(self)
        begun[id(self)].set()
        return self.env

    def execution_logic(self: ExecutionWorker) -> None:
        try:
            original_logic(self)
        finally:
            begun.pop(id(self)).set()  # a thread that failed before its environment never will
            clock.thread_finished()

    def stop(self: ExecutionWorker, *args: Any, **kwargs: Any) -> None:
        event = begun.get(id(self))
        if event is not None and not event.wait(timeout=clock.stall_timeout):
            raise ClockStalled(f"an execution thread did not begin in {clock.stall_timeout} s")
        original_stop(self, *args, **kwargs)
        clock.interrupt()

    patch(ExecutionWorker, "start", start)
    patch(ExecutionWorker, "_execution_logic", execution_logic)
    patch(ExecutionWorker, "_get_evaluation_environment", evaluation_environment)
    patch(ExecutionWorker, "stop", stop)

    # 4. moto hands SNS-subscribed functions a placeholder event: TopicArn "arn:aws:sns:EXAMPLE",
    #    a fixed MessageId, Timestamp 1970 (awslambda/models.py:2383-2407, reached from
    #    sns/models.py:316-335). AWS sends the topic's ARN, the message's id and the publish
    #    time, and the optout handler tells SMS replies from SES mail by the topic: build the
    #    event as AWS does, at virtual time.
    original_publish = Subscription.publish

    def subscription_publish(
        self: Subscription, message: str, message_id: str, subject: str | None = None, **kwargs: Any
    ) -> None:
        if self.protocol != "lambda" or kwargs.get("message_structure") == "json":
            original_publish(self, message, message_id, subject=subject, **kwargs)
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(kwargs.get("message_attributes"), message):
            return
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": self.arn,
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": message_id,
                        "TopicArn": self.topic.arn,
                        "Subject": subject,
                        "Message": message,
                        "Timestamp": clock.now()
                        .isoformat(timespec="milliseconds")
                        .replace("+00:00", "Z"),
                        "SignatureVersion": "1",
                        "MessageAttributes": kwargs.get("message_attributes") or {},
                    },
                }
            ]
        }
        region = self.endpoint.split(":")[3]
        function = get_lambda_backend(self.account_id, region).get_function(self.endpoint)
        function.invoke(json.dumps(event), {}, {})

    patch(Subscription, "publish", subscription_publish)

    # 5. `extract_json` (utils/json_path.py:48) and ResultPath (common/path/result_path.py:29)
    #    call jsonpath-ng's `parse` on every evaluation; parsing dominates a run. Parsed
    #    expressions are only read (`find`, `update_or_create`), so one per string is safe.
    patch(json_path, "parse", functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse))
    patch(result_path, "parse", functools.lru_cache(maxsize=1024)(jsonpath_ng.parse))

    # 6. Every `lambda:invoke` task builds a new boto3 client (state_task/lambda_eval_utils.py:54
    #    and :74 call asl/utils/boto_client.py:14 `boto_client_for`), which costs more than the
    #    invocation itself. The client depends only on region and service (the credentials
    #    argument is unused there) and boto3 clients are thread-safe: build one per pair.
    @functools.lru_cache(maxsize=16)
    def cached_client(region: str, service: str) -> Any:
        return boto_client_for(region=region, service=service)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return cached_client(region, service)

    patch(lambda_eval_utils, "boto_client_for", client_for)

    # 7. Each execution parses its state machine's ASL with ANTLR afresh
    #    (backend/execution_worker.py:60-63 `_get_evaluation_entrypoint`), ≈ 25 ms a ladder.
    #    The parsed program is only read while evaluating: per-execution state lives in the
    #    Environment (retry counters too: env.heap keyed by component, retry/max_attempts_decl.py
    #    :33), so one program per definition text serves every execution.
    @functools.lru_cache(maxsize=64)
    def parsed(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[0]

    def entrypoint(self: ExecutionWorker) -> Any:
        return parsed(self._evaluation_details.state_machine_details.definition)

    patch(ExecutionWorker, "_get_evaluation_entrypoint", entrypoint)

    # 9. `Table.put_item` (dynamodb/models/table.py:668-691) reads the current item, evaluates
    #    the condition and stores the new one with no lock; `update_item` and `delete_item` do the
    #    same. DynamoDB applies each conditional write atomically, and the address leases and the
    #    ledger's claims rely on that: one lock over every write restores it.
    writes = threading.RLock()

    def serialised(write: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(write)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with writes:
                return write(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        patch(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
