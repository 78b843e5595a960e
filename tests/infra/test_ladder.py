"""Ladder: the deployed state machine is exactly infra/statemachines/ladder.asl.json."""

from __future__ import annotations

import json
import re

from infra.paths import LADDER_ASL
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from tests.infra.conftest import Synthesized, arn_of, logical_id, role_statements

CONFIG = RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY])


def _machine(synth: Synthesized) -> dict:
    return synth.resource(synth.stack.ladder.state_machine)["Properties"]


def test_state_machine_definition_is_the_asl_file(synthesized: Synthesized) -> None:
    # Given the synthesised state machine: DefinitionBody.from_file ships the file as an asset
    machine = _machine(synthesized)
    staged = synthesized.outdir / f"asset.{machine['DefinitionS3Location']['Key']}"
    # When CloudFormation fills in the SendFunctionArn substitution (and nothing else)
    definition = json.loads(staged.read_text(encoding="utf-8"))
    # Then the deployed definition equals the file the moto runs use
    assert definition == json.loads(LADDER_ASL.read_text(encoding="utf-8"))
    assert "DefinitionString" not in machine
    assert machine["DefinitionSubstitutions"] == {
        "SendFunctionArn": arn_of(synthesized.stack.functions.send)
    }


def test_asl_placeholders_are_exactly_the_substitutions(synthesized: Synthesized) -> None:
    # Given every ${...} placeholder of the ASL file
    placeholders = set(re.findall(r"\$\{(\w+)\}", LADDER_ASL.read_text(encoding="utf-8")))
    # Then each one is substituted, and nothing else is
    assert placeholders == set(_machine(synthesized)["DefinitionSubstitutions"])


def test_state_machine_is_standard_traced_and_logged_encrypted(synthesized: Synthesized) -> None:
    machine = _machine(synthesized)
    ladder = synthesized.stack.ladder
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == CONFIG.state_machine_log_level
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == arn_of(ladder.log_group)
    log_group = synthesized.resource(ladder.log_group)["Properties"]
    assert "KmsKeyId" in log_group


def test_state_machine_role_may_invoke_only_the_send_function(synthesized: Synthesized) -> None:
    # Given the state machine's role
    role_id = _machine(synthesized)["RoleArn"]["Fn::GetAtt"][0]
    role = synthesized.stack.ladder.state_machine.role
    assert logical_id(role) == role_id
    # When we collect what it may invoke
    invoke = [
        s for s in role_statements(synthesized, role) if "lambda:InvokeFunction" in s["Action"]
    ]
    # Then it is the unqualified send function and nothing else
    assert [s["Resource"] for s in invoke] == [arn_of(synthesized.stack.functions.send)]
    assert {
        a.split(":")[0]
        for s in role_statements(synthesized, role)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    } == {"lambda", "logs", "xray"}


def test_every_transient_fault_is_retried_with_jitter_then_deferred_and_only_defects_fail() -> None:
    # Given the ladder's SendRung and DeferRung tasks
    states = json.loads(LADDER_ASL.read_text(encoding="utf-8"))["States"]
    transient = {
        "TransientSendError",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
        "Sandbox.Timedout",
        "States.Timeout",
    }
    for name in ("SendRung", "DeferRung"):
        task = states[name]
        # Then each transient fault is retried briefly, with full jitter, by one Retrier ...
        (retrier,) = task["Retry"]
        assert set(retrier["ErrorEquals"]) == transient
        assert retrier["JitterStrategy"] == "FULL" and retrier["MaxAttempts"] <= 3
        assert "TimeoutSeconds" in task  # a hung invocation becomes States.Timeout
        # ... and then caught, by the only Catcher: any other error fails the execution at
        # this step, where RedriveExecution can resume it
        (catcher,) = task["Catch"]
        assert set(catcher["ErrorEquals"]) == transient
    assert not [s for s in states.values() if s["Type"] == "Fail"]
    assert states["SendRung"]["Catch"][0]["Next"] == "DeferRung"
    assert states["SendRung"]["Catch"][0]["ResultPath"] == "$.transient"
    pause = states[states["DeferRung"]["Catch"][0]["Next"]]
    assert pause["Type"] == "Wait" and pause["Next"] == "DeferRung"
    assert states["DeferRung"]["Next"] == "RungsLeft"
