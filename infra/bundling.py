"""The one Lambda code asset, built without Docker.

Layout of the asset (Lambda's /var/task), exactly as in the repository so that
`functions.settings.PROJECT_ROOT` works unchanged:

    functions/   the package (no tests, no __pycache__)
    config/      lender and rule configuration read at run time
    ladders/     ladder definitions read at run time
    kpis/        the KPI queries (the console's KPIs page runs them on Athena)
    *.yaml.json  beside each YAML file of config/ and ladders/, its content pre-parsed
                 (functions/core/config_files.py: the functions read JSON, never PyYAML)
    <deps>/      runtime dependencies that neither the Lambda runtime (boto3) nor the
                 Powertools layer provide, as manylinux wheels for the Lambda runtime

The dependency set is the closure of `[project].dependencies` in pyproject.toml, pinned to
the versions installed in the local environment: the asset runs what the tests ran. The pip
result is cached under `.bundle/` keyed by that pinned set, so a synth only downloads after
a dependency changes. Data the code never reads is left out (`TRIMMED`).

Every `.py` ships with its bytecode for the runtime's Python (`__pycache__/*.cpython-313.pyc`),
compiled by an interpreter of that version found on this machine (infra/runtime_python.py)
with `--invalidation-mode unchecked-hash`: /var/task is read-only, so without it every cold
start compiles every imported module again, and an unchecked pyc is used without reading
the source's timestamp. Without such an interpreter the asset is built from sources only and
a warning names what to install.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import jsii
import yaml
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from functions.core.config_files import json_faithful, parsed_path
from infra.paths import BUNDLE_CACHE, PROJECT_ROOT
from infra.runtime_python import missing_message, runtime_python

SOURCE_DIRS = ("functions", "config", "ladders", "kpis")
CONFIG_DIRS = ("config", "ladders")  # YAML the functions read, shipped pre-parsed too
EXCLUDED_DIRS = frozenset({"tests", "__pycache__"})
# Shipped by the Powertools layer (aws-lambda-powertools) and the Lambda runtime (boto3).
PROVIDED_BY_LAMBDA = frozenset({"aws-lambda-powertools", "boto3"})
WHEEL_PLATFORM = "manylinux2014_x86_64"  # Lambda x86_64; matches the layer's architecture
# Dependency files no code path reads: phonenumbers' geocoding and carrier data (Rung uses
# parsing, validation and `phonenumbers.timezone` only; tests/infra/test_asset.py checks that
# nothing imports `phonenumbers.geocoder` or `phonenumbers.carrier`).
TRIMMED = (
    "phonenumbers/geocoder.py",
    "phonenumbers/geocoder.pyi",
    "phonenumbers/geodata",
    "phonenumbers/carrier.py",
    "phonenumbers/carrier.pyi",
    "phonenumbers/carrierdata",
)


class BundlingError(RuntimeError):
    """The Lambda asset could not be assembled."""


class NoBytecodeWarning(UserWarning):
    """The asset is built without precompiled bytecode (no interpreter of the runtime's Python)."""


def runtime_pins(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> tuple[str, ...]:
    """`name==version` for every runtime dependency the asset must carry, sorted."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    roots = [
        requirement
        for requirement in map(Requirement, declared)
        if canonicalize_name(requirement.name) not in PROVIDED_BY_LAMBDA
    ]
    return tuple(
        sorted(f"{name}=={version}" for name, version in _installed_closure(roots).items())
    )


def _installed_closure(roots: Iterable[Requirement]) -> dict[str, str]:
    """Installed versions of `roots` and everything they need, the extras they are asked
    with included (`pyjwt[crypto]` needs cryptography)."""
    versions: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    pending = [(canonicalize_name(r.name), extra) for r in roots for extra in ("", *r.extras)]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as missing:
            raise BundlingError(
                f"runtime dependency {name!r} is not installed; run `make install` first"
            ) from missing
        versions[name] = distribution.version
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                needed = canonicalize_name(requirement.name)
                pending.extend((needed, wanted) for wanted in ("", *requirement.extras))
    return versions


def dependency_key(python_version: str, pins: tuple[str, ...], *, bytecode: bool = False) -> str:
    identity = {
        "python": python_version,
        "platform": WHEEL_PLATFORM,
        "pins": list(pins),
        "trimmed": list(TRIMMED),
        "bytecode": bytecode,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def bytecode_compiler(python_version: str) -> Path | None:
    """The interpreter that compiles the asset's bytecode, or None (with a warning)."""
    found = runtime_python(python_version)
    if found is None:
        warnings.warn(
            f"the Lambda asset ships no precompiled bytecode: {missing_message(python_version)}",
            NoBytecodeWarning,
            stacklevel=2,
        )
    return found


def compile_bytecode(compiler: Path, directory: Path) -> None:
    """`__pycache__/*.pyc` beside every `.py` under `directory`, valid on a read-only disk."""
    command = [
        str(compiler),
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        str(directory),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    except subprocess.CalledProcessError as failed:
        raise BundlingError(
            f"{compiler} could not compile {directory}: {(failed.stdout + failed.stderr).strip()}"
        ) from failed


def installed_dependencies(
    python_version: str, pins: tuple[str, ...], compiler: Path | None = None
) -> Path:
    """The pip --target directory for `pins` (trimmed, compiled by `compiler` if given), from
    the cache or freshly installed."""
    key = dependency_key(python_version, pins, bytecode=compiler is not None)
    target = BUNDLE_CACHE / f"deps-{key}"
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
    for relative in TRIMMED:
        path = staging / relative
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    if compiler is not None:
        compile_bytecode(compiler, staging)
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


def asset_hash(python_version: str, pins: tuple[str, ...], *, bytecode: bool) -> str:
    digest = hashlib.sha256(dependency_key(python_version, pins, bytecode=bytecode).encode())
    digest.update(f"pre-parsed:{','.join(CONFIG_DIRS)}".encode())  # the asset's JSON config
    for relative in shipped_sources():
        digest.update(relative.as_posix().encode())
        digest.update(hashlib.sha256((PROJECT_ROOT / relative).read_bytes()).digest())
    return digest.hexdigest()


def build_asset(
    out: Path, python_version: str, pins: tuple[str, ...], compiler: Path | None
) -> None:
    """Assemble the asset in `out`: dependencies, then sources, each with bytecode when
    `compiler` (an interpreter of `python_version`) is given."""
    shutil.copytree(installed_dependencies(python_version, pins, compiler), out, dirs_exist_ok=True)
    for relative in shipped_sources():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / relative, out / relative)
    write_parsed_config(out)
    if compiler is not None:
        for directory in SOURCE_DIRS:
            compile_bytecode(compiler, out / directory)


def write_parsed_config(out: Path) -> None:
    """Beside each YAML file of config/ and ladders/ in `out`, its content as JSON, which the
    functions read instead (functions/core/config_files.py). A file JSON cannot carry
    unchanged (a YAML date, a non-string key) fails the build, naming it."""
    for directory in CONFIG_DIRS:
        for path in sorted((out / directory).rglob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not json_faithful(data):
                raise BundlingError(
                    f"{path.relative_to(out)}: JSON cannot carry its content unchanged "
                    "(a date or a non-string key?); quote the value"
                )
            parsed_path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@jsii.implements(ILocalBundling)
class _LocalAssetBuilder:
    """CDK local bundling: copy sources and the cached dependencies; Docker is never used."""

    def __init__(self, python_version: str, pins: tuple[str, ...], compiler: Path | None) -> None:
        self._python_version = python_version
        self._pins = pins
        self._compiler = compiler

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        build_asset(Path(output_dir), self._python_version, self._pins, self._compiler)
        return True


def lambda_code(python_version: str) -> lambda_.Code:
    """The single code asset shared by every Rung function."""
    pins = runtime_pins()
    compiler = bytecode_compiler(python_version)
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT / "functions"),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash(python_version, pins, bytecode=compiler is not None),
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("local-bundling-only"),
            local=_LocalAssetBuilder(python_version, pins, compiler),
        ),
    )
