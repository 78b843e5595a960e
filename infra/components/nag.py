"""cdk-nag 3 acknowledgments: every exception names its rule finding and carries a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope`."""
    if not reason.strip():
        raise ValueError(f"cdk-nag finding {finding} needs a written reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The logical id cdk-nag names a construct by in findings such as `<Bucket1234.Arn>/…`."""
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
