"""The one Lambda code asset, built without Docker.

Layout of the asset (Lambda's /var/task), exactly as in the repository so that
`functions.settings.PROJECT_ROOT` works unchanged:

    functions/   the package (no tests, no __pycache__)
    config/      lender and rule configuration read at run time
    ladders/     ladder definitions read at run time
    <deps>/      runtime dependencies that neither the Lambda runtime (boto3) nor the
                 Powertools layer provide, as manylinux wheels for the Lambda runtime

The dependency set is the closure of `[project].dependencies` in pyproject.toml, pinned to
the versions installed in the local environment: the asset runs what the tests ran. The pip
result is cached under `.bundle/` keyed by that pinned set, so a synth only downloads after
a dependency changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.paths import BUNDLE_CACHE, PROJECT_ROOT

SOURCE_DIRS = ("functions", "config", "ladders")
EXCLUDED_DIRS = frozenset({"tests", "__pycache__"})
# Shipped by the Powertools layer (aws-lambda-powertools) and the Lambda runtime (boto3).
PROVIDED_BY_LAMBDA = frozenset({"aws-lambda-powertools", "boto3"})
WHEEL_PLATFORM = "manylinux2014_x86_64"  # Lambda x86_64; matches the layer's architecture


class BundlingError(RuntimeError):
    """The Lambda asset could not be assembled."""


def runtime_pins(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """`name==version` for every runtime dependency the asset must carry, sorted."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    roots = [
        Requirement(text).name
        for text in declared
        if canonicalize_name(Requirement(text).name) not in PROVIDED_BY_LAMBDA
    ]
    return tuple(
        sorted(f"{name}=={version}" for name, version in _installed_closure(roots).items())
    )


def _installed_closure(roots: Iterable[str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    pending = [canonicalize_name(name) for name in roots]
    while pending:
        name = pending.pop()
        if name in versions:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as missing:
            raise BundlingError(
                f"runtime dependency {name!r} is not installed; run `make install` first"
            ) from missing
        versions[name] = distribution.version
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return versions


def dependency_key(python_version: str, pins: tuple[str, ...]) -> str:
    identity = {"python": python_version, "platform": WHEEL_PLATFORM, "pins": list(pins)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def installed_dependencies(python_version: str, pins: tuple[str, ...]) -> Path:
    """The pip --target directory for `pins`, from the cache or freshly installed."""
    target = BUNDLE_CACHE / f"deps-{dependency_key(python_version, pins)}"
    if target.is_dir():
        return target
    BUNDLE_CACHE.mkdir(exist_ok=True)
    staging = BUNDLE_CACHE / f"{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        WHEEL_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--target",
        str(staging),
        *pins,
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except subprocess.CalledProcessError as failed:
        raise BundlingError(
            f"pip could not install the Lambda dependencies {pins}: {failed.stderr.strip()}"
        ) from failed
    try:
        staging.rename(target)
    except OSError:
        # Another synth (e.g. a parallel test worker) finished the same set first: keep theirs.
        shutil.rmtree(staging)
        if not target.is_dir():
            raise
    return target


def shipped_sources(root: Path = PROJECT_ROOT) -> Iterator[Path]:
    """Files of functions/, config/ and ladders/ that go into the asset, relative to `root`."""
    for directory in SOURCE_DIRS:
        for path in sorted((root / directory).rglob("*")):
            relative = path.relative_to(root)
            hidden = any(part.startswith(".") for part in relative.parts)
            if (
                path.is_file()
                and not hidden
                and path.suffix != ".pyc"
                and not (EXCLUDED_DIRS & set(relative.parts))
            ):
                yield relative


def asset_hash(python_version: str, pins: tuple[str, ...]) -> str:
    digest = hashlib.sha256(dependency_key(python_version, pins).encode())
    for relative in shipped_sources():
        digest.update(relative.as_posix().encode())
        digest.update(hashlib.sha256((PROJECT_ROOT / relative).read_bytes()).digest())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _LocalAssetBuilder:
    """CDK local bundling: copy sources and the cached dependencies; Docker is never used."""

    def __init__(self, python_version: str, pins: tuple[str, ...]) -> None:
        self._python_version = python_version
        self._pins = pins

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(
            installed_dependencies(self._python_version, self._pins), out, dirs_exist_ok=True
        )
        for relative in shipped_sources():
            (out / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / relative, out / relative)
        return True


def lambda_code(python_version: str) -> lambda_.Code:
    """The single code asset shared by every Rung function."""
    pins = runtime_pins()
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "functions"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(python_version, pins),
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("local-bundling-only"),
            local=_LocalAssetBuilder(python_version, pins),
        ),
    )
