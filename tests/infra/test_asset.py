"""The Lambda code asset: sources beside their runtime dependencies, nothing else."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from functions.core.config_files import parsed_path
from infra.bundling import (
    CONFIG_DIRS,
    PROVIDED_BY_LAMBDA,
    TRIMMED,
    BundlingError,
    dependency_key,
    runtime_pins,
    write_parsed_config,
)
from infra.paths import PROJECT_ROOT
from infra.runtime_python import runtime_python
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from tests.infra.conftest import Synthesized

CONFIG = RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY])


@pytest.fixture(scope="module")
def asset_dir(synthesized: Synthesized) -> Path:
    send = synthesized.resource(synthesized.stack.functions.send)["Properties"]
    return synthesized.outdir / f"asset.{send['Code']['S3Key'].removesuffix('.zip')}"


def test_asset_holds_functions_config_and_ladders(asset_dir: Path) -> None:
    # Given the staged asset / Then the runtime layout matches the repository layout
    for relative in (
        "functions/__init__.py",
        "functions/settings.py",
        "functions/send/handler.py",
        "config/lenders/demo.yaml",
        "ladders/default.yaml",
        # `rung smoke` uploads for the smoke lender, whose ladder runs in minutes.
        "config/lenders/smoke.yaml",
        "ladders/smoke.yaml",
        # The console's KPIs page runs the KPI queries.
        "kpis/overview.sql",
        "kpis/base/entered.sql",
    ):
        assert (asset_dir / relative).is_file(), relative


def test_asset_carries_every_config_yaml_pre_parsed_unchanged(asset_dir: Path) -> None:
    # Given every YAML file of config/ and ladders/ in the asset
    shipped = sorted(p for d in CONFIG_DIRS for p in (asset_dir / d).rglob("*.yaml"))
    assert len(shipped) >= 10
    for path in shipped:
        # Then its pre-parsed JSON holds exactly what PyYAML reads from it
        parsed = json.loads(parsed_path(path).read_text(encoding="utf-8"))
        assert parsed == yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_a_config_file_json_cannot_carry_fails_the_build(tmp_path: Path) -> None:
    # Given a ladder whose YAML holds a date (JSON has none)
    (tmp_path / "ladders").mkdir()
    (tmp_path / "ladders" / "dated.yaml").write_text("id: dated\nstarts: 2026-12-01\n")
    # When the asset's config is pre-parsed / Then the build stops, naming the file
    with pytest.raises(BundlingError, match=r"ladders/dated\.yaml: JSON cannot carry"):
        write_parsed_config(tmp_path)


def test_asset_ships_no_tests(asset_dir: Path) -> None:
    shipped = [p.relative_to(asset_dir) for p in asset_dir.rglob("*")]
    assert not [p for p in shipped if "tests" in p.parts and p.parts[0] == "functions"]


@pytest.mark.skipif(
    runtime_python(CONFIG.lambda_python) is None,
    reason=f"python{CONFIG.lambda_python} is not installed: the asset is built without bytecode",
)
def test_every_shipped_module_has_unchecked_bytecode_for_the_runtime(asset_dir: Path) -> None:
    # Given the asset built where the runtime's Python is installed
    tag = f"cpython-{CONFIG.lambda_python.replace('.', '')}"
    sources = sorted(asset_dir.rglob("*.py"))
    assert len(sources) > 500  # the walk found the dependencies too
    # Then every .py has its .pyc, and nothing else is compiled
    missing = [
        p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()
    ]
    assert missing == []
    compiled = sorted(asset_dir.rglob("*.pyc"))
    assert len(compiled) == len(sources)
    # And /var/task being read-only, the pyc is used without checking the source (PEP 552
    # flags: hash-based, check_source off)
    for pyc in compiled:
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01, pyc


def test_asset_leaves_out_phone_geocoding_and_carrier_data(asset_dir: Path) -> None:
    # Given the dependencies in the asset / Then the data no code path reads is gone
    for relative in TRIMMED:
        assert not (asset_dir / relative).exists(), relative
    # And phone numbers' parsing, validation and time zones are all there
    for relative in ("phonenumbers/data", "phonenumbers/tzdata", "phonenumbers/timezone.py"):
        assert (asset_dir / relative).exists(), relative


def test_nothing_shipped_reads_the_trimmed_phone_data() -> None:
    # Given every module of the functions package
    trimmed = ("phonenumbers.geocoder", "phonenumbers.carrier", "phonenumbers.geodata")
    sources = [p for p in (PROJECT_ROOT / "functions").rglob("*.py") if "tests" not in p.parts]
    # Then none names a module left out of the asset
    found = [(p.name, name) for p in sources for name in trimmed if name in p.read_text()]
    assert found == []
    found = [
        (p.name, line)
        for p in sources
        for line in p.read_text().splitlines()
        if line.lstrip().startswith(("from phonenumbers import", "import phonenumbers."))
        and any(word in line for word in ("geocoder", "carrier"))
    ]
    assert found == []


def test_asset_bundles_dependencies_for_the_lambda_runtime(asset_dir: Path) -> None:
    # Given the dependencies next to the sources
    for package in (
        "pydantic",
        "phonenumbers",
        "babel",
        "jinja2",
        "markupsafe",
        "yaml",
    ):
        assert (asset_dir / package / "__init__.py").is_file(), package
    # Then compiled extensions target the Lambda runtime, not the local interpreter
    cpython = f"cpython-{CONFIG.lambda_python.replace('.', '')}-x86_64-linux-gnu"
    (core,) = (asset_dir / "pydantic_core").glob("_pydantic_core.*.so")
    assert cpython in core.name
    # And what the Lambda runtime or the Powertools layer provides is not duplicated
    assert not (asset_dir / "aws_lambda_powertools").exists()
    # And pydantic-settings, which only the type checker reads, is not shipped
    assert not (asset_dir / "pydantic_settings").exists()
    assert not (asset_dir / "boto3").exists()


def test_runtime_pins_are_the_tested_versions_without_provided_packages() -> None:
    pins = dict(pin.split("==") for pin in runtime_pins())
    assert pins["pydantic"] == metadata.version("pydantic")
    assert pins["phonenumbers"] == metadata.version("phonenumbers")
    assert pins["markupsafe"] == metadata.version("markupsafe")  # transitive, via jinja2
    assert not set(pins) & PROVIDED_BY_LAMBDA


def test_runtime_pins_follow_the_extras_a_dependency_is_declared_with() -> None:
    # pyproject asks for pyjwt[crypto]: RS256 needs cryptography, which only the extra brings
    pins = dict(pin.split("==") for pin in runtime_pins())
    assert pins["pyjwt"] == metadata.version("pyjwt")
    assert pins["cryptography"] == metadata.version("cryptography")
    assert "cffi" in pins  # cryptography's own dependency


def test_dependency_cache_key_changes_with_any_pin_or_runtime() -> None:
    pins = runtime_pins()
    bumped = tuple(p if not p.startswith("pyyaml==") else "pyyaml==0.0.1" for p in pins)
    assert dependency_key("3.13", pins) == dependency_key("3.13", tuple(pins))
    assert dependency_key("3.13", pins) != dependency_key("3.13", bumped)
    assert dependency_key("3.13", pins) != dependency_key("3.12", pins)
    assert dependency_key("3.13", pins) != dependency_key("3.13", pins, bytecode=True)
