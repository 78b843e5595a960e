"""cdk-nag 3 acknowledgments: every exception names its rule finding and carries a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope`."""
    if not reason.strip():
        raise ValueError(f"cdk-nag finding {finding} needs a written reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
