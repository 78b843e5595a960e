"""The roles of the synthesized stack: which statements each function (and the ladder state
machine) is granted, and what AWS itself does with those roles on their behalf."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from functions.core.errors import ConfigError
from rung.access.policy import Request, evaluate
from rung.access.template import Template

LADDER = "ladder"  # the principal of the state machine's own calls (its Lambda tasks)
_LOGICAL_SUFFIX = re.compile(r"[0-9A-F]{8}$")


@dataclass(frozen=True)
class Grant:
    """One statement of a role's policies: where it comes from, as written, as resolved."""

    origin: str  # "<policy logical id>#<index>"
    written: Mapping[str, Any]
    resolved: Mapping[str, Any]


@dataclass(frozen=True)
class Principal:
    """A function (by its handler) or the state machine, with the grants of its role."""

    name: str  # "send", "schedule", … or LADDER
    logical_id: str
    role_logical_id: str
    grants: tuple[Grant, ...]

    def allows(
        self,
        action: str,
        resource: str,
        *,
        without: str = "",
        context: Mapping[str, str | tuple[str, ...]] | None = None,
    ) -> bool:
        statements = [grant.resolved for grant in self.grants if grant.origin != without]
        return evaluate(statements, Request(action, resource, context=context or {})).allowed


@dataclass(frozen=True)
class FunctionFacts:
    """What the template says AWS does with a function's role besides the code's own calls."""

    log_group_arn: str
    traced: bool
    failure_destination: str  # queue ARN, or "" without an on-failure destination


def principals(
    template: Template, resolve: Callable[[Any], Any], handlers: Mapping[str, str]
) -> dict[str, Principal]:
    """Each function of `handlers` (name → handler) and the ladder state machine, by name."""
    resources = template["Resources"]
    by_handler = {
        resource["Properties"]["Handler"]: logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    found: dict[str, Principal] = {}
    for name, handler in handlers.items():
        if handler not in by_handler:
            raise ConfigError(f"the stack declares no function with handler {handler}")
        logical_id = by_handler[handler]
        role = _role_of(resources[logical_id]["Properties"]["Role"])
        found[name] = Principal(name, logical_id, role, _grants(resources, role, resolve))
    machine = _only(resources, "AWS::StepFunctions::StateMachine")
    role = _role_of(resources[machine]["Properties"]["RoleArn"])
    found[LADDER] = Principal(LADDER, machine, role, _grants(resources, role, resolve))
    return found


def function_facts(
    template: Template, logical_id: str, resolve: Callable[[Any], Any]
) -> FunctionFacts:
    resources = template["Resources"]
    properties = resources[logical_id]["Properties"]
    log_group = properties.get("LoggingConfig", {}).get("LogGroup")
    failure = ""
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        if resource["Properties"]["FunctionName"] == {"Ref": logical_id}:
            destination = resource["Properties"].get("DestinationConfig", {}).get("OnFailure")
            failure = str(resolve(destination["Destination"])) if destination else ""
    return FunctionFacts(
        log_group_arn=str(resolve({"Fn::GetAtt": [log_group["Ref"], "Arn"]})) if log_group else "",
        traced=properties.get("TracingConfig", {}).get("Mode") == "Active",
        failure_destination=failure,
    )


def role_grants(
    template: Template, role_logical_id: str, resolve: Callable[[Any], Any]
) -> tuple[Grant, ...]:
    """Every statement of the role's inline, attached and customer-managed policies."""
    return _grants(template["Resources"], role_logical_id, resolve)


def readable(logical_id: str) -> str:
    """A logical id without CDK's hash suffix: `StorageAccounts58C1F889` → `StorageAccounts`."""
    return _LOGICAL_SUFFIX.sub("", logical_id)


def _grants(
    resources: Mapping[str, Any], role: str, resolve: Callable[[Any], Any]
) -> tuple[Grant, ...]:
    role_properties = resources[role]["Properties"]
    documents: list[tuple[str, Mapping[str, Any]]] = [
        (f"{role}.{policy['PolicyName']}", policy["PolicyDocument"])
        for policy in role_properties.get("Policies", [])
    ]
    for attached in role_properties.get("ManagedPolicyArns", []):
        # Customer-managed policies of the stack are read; AWS-managed ones (ARNs) cannot be.
        policy = resources.get(attached.get("Ref", "")) if isinstance(attached, dict) else None
        if policy is None or policy["Type"] != "AWS::IAM::ManagedPolicy":
            raise ConfigError(f"role {role} has managed policy {attached!r}, which is not readable")
        documents.append((attached["Ref"], policy["Properties"]["PolicyDocument"]))
    for logical_id, resource in resources.items():
        if (
            resource["Type"] == "AWS::IAM::Policy"
            and {"Ref": role} in resource["Properties"]["Roles"]
        ):
            documents.append((logical_id, resource["Properties"]["PolicyDocument"]))
    return tuple(
        Grant(origin=f"{source}#{index}", written=statement, resolved=resolve(statement))
        for source, document in documents
        for index, statement in enumerate(_statements(document))
    )


def _statements(document: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _role_of(reference: Any) -> str:
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return str(reference["Fn::GetAtt"][0])
    raise ConfigError(f"a role given as {reference!r} is not one the stack declares")


def _only(resources: Mapping[str, Any], resource_type: str) -> str:
    matches = [key for key, resource in resources.items() if resource["Type"] == resource_type]
    if len(matches) != 1:
        raise ConfigError(f"expected one {resource_type} in the stack, found {len(matches)}")
    return matches[0]
