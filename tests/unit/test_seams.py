"""The seams between the pure domain and everything around it, read from the import graph.

`functions/core` is the domain: it talks to the world through its ports only, so it imports
nothing from the wiring (`functions.bootstrap`), the environment (`functions.settings`), the
adapters (`functions.adapters`) or an AWS SDK — not even for type checking. Handlers reach AWS
errors through the adapters and secrets through a port, so they import no SDK either.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions import observability

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "functions" / "core"
HANDLERS = [
    *sorted((ROOT / "functions").glob("*/handler.py")),
    ROOT / "functions" / "optout" / "unsubscribe.py",
]
OUTSIDE_CORE = ("functions.bootstrap", "functions.settings", "functions.adapters")
SDKS = ("boto3", "botocore")


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every module `source` imports, anywhere in it (TYPE_CHECKING blocks and functions
    included), relative imports resolved against `module` (dotted name of the file)."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            # `from functions import settings` imports functions.settings
            yield from (f"{target}.{alias.name}" for alias in node.names)


def forbidden_imports(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return sorted(
        {
            f"{path.relative_to(ROOT)} imports {name}"
            for name in imported_modules(path.read_text(encoding="utf-8"), module)
            if any(name == banned or name.startswith(f"{banned}.") for banned in forbidden)
        }
    )


def test_core_imports_nothing_from_wiring_settings_adapters_or_sdks() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 20  # the walk found the domain
    found = [line for path in modules for line in forbidden_imports(path, OUTSIDE_CORE + SDKS)]
    assert found == []


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.parent.name + "/" + path.name)
def test_handlers_reach_aws_errors_and_secrets_only_through_adapters(path: Path) -> None:
    assert forbidden_imports(path, (*SDKS, "functions.adapters.secrets")) == []


@pytest.mark.parametrize(
    "source",
    [
        "from functions.bootstrap import Services",
        "import functions.settings",
        "from functions import adapters",
        "import typing\nif typing.TYPE_CHECKING:\n    from functions.bootstrap import Services",
        "def f():\n    from functions.adapters.dynamo import DynamoLedger",
        "from ..settings import Settings",
        "from ..adapters.memory import MemoryLedger",
        "import botocore.exceptions",
    ],
)
def test_the_import_check_sees_every_way_of_importing(source: str) -> None:
    # A planted module in the core package's place: each spelling of the import is found.
    names = set(imported_modules(source, "functions.core.planted"))
    assert any(
        name == banned or name.startswith(f"{banned}.")
        for name in names
        for banned in OUTSIDE_CORE + SDKS
    ), names


def test_the_import_check_lets_core_import_core() -> None:
    names = set(imported_modules("from .models import Account\n", "functions.core.planted"))
    assert names == {"functions.core.models", "functions.core.models.Account"}


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.parent.name + "/" + path.name)
def test_handlers_log_and_count_through_the_one_observability_module(path: Path) -> None:
    module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert module.logger is observability.logger
    assert module.metrics is observability.metrics
    assert forbidden_imports(path, ("aws_lambda_powertools.Logger",)) == []
    # No X-Ray SDK in the functions: Lambda's active tracing records them (docs/decisions.md).
    xray = ("aws_lambda_powertools.Tracer", "aws_lambda_powertools.tracing", "aws_xray_sdk")
    assert forbidden_imports(path, xray) == []
    assert forbidden_imports(ROOT / "functions" / "observability.py", xray) == []
