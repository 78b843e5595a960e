"""The local world's machinery on its own: moto patches, virtual clock, resources.

Proven with throwaway handlers (defined below, run in-process by the patched Lambda) so that a
failure here points at the machinery, not at Rung's handlers. The real ladder ASL is used
wherever it can be: only its send function is swapped for a scripted one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import jsonpath_ng.ext
import pytest
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from functions.core.errors import ConfigError, PermanentSendError, TransientSendError
from functions.core.ladder import to_sfn_timestamp
from functions.settings import FUNCTION_SETTINGS, Settings
from rung.ladder_retry import send_rung_policy
from rung.localworld import LADDER_ASL, LocalWorld, substitute
from rung.virtual_clock import NotAnExecutionThread, VirtualClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HERE = __name__  # handler strings point into this module

# What the scripted handlers saw, in call order: (label, virtual now, detail).
CALLS: list[tuple[str, datetime, Any]] = []
_FAILURES: dict[tuple[str, int], int] = {}
_LOCK = threading.Lock()


def scripted_send(event: dict[str, Any], context: Any, services: Any) -> dict[str, Any]:
    """Stands in for the send λ: walks `event["at"]`, failing as `event["fail"]` scripts."""
    now = services.clock.now()
    account, rung = event["account_id"], event["rung"]
    if "transient" in event:  # DeferRung: the transient Catch passes the state plus the error
        CALLS.append((f"{account}:deferred", now, event["transient"]["Error"]))
        return {**event, "done": True}
    CALLS.append((f"{account}:{rung}", now, context.function_name))
    with _LOCK:
        scripted = int(event.get("fail", {}).get(str(rung), 0))
        failed = _FAILURES.get((account, rung), 0)
        if failed < scripted:
            _FAILURES[(account, rung)] = failed + 1
            error = PermanentSendError if event.get("permanent") else TransientSendError
            raise error(f"scripted failure {failed + 1} of {scripted}")
    following = rung + 1
    done = following >= len(event["at"])
    return {
        **event,
        "rung": following,
        "done": done,
        "next_at": event["next_at"] if done else event["at"][following],
    }


def record_event(event: dict[str, Any], context: Any, services: Any) -> dict[str, str]:
    """Stands in for S3/SNS-triggered functions: records what arrived."""
    CALLS.append((context.function_name, services.clock.now(), event))
    return {"ok": "yes"}


def broken(event: dict[str, Any], context: Any, services: Any) -> None:
    raise ConfigError("scripted: this handler always fails")


def _scripted_services(settings: Settings, clock: Any) -> Any:
    # Only the clock: the scripted handlers touch no port.
    return SimpleNamespace(settings=settings, clock=clock)


@pytest.fixture
def world() -> Iterator[LocalWorld]:
    CALLS.clear()
    _FAILURES.clear()
    # A stall timeout of a few real seconds: a Wait that slept for real would fail the test
    # with ClockStalled instead of hanging it.
    with LocalWorld(START, services_factory=_scripted_services, stall_timeout=10) as local:
        yield local


def _ladder_with_scripted_send(world: LocalWorld) -> str:
    send = world.create_function("scripted-send", f"{HERE}.scripted_send")
    return world.create_state_machine(
        "scripted-ladder", LADDER_ASL.read_text(encoding="utf-8"), {"SendFunctionArn": send}
    )


def _start(world: LocalWorld, machine: str, account: str, at: list[datetime], **extra: Any) -> None:
    stamps = [to_sfn_timestamp(instant) for instant in at]
    state = {
        "lender_id": "demo",
        "account_id": account,
        "cycle": "c1",
        "rung": 0,
        "next_at": stamps[0],
        "done": False,
        "at": stamps,
        **extra,
    }
    world.client("stepfunctions").start_execution(
        stateMachineArn=machine, name=f"run-{account}", input=json.dumps(state)
    )


def _status(world: LocalWorld, machine: str) -> dict[str, str]:
    executions = world.client("stepfunctions").list_executions(stateMachineArn=machine)
    return {item["name"]: item["status"] for item in executions["executions"]}


def test_timestamp_wait_wakes_at_virtual_instant_without_sleeping(world: LocalWorld) -> None:
    # Given a ladder whose rungs are a day, three days and thirty days away
    machine = _ladder_with_scripted_send(world)
    rungs = [START + timedelta(days=days) for days in (1, 3, 30)]
    _start(world, machine, "a", rungs)

    # When virtual time runs to day 31
    world.clock.run_until(START + timedelta(days=31))

    # Then the send function ran exactly at each rung's instant and the ladder ended
    assert [(label, at) for label, at, _ in CALLS] == [
        ("a:0", rungs[0]),
        ("a:1", rungs[1]),
        ("a:2", rungs[2]),
    ]
    assert _status(world, machine) == {"run-a": "SUCCEEDED"}
    assert world.clock.now() == START + timedelta(days=31)


def test_clock_interleaves_many_executions_in_time_order(world: LocalWorld) -> None:
    # Given executions started in an order unrelated to their times, two sharing an instant
    machine = _ladder_with_scripted_send(world)
    hour = timedelta(hours=1)
    plans = {
        "d": [START + 5 * hour, START + 9 * hour],
        "c": [START + 2 * hour, START + 6 * hour],
        "b": [START + 1 * hour, START + 6 * hour],
        "a": [START + 3 * hour, START + 4 * hour],
    }
    for account, at in plans.items():
        _start(world, machine, account, at)

    # When the clock runs them all
    world.clock.run_until(START + timedelta(days=1))

    # Then every call happened in virtual-time order, ties broken by execution name
    assert [label for label, _, _ in CALLS] == [
        "b:0",
        "c:0",
        "a:0",
        "a:1",
        "d:0",
        "b:1",
        "c:1",
        "d:1",
    ]
    assert [at for _, at, _ in CALLS] == sorted(at for _, at, _ in CALLS)
    assert set(_status(world, machine).values()) == {"SUCCEEDED"}


def test_run_until_stops_before_limit_and_resumes(world: LocalWorld) -> None:
    # Given a ladder with a rung at exactly the limit of the first run
    machine = _ladder_with_scripted_send(world)
    limit = START + timedelta(days=2)
    _start(world, machine, "a", [START + timedelta(days=1), limit])

    # When time runs to the limit, then beyond it
    world.clock.run_until(limit)
    before = [label for label, _, _ in CALLS]
    world.clock.run_until(limit + timedelta(seconds=1))

    # Then a rung due at the limit waits for the next run (scripted events at an instant
    # come before ladder steps at that instant)
    assert before == ["a:0"]
    assert [label for label, _, _ in CALLS] == ["a:0", "a:1"]


def test_retry_backoff_of_transient_error_is_virtual_jittered_and_matched_by_name(
    world: LocalWorld,
) -> None:
    # Given a send that fails twice with TransientSendError (Retry: 2 s, backoff 2.0, FULL jitter)
    machine = _ladder_with_scripted_send(world)
    rung_at = START + timedelta(hours=1)
    _start(world, machine, "a", [rung_at], fail={"0": 2})

    # When the clock runs
    world.clock.run_until(START + timedelta(days=1))

    # Then the ladder retried after the jittered back-offs of the ASL's Retry, in virtual time
    # — exactly those the fast engine computes from the same ASL — and succeeded
    retrier = send_rung_policy().retriers[0]
    first = rung_at + retrier.delay(0, "run-a", rung_at)
    second = first + retrier.delay(1, "run-a", first)
    assert [(label, at) for label, at, _ in CALLS] == [
        ("a:0", rung_at),
        ("a:0", first),
        ("a:0", second),
    ]
    assert second - rung_at < timedelta(seconds=2 + 4)
    assert _status(world, machine) == {"run-a": "SUCCEEDED"}
    assert [error.error_type for error in world.handler_errors] == ["TransientSendError"] * 2


def test_error_no_rule_names_fails_the_execution_with_its_type_name(world: LocalWorld) -> None:
    # Given a send that fails with PermanentSendError, which neither Retry nor Catch names
    machine = _ladder_with_scripted_send(world)
    _start(world, machine, "a", [START + timedelta(hours=1)], fail={"0": 1}, permanent=True)

    # When the clock runs
    world.clock.run_until(START + timedelta(days=1))

    # Then the execution failed at that step, with the error named by its class
    assert [(label, detail) for label, _, detail in CALLS] == [("a:0", "scripted-send")]
    assert _status(world, machine) == {"run-a": "FAILED"}
    (execution,) = world.client("stepfunctions").list_executions(stateMachineArn=machine)[
        "executions"
    ]
    described = world.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )
    assert described["error"] == "PermanentSendError"


def test_transient_error_after_the_retries_is_caught_into_the_deferral(world: LocalWorld) -> None:
    # Given a send that fails with TransientSendError more often than the Retry allows (3)
    machine = _ladder_with_scripted_send(world)
    rung_at = START + timedelta(hours=1)
    _start(world, machine, "a", [rung_at], fail={"0": 9})

    # When the clock runs
    world.clock.run_until(START + timedelta(days=1))

    # Then after four attempts the Catch passed the error to DeferRung, and the ladder lives
    labels = [(label, detail) for label, _, detail in CALLS]
    assert labels == [("a:0", "scripted-send")] * 4 + [("a:deferred", "TransientSendError")]
    assert _status(world, machine) == {"run-a": "SUCCEEDED"}


def test_stop_execution_wakes_a_sleeping_ladder(world: LocalWorld) -> None:
    # Given a ladder asleep until a rung thirty days away
    machine = _ladder_with_scripted_send(world)
    _start(world, machine, "a", [START + timedelta(days=30)])
    world.clock.run_until(START + timedelta(days=1))

    # When it is stopped
    stopped = world.stop_running(cause="test", state_machine_arn=machine)

    # Then its thread ended, nothing is asleep, and the rung never ran
    assert stopped == 1
    assert _status(world, machine) == {"run-a": "ABORTED"}
    assert world.clock.sleeping == 0
    assert world.clock.next_wake() is None
    assert CALLS == []


def test_stop_execution_just_started_waits_for_its_thread_to_begin(world: LocalWorld) -> None:
    # Given a ladder whose thread is slow to build its program (Step Functions accepts a stop
    # from the moment StartExecution returns)
    machine = _ladder_with_scripted_send(world)
    parse = ExecutionWorker._get_evaluation_entrypoint

    def slow_parse(self: ExecutionWorker) -> Any:
        time.sleep(0.3)
        return parse(self)

    with mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", slow_parse):
        _start(world, machine, "a", [START + timedelta(days=30)])
        # When it is stopped at once
        stopped = world.stop_running(cause="test", state_machine_arn=machine)

    # Then the stop takes: the execution is aborted and nothing is left asleep
    assert stopped == 1
    assert _status(world, machine) == {"run-a": "ABORTED"}
    assert world.clock.sleeping == 0
    assert CALLS == []


def test_world_exit_stops_executions_still_asleep() -> None:
    # Given a world left while a ladder sleeps until a rung thirty days away
    with LocalWorld(START, services_factory=_scripted_services, stall_timeout=10) as local:
        machine = _ladder_with_scripted_send(local)
        _start(local, machine, "a", [START + timedelta(days=30)])
        local.clock.run_until(START + timedelta(hours=1))
        asleep = local.clock.sleeping

    # Then leaving stopped it: no thread is left blocked on the clock
    assert (asleep, local.clock.sleeping) == (1, 0)


def test_seconds_wait_advances_virtual_time(world: LocalWorld) -> None:
    # Given a tiny machine: Wait 3600 s → record → succeed
    recorder = world.create_function("recorder", f"{HERE}.record_event")
    definition = json.dumps(
        {
            "StartAt": "Pause",
            "States": {
                "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Record"},
                "Record": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "${Recorder}", "Payload.$": "$"},
                    "End": True,
                },
            },
        }
    )
    machine = world.create_state_machine("pause", definition, {"Recorder": recorder})
    world.client("stepfunctions").start_execution(
        stateMachineArn=machine, name="pause-1", input="{}"
    )

    # When the clock runs past the hour
    world.clock.run_until(START + timedelta(hours=2))

    # Then the task ran one virtual hour after the start
    assert [(label, at) for label, at, _ in CALLS] == [("recorder", START + timedelta(hours=1))]


def test_s3_notification_runs_the_handler_in_process(world: LocalWorld) -> None:
    # Given the bucket notifies a recording function on uploads/
    recorder = world.create_function("s3-recorder", f"{HERE}.record_event")
    world.client("s3").put_bucket_notification_configuration(
        Bucket=world.resources.bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": recorder,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )

    # When a file is uploaded
    etag = world.put_object("uploads/demo/file.csv", b"account_id\n1\n")

    # Then the handler got the S3 event, synchronously, at virtual time
    [(label, at, event)] = CALLS
    record = event["Records"][0]
    assert (label, at) == ("s3-recorder", START)
    assert record["s3"]["object"] == {"key": "uploads%2Fdemo%2Ffile.csv", "size": 13, "eTag": etag}


def test_sns_subscription_runs_the_handler_in_process(world: LocalWorld) -> None:
    # Given a topic with a recording function subscribed
    recorder = world.create_function("sns-recorder", f"{HERE}.record_event")
    sns = world.client("sns")
    topic = sns.create_topic(Name="test-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=recorder)

    # When a message is published
    sns.publish(TopicArn=topic, Message='{"messageBody": "STOP"}')

    # Then the handler got the SNS event as AWS shapes it: this topic, this message, now
    [(label, _, event)] = CALLS
    notification = event["Records"][0]["Sns"]
    assert label == "sns-recorder"
    assert json.loads(notification["Message"]) == {"messageBody": "STOP"}
    assert (notification["TopicArn"], notification["Timestamp"]) == (
        topic,
        "2026-03-02T09:00:00.000Z",
    )


def test_handler_errors_swallowed_by_s3_are_kept(world: LocalWorld) -> None:
    # Given an S3 notification to a function that always raises
    failing = world.create_function("broken", f"{HERE}.broken")
    world.client("s3").put_bucket_notification_configuration(
        Bucket=world.resources.bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": failing, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )

    # When a file is uploaded (moto ignores the failure, as an async invoke would)
    world.put_object("uploads/demo/file.csv", b"x")

    # Then the world still tells what went wrong
    [error] = world.handler_errors
    assert (error.function_name, error.error_type) == ("broken", "ConfigError")
    assert "always fails" in error.message


def test_world_declares_the_stack_resources(world: LocalWorld) -> None:
    # Given a fresh world, Then the resources the CDK stack declares exist as specified
    settings = world.settings
    dynamodb = world.client("dynamodb")
    ledger = dynamodb.describe_table(TableName=settings.ledger_table)["Table"]
    assert [key["AttributeName"] for key in ledger["KeySchema"]] == ["pk", "sk"]
    assert [
        (index["IndexName"], [key["AttributeName"] for key in index["KeySchema"]])
        for index in ledger["GlobalSecondaryIndexes"]
    ] == [("by_address", ["address", "attempted_at"]), ("by_message", ["provider_message_id"])]
    accounts = dynamodb.describe_table(TableName=settings.accounts_table)["Table"]
    assert sorted(index["IndexName"] for index in accounts["GlobalSecondaryIndexes"]) == [
        "by_email",
        "by_phone",
    ]
    assert dynamodb.describe_time_to_live(TableName=settings.audit_table)[
        "TimeToLiveDescription"
    ] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert len(dynamodb.list_tables()["TableNames"]) == 8  # the stack's tables, reviews included

    definition = json.loads(
        world.client("stepfunctions").describe_state_machine(
            stateMachineArn=settings.state_machine_arn
        )["definition"]
    )
    assert (
        definition["States"]["SendRung"]["Parameters"]["FunctionName"]
        == (world.resources.function_arns["send"])
    )

    notification = world.client("s3").get_bucket_notification_configuration(
        Bucket=settings.uploads_bucket
    )["LambdaFunctionConfigurations"]
    assert sorted(rule["Filter"]["Key"]["FilterRules"][0]["Value"] for rule in notification) == [
        "payments/",
        "uploads/",
    ]
    assert {rule["LambdaFunctionArn"] for rule in notification} == {
        world.resources.function_arns["schedule"]
    }

    subscriptions = world.client("sns").list_subscriptions_by_topic(
        TopicArn=world.resources.inbound_topic_arn
    )["Subscriptions"]
    assert [sub["Endpoint"] for sub in subscriptions] == [world.resources.function_arns["optout"]]
    identities = world.client("sesv2").list_email_identities()["EmailIdentities"]
    # The sending domain is the verified identity, as the deploy guide has it (the roles
    # grant ses:SendEmail on the domain identity).
    assert [identity["IdentityName"] for identity in identities] == ["demo-finance.example"]
    handlers = {
        function["FunctionName"]: function["Handler"]
        for function in world.client("lambda").list_functions()["Functions"]
    }
    assert handlers["rung-send"] == "functions.send.handler.handler"


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_world_environment_satisfies_every_function_settings_model(
    world: LocalWorld, function: str
) -> None:
    # Given the environment a local world gives its functions
    model = FUNCTION_SETTINGS[function]
    # When one function reads its settings at its cold start
    settings = model.from_environment()
    # Then they validate and name the world's own resources
    assert settings.model_dump() == world.settings.model_dump(include=set(model.model_fields))


def test_world_restores_moto_and_environment_on_exit() -> None:
    # Given the process state before a world
    invoke_before = LambdaFunction._invoke_lambda
    tz_before = os.environ.get("TZ")

    # When a world is entered and left
    with LocalWorld(START, services_factory=_scripted_services) as world:
        inside = (
            LambdaFunction._invoke_lambda,
            json_path.parse,
            os.environ["TZ"],
            os.environ["RUNG_STATE_MACHINE_ARN"],
        )
        arn = world.settings.state_machine_arn

    # Then the patches were in place inside and are all undone outside
    assert inside[0] is not invoke_before
    assert inside[1] is not jsonpath_ng.ext.parse
    assert inside[2:] == ("UTC", arn)
    assert LambdaFunction._invoke_lambda is invoke_before
    assert json_path.parse is jsonpath_ng.ext.parse
    assert os.environ.get("TZ") == tz_before
    assert "RUNG_STATE_MACHINE_ARN" not in os.environ


def test_substitute_follows_fn_sub_semantics() -> None:
    # Given a definition with a substitution, an escaped literal and nothing else
    text = '{"a": "${SendFunctionArn}", "b": "${!Literal}"}'

    # When substituted
    result = substitute(text, {"SendFunctionArn": "arn:aws:lambda:x"})

    # Then names are replaced and escapes become literals; unknown names are an error
    assert json.loads(result) == {"a": "arn:aws:lambda:x", "b": "${Literal}"}
    with pytest.raises(ConfigError, match="Unknown"):
        substitute("${Unknown}", {})


def test_virtual_clock_refuses_sleep_outside_an_execution_thread() -> None:
    # Given a clock, When a thread that runs no execution asks to sleep, Then it is refused
    clock = VirtualClock(START)
    with pytest.raises(NotAnExecutionThread):
        clock.sleep_until(START + timedelta(hours=1), "x", is_stopped=lambda: False)


def test_virtual_clock_orders_same_instant_sleepers_by_name() -> None:
    # Given three plain threads registered as executions, all due at the same instant
    clock = VirtualClock(START, stall_timeout=10)
    woken: list[str] = []
    due = START + timedelta(hours=1)

    def execution(name: str) -> None:
        try:
            clock.sleep_until(due, name, is_stopped=lambda: False)
            woken.append(name)
        finally:
            clock.thread_finished()

    threads = [threading.Thread(target=execution, args=(name,)) for name in ("c", "a", "b")]
    for thread in threads:
        clock.thread_starting()
        thread.start()

    # When the coordinator runs past that instant
    clock.run_until(due + timedelta(seconds=1))
    for thread in threads:
        thread.join()

    # Then they woke one at a time in name order, and time stood at their instant
    assert woken == ["a", "b", "c"]
    assert clock.now() == due + timedelta(seconds=1)


def test_conditional_writes_are_atomic_as_in_dynamodb(world: LocalWorld) -> None:
    # Given two writers racing for one key with `attribute_not_exists`, where the first has read
    # the (empty) item and pauses before writing, giving the second every chance to read it too
    from moto.dynamodb.models import table as moto_table

    dynamodb = world.client("dynamodb")
    table = world.settings.ledger_table
    first_read, second_arrived = threading.Event(), threading.Event()
    read_item = moto_table.Table.get_item

    def get_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        current = read_item(self, *args, **kwargs)
        if threading.current_thread().name == "first" and not first_read.is_set():
            first_read.set()
            # Real DynamoDB serialises the second writer behind this one; if the local world
            # does not, the second reads the empty item meanwhile. The wait ends either way.
            second_arrived.wait(timeout=2)
        elif threading.current_thread().name == "second":
            second_arrived.set()
        return current

    won: dict[str, bool] = {}

    def put(owner: str) -> None:
        try:
            dynamodb.put_item(
                TableName=table,
                Item={"pk": {"S": "lease#race"}, "sk": {"S": "lease"}, "owner": {"S": owner}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            won[owner] = True
        except dynamodb.exceptions.ConditionalCheckFailedException:
            won[owner] = False

    with mock.patch.object(moto_table.Table, "get_item", get_item):
        first = threading.Thread(target=put, args=("first",), name="first")
        first.start()
        assert first_read.wait(timeout=10)
        second = threading.Thread(target=put, args=("second",), name="second")
        second.start()
        first.join()
        second.join()

    # Then exactly one conditional write succeeded
    assert won == {"first": True, "second": False}
