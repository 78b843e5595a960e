"""The stack as synthesized by the CDK app: its template, cached, and its intrinsics resolved
against the resources of a local world.

The template is the one `make synth` writes (cdk-nag included), synthesized in-process once
per set of inputs and cached under `.cache/` keyed by a hash of everything that shapes it (the
infra code, the state machine, cdk.json, config/). Synthesizing needs the development install
(`aws-cdk-lib`, Node.js); a missing one is named.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.core.errors import ConfigError
from functions.settings import PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / ".cache" / "synth"
# What the template is made from; a change to any of these re-synthesizes.
_INPUTS = ("infra", "config", "cdk.json")

Template = dict[str, Any]


def synthesized_template(project_root: Path = PROJECT_ROOT) -> Template:
    """The stack's CloudFormation template, from the cache when its inputs are unchanged."""
    key = _inputs_hash(project_root)
    cached = CACHE_DIR / f"template-{key}.json"
    if cached.is_file():
        template: Template = json.loads(cached.read_text(encoding="utf-8"))
        return template
    template = _synthesize()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: parallel test workers never read half a file.
    with tempfile.NamedTemporaryFile("w", dir=CACHE_DIR, delete=False, suffix=".tmp") as out:
        json.dump(template, out)
    os.replace(out.name, cached)
    for stale in CACHE_DIR.glob("template-*.json"):
        if stale != cached:
            stale.unlink(missing_ok=True)
    return template


def _inputs_hash(project_root: Path) -> str:
    digest = hashlib.sha256()
    for name in _INPUTS:
        path = project_root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(project_root)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _synthesize() -> Template:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    try:
        from infra.app import build_app
    except ImportError as exc:  # pragma: no cover - the dev install provides aws-cdk-lib
        raise ConfigError(
            f"checking access against the stack needs the CDK app ({exc}); run `make install`"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="rung-synth-") as outdir:
        app, stack = build_app(Path(outdir), cloudformation_validation=False)
        assembly = app.synth()
        template: Template = json.loads(
            json.dumps(assembly.get_stack_artifact(stack.artifact_id).template)
        )
    return template


@dataclass(frozen=True)
class Physical:
    """What a logical resource is in the local world: its `Ref` value and its attributes."""

    ref: str
    attributes: Mapping[str, str]


class Resolver:
    """Evaluates CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
    Fn::Split) with pseudo parameters and logical ids bound to local resources. A logical id
    with no local counterpart resolves to a marker ARN that matches nothing real, so a grant
    on it allows nothing here."""

    def __init__(
        self,
        *,
        region: str,
        account: str,
        stack_name: str,
        physical: Mapping[str, Physical],
    ) -> None:
        self._pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._physical = physical

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(argument)
            if name == "Fn::GetAtt":
                logical_id, attribute = argument
                return self._attribute(logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self(part)) for part in self(parts))
            if name == "Fn::Select":
                index, items = argument
                return self(items)[int(index)]
            if name == "Fn::Split":
                separator, text = argument
                return str(self(text)).split(separator)
            if name == "Fn::Sub":
                return self._sub(argument)
            if name.startswith("Fn::"):
                raise ConfigError(f"intrinsic {name} is not modelled by the local world")
        return {key: self(item) for key, item in value.items()}

    def _ref(self, name: str) -> str:
        if name in self._pseudo:
            return self._pseudo[name]
        physical = self._physical.get(name)
        return physical.ref if physical else unresolved(name)

    def _attribute(self, logical_id: str, attribute: str) -> str:
        physical = self._physical.get(logical_id)
        if physical is None or attribute not in physical.attributes:
            return unresolved(f"{logical_id}.{attribute}")
        return physical.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        result = str(text)
        for name, value in variables.items():
            result = result.replace("${" + name + "}", str(self(value)))
        for name in list(self._pseudo):
            result = result.replace("${" + name + "}", self._pseudo[name])
        if "${" in result:
            raise ConfigError(f"Fn::Sub {text!r} names a value the local world cannot resolve")
        return result


def unresolved(name: str) -> str:
    return f"arn:rung-unresolved:::{name}"
