"""IAM policy evaluation, limited to what Rung's synthesized template uses.

The decision follows AWS's evaluation logic for one account: an explicit Deny in any applicable
statement wins; otherwise an applicable Allow allows; otherwise the request is implicitly
denied. A statement applies when its Action (or NotAction), Resource (or NotResource),
Principal (resource policies) and every Condition match the request.

moto ships an evaluator (moto.iam.access_control) but it is not fit to judge the deployed
roles: a statement whose condition does not hold becomes a Deny there instead of not applying,
actions are matched case-sensitively, `?` and `.` are not escaped, and service principals are
never matched. Conditions supported here are the operators the stack uses (String*, Arn*,
Bool) with their IfExists forms; any other operator raises, so a new one cannot be silently
ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Decision(Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


class UnsupportedPolicy(ValueError):
    """The policy uses a feature this evaluator does not model."""


@dataclass(frozen=True)
class Request:
    """One request as IAM sees it. `principal` is the caller for resource policies: an AWS
    service (`ses.amazonaws.com`) or an ARN; `context` holds condition keys such as
    aws:SourceAccount, aws:SourceArn, aws:SecureTransport."""

    action: str
    resource: str
    principal: str = ""
    # Multi-valued keys (e.g. ses:Recipients) are tuples, judged by ForAllValues/ForAnyValue.
    context: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    statements: tuple[Mapping[str, Any], ...]  # the statements that decided (Allows or Denies)

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def evaluate(statements: Iterable[Mapping[str, Any]], request: Request) -> Verdict:
    allows: list[Mapping[str, Any]] = []
    denies: list[Mapping[str, Any]] = []
    for statement in statements:
        for operator in statement.get("Condition") or {}:
            _operator(operator)  # an unmodelled operator is an error even where it won't apply
        if not applies(statement, request):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            denies.append(statement)
        elif effect == "Allow":
            allows.append(statement)
        else:
            raise UnsupportedPolicy(f"statement Effect must be Allow or Deny, not {effect!r}")
    if denies:
        return Verdict(Decision.EXPLICIT_DENY, tuple(denies))
    if allows:
        return Verdict(Decision.ALLOW, tuple(allows))
    return Verdict(Decision.IMPLICIT_DENY, ())


def applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _matches_element(statement, "Action", request.action, _action_pattern)
        and _matches_element(statement, "Resource", request.resource, _resource_pattern)
        and _matches_principal(statement, request.principal)
        and _conditions_hold(statement.get("Condition") or {}, request.context)
    )


def _matches_element(statement: Mapping[str, Any], name: str, value: str, pattern: Any) -> bool:
    positive, negative = statement.get(name), statement.get(f"Not{name}")
    if positive is not None and negative is not None:
        raise UnsupportedPolicy(f"a statement has both {name} and Not{name}")
    if positive is None and negative is None:
        if name == "Resource":  # trust and some resource policies name no resource
            return True
        raise UnsupportedPolicy(f"a statement has neither {name} nor Not{name}")
    values = _as_list(positive if positive is not None else negative)
    matched = any(pattern(text).fullmatch(value) for text in values)
    return matched if positive is not None else not matched


def _matches_principal(statement: Mapping[str, Any], principal: str) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedPolicy("NotPrincipal is not used by the stack and not modelled")
    expected = statement.get("Principal")
    if expected is None:  # an identity policy: the caller is the role it is attached to
        return True
    if expected == "*":
        return True
    if not isinstance(expected, Mapping):
        raise UnsupportedPolicy(f"Principal must be '*' or a mapping, not {expected!r}")
    for kind, names in expected.items():
        if kind not in ("Service", "AWS"):
            raise UnsupportedPolicy(f"Principal type {kind!r} is not modelled")
        if any(name == "*" or name == principal for name in _as_list(names)):
            return True
    return False


def _conditions_hold(
    conditions: Mapping[str, Any], context: Mapping[str, str | tuple[str, ...]]
) -> bool:
    # Condition keys are case-insensitive; values are compared as the operator says.
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, clauses in conditions.items():
        qualifier, _, _ = operator.rpartition(":")
        test, if_exists = _operator(operator)
        for key, expected in clauses.items():
            actual = lowered.get(key.lower())
            if operator == "Null":  # "true": the key must be absent; "false": present
                if (actual is None) != (str(expected).lower() == "true"):
                    return False
                continue
            if qualifier == "ForAllValues":  # every value matches (true when there are none)
                if not all(_any(test, expected, value) for value in _values(actual)):
                    return False
                continue
            if qualifier == "ForAnyValue":
                if not any(_any(test, expected, value) for value in _values(actual)):
                    return False
                continue
            if actual is None:
                if if_exists:
                    continue
                return False
            if isinstance(actual, tuple):
                raise UnsupportedPolicy(f"{key} has several values: use ForAllValues/ForAnyValue")
            if not _any(test, expected, actual):
                return False
    return True


def _any(test: Any, expected: Any, actual: str) -> bool:
    return any(test(str(value), actual) for value in _as_list(expected))


def _values(actual: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if actual is None:
        return ()
    return actual if isinstance(actual, tuple) else (actual,)


def _operator(name: str) -> tuple[Any, bool]:
    name = name.removeprefix("ForAllValues:").removeprefix("ForAnyValue:")
    if name == "Null":
        return None, False
    base, if_exists = (
        (name[: -len("IfExists")], True) if name.endswith("IfExists") else (name, False)
    )
    tests = {
        "StringEquals": lambda expected, actual: expected == actual,
        "StringNotEquals": lambda expected, actual: expected != actual,
        "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
        "StringLike": lambda expected, actual: bool(_resource_pattern(expected).fullmatch(actual)),
        "ArnEquals": lambda expected, actual: expected == actual,
        "ArnLike": lambda expected, actual: bool(_resource_pattern(expected).fullmatch(actual)),
        "Bool": lambda expected, actual: expected.lower() == actual.lower(),
    }
    if base not in tests:
        raise UnsupportedPolicy(f"condition operator {name!r} is not modelled")
    return tests[base], if_exists


@functools.lru_cache(maxsize=4096)
def _action_pattern(text: str) -> re.Pattern[str]:
    """Actions are case-insensitive; `*` and `?` are wildcards."""
    return re.compile(_wildcards(text), re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def _resource_pattern(text: str) -> re.Pattern[str]:
    """ARNs are case-sensitive; `*` and `?` are wildcards (they span `:` and `/`)."""
    return re.compile(_wildcards(text))


def _wildcards(text: str) -> str:
    return "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in text
    )


def _as_list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else [value]
