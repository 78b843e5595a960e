"""Synthesise the Rung app once per test session (cdk-nag included) and share the result."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner for Node versions it no longer tests; it is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Stack
from constructs import IConstruct

from infra.app import build_app
from infra.stack import RungStack


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: RungStack
    outdir: Path
    template: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def resource(self, construct: IConstruct) -> dict[str, Any]:
        resource: dict[str, Any] = self.template["Resources"][logical_id(construct)]
        return resource


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct (its default child) or an L1."""
    element = construct.node.default_child or construct
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(element)))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    # CDK's built-in CloudFormation validator costs ~15 s; test_compliance_checks runs cfn-lint.
    app, stack = build_app(outdir, cloudformation_validation=False)
    assembly = app.synth()  # raises if cdk-nag finds anything unacknowledged
    template = assembly.get_stack_artifact(stack.artifact_id).template
    yield Synthesized(
        app=app, stack=stack, outdir=outdir, template=json.loads(json.dumps(template))
    )


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(synth: Synthesized, role: IConstruct) -> list[dict[str, Any]]:
    """Every IAM statement attached to `role` (inline policies of the synthesised template)."""
    role_id = logical_id(role)
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def role_actions(synth: Synthesized, role: IConstruct) -> set[str]:
    return {action for s in role_statements(synth, role) for action in as_list(s["Action"])}


def resources_for(synth: Synthesized, role: IConstruct, action: str) -> list[Any]:
    return [
        resource
        for statement in role_statements(synth, role)
        if action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def arn_of(construct: IConstruct) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(construct), "Arn"]}
