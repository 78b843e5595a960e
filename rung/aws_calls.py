"""docs/aws-calls.md: every AWS call each function makes, as recorded in the local world, with
the grant of its role (as the template writes it) that allows the call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rung.access.enforcer import Recorded
from rung.access.policy import Request, applies
from rung.access.roles import Principal, readable

HEADER = """# AWS calls, per function

Generated from a recorded run of the local world, where every call a handler makes is checked
against its function's role in the synthesized stack (see the README, "IAM in the local
world"). A test keeps this file current: after changing what a function calls or what its role
grants, run `make aws-calls` and review the difference.

Each row is one IAM action on one resource, with the resource as the stack's template grants it
(`Name.Arn` is the ARN of the stack's resource `Name`). Calls marked *(by AWS)* are made by AWS
with the function's role on its behalf: the Lambda service writing logs and traces, S3 asking
KMS for the bucket's key, Lambda handing a failed asynchronous event to the on-failure queue.
"""

_ON_BEHALF = ("logs:", "xray:", "kms:", "sqs:")
_TITLES = {
    "schedule": "schedule — lender files and payments files (S3 notification)",
    "send": "send — one rung of one ladder (invoked by the ladder)",
    "optout": "optout — replies, delivery receipts, alarms (SNS)",
    "unsubscribe": "unsubscribe — one-click unsubscribe (Function URL)",
    "plan": "plan — the capacity plan of each accepted lender file (invoked by schedule)",
    "ladder": "ladder — the state machine's own role",
}


def render_calls(calls: Iterable[Recorded], principals: Mapping[str, Principal]) -> str:
    lines = [HEADER]
    for name in _TITLES:
        principal = principals[name]
        rows = sorted(
            {
                (call.action, _granted_resource(principal, call))
                for call in calls
                if call.principal == name
            }
        )
        lines.append(f"## {_TITLES[name]}\n")
        lines.append("| action | resource, as granted |")
        lines.append("| --- | --- |")
        for action, resource in rows:
            note = " *(by AWS)*" if action.startswith(_ON_BEHALF) else ""
            lines.append(f"| `{action}`{note} | `{resource}` |")
        lines.append("")
    return "\n".join(lines)


def _granted_resource(principal: Principal, call: Recorded) -> str:
    """The resource element of the first grant that allows the call, as written."""
    request = Request(call.action, call.resource, context=dict(call.context))
    for grant in principal.grants:
        if grant.written.get("Effect") != "Allow" or not applies(grant.resolved, request):
            continue
        written, resolved = grant.written.get("Resource"), grant.resolved.get("Resource")
        if isinstance(written, list) and isinstance(resolved, list):
            for written_one, resolved_one in zip(written, resolved, strict=True):
                if applies({**grant.resolved, "Resource": resolved_one}, request):
                    return _describe(written_one)
        return _describe(written)
    return "(not granted)"


def _describe(value: Any) -> str:
    """A template value in words: `{"Fn::GetAtt": ["StorageLedger5E7CB2E3", "Arn"]}` →
    `StorageLedger.Arn`; pseudo parameters stay `${AWS::Region}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}" if argument.startswith("AWS::") else readable(argument)
        if function == "Fn::GetAtt":
            return f"{readable(argument[0])}.{argument[1]}"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_describe(part) for part in parts)
    return str(value)
