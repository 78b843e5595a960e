"""What a Lambda cold start imports, and the deferred pieces that keep it short.

Each handler is imported in a fresh interpreter with the environment its function gets (as
bench/cold_start.py does); libraries only some invocations need must not be loaded yet. The
deferred code must behave as before: settings read the environment as pydantic-settings did,
and lender receipt addresses are checked as pydantic's `EmailStr` checks them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, EmailStr, TypeAdapter, ValidationError

from bench.cold_start import HANDLERS, lambda_environment, subject_code
from functions.core.lenders import EmailAddress
from functions.settings import SendSettings, Settings
from infra.bundling import CONFIG_DIRS, write_parsed_config
from infra.paths import PROJECT_ROOT

# Imported on first use, never at a cold start: holidays when profiles first build calendars,
# Jinja2 and Babel when a message is first rendered or checked, email-validator when a
# lender's receipt address is first validated, OpenCC, the confusables data and rapidfuzz when
# a reply's text is first read; pydantic-settings (and what it pulls in) not at all.
# The schedule function reads lender files (Babel's locales and currencies, borrowers'
# email addresses) on nearly every invocation, so it still imports those two up front.
DEFERRED = (
    "holidays",
    "jinja2",
    "opencc",
    "confusable_homoglyphs",
    "rapidfuzz",
    "pydantic_settings",
    "dotenv",
    "yaml",  # the asset's configuration is read pre-parsed (functions/core/config_files.py)
)
DEFERRED_UNLESS_SCHEDULE = ("babel", "email_validator")
# phonenumbers: the optout function reads a number only for a two-way SMS reply, the
# unsubscribe function never; the send gate (nearly every rung) and intake read them always.
DEFERRED_IN = {
    "functions.optout.handler": ("phonenumbers",),
    "functions.optout.unsubscribe": ("phonenumbers",),
}
# Parts of libraries no handler imports at its cold start: botocore's HTTP stack (boto3 loads
# it with the first client), Powertools' HTTP resolver and event classes (each handler reads
# its event itself), pydantic.networks (on the first lender receipt address; the schedule
# function's lender files hold URLs and addresses, so it loads it up front).
NEVER_AT_COLD_START = (
    "botocore.config",
    "botocore.endpoint",
    "urllib3",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
)
NEVER_UNLESS_SCHEDULE = ("pydantic.networks",)


def loaded_at_cold_start(
    module: str, settings_model: str, extra: dict[str, str] | None = None
) -> set[str]:
    """The modules a fresh interpreter holds after importing `module` and validating its
    settings, in its function's environment (plus `extra` variables)."""
    environment = {
        **lambda_environment(settings_model),
        **(extra or {}),
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    listing = "import sys, json; print(json.dumps(list(sys.modules)))"
    code = f"{subject_code(module, settings_model)}; {listing}"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(("module", "settings_model"), sorted(HANDLERS.items()))
def test_a_cold_start_leaves_first_use_libraries_unimported(
    module: str, settings_model: str
) -> None:
    # Given a fresh interpreter with the function's environment
    # When it imports the handler and validates its settings, as a cold start does
    loaded = loaded_at_cold_start(module, settings_model)
    # Then the handler is loaded, and none of the deferred libraries is
    assert module in loaded
    schedule = "schedule" in module
    deferred = (
        *DEFERRED,
        *(() if schedule else DEFERRED_UNLESS_SCHEDULE),
        *DEFERRED_IN.get(module, ()),
    )
    early = sorted(name for name in loaded if name.split(".")[0] in deferred)
    assert early == []
    # Nor any of the library parts no cold start needs
    never = (*NEVER_AT_COLD_START, *(() if schedule else NEVER_UNLESS_SCHEDULE))
    unneeded = sorted(
        name for name in loaded if any(name == p or name.startswith(f"{p}.") for p in never)
    )
    assert unneeded == []


def test_every_configuration_is_read_from_the_asset_without_pyyaml(tmp_path: Path) -> None:
    # Given the configuration as the asset ships it: YAML with its pre-parsed JSON beside it
    for directory in CONFIG_DIRS:
        shutil.copytree(PROJECT_ROOT / directory, tmp_path / directory)
    write_parsed_config(tmp_path)
    # When a fresh interpreter loads every configuration a function reads
    code = f"""
import sys
from pathlib import Path
from functions.core import (
    experiments, ladder, lender_scope, lenders, lint, profiles, replies, retention, zones
)
root = Path({str(tmp_path)!r})
lenders.load_lender(root, "demo")
ladder.load_ladder(root, "default")
experiments.load_experiments(root, "demo")
experiments.load_guardrails(root)
lender_scope.load_collector(root)
lint.load_lint_rules(root)
profiles.load_profiles(root)
replies.load_reply_rules(root)
retention.load_retention(root)
zones.load_atlas(root)
print("yaml" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    # Then it never imports PyYAML
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def _clear_rung_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [key for key in os.environ if key.upper().startswith("RUNG_")]:
        monkeypatch.delenv(key)


def test_settings_take_arguments_over_the_environment_over_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a table named in the environment (in lower case) and another passed in
    _clear_rung_variables(monkeypatch)
    monkeypatch.setenv("rung_accounts_table", "from-environment")
    monkeypatch.setenv("RUNG_LEDGER_TABLE", "ledger-from-environment")
    # When local settings are built
    settings = Settings(ledger_table="ledger-passed-in")
    # Then the argument wins, the environment fills the rest, local names the remainder
    assert settings.ledger_table == "ledger-passed-in"
    assert settings.accounts_table == "from-environment"
    assert settings.suppressions_table == "rung-suppressions"


def test_settings_refuse_an_unknown_argument_and_parse_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clear_rung_variables(monkeypatch)
    monkeypatch.setenv("RUNG_SMS_PER_SECOND", "3")
    assert Settings().sms_per_second == 3
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(not_a_setting="x")  # type: ignore[call-arg]


def test_function_settings_name_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_rung_variables(monkeypatch)
    with pytest.raises(ValidationError) as failed:
        SendSettings()
    missing = {error["loc"][0] for error in failed.value.errors() if error["type"] == "missing"}
    assert missing == {
        name for name, field in SendSettings.model_fields.items() if field.is_required()
    }


class _Pydantic(BaseModel):
    address: EmailStr


@pytest.mark.parametrize(
    "address",
    [
        "collections@lender.example",
        "  Mixed.Case@LENDER.Example ",
        "Ops Team <ops@lender.example>",
        "ünïcode@bücher.example",
        "no-at-sign.example",
        "two@@lender.example",
        "someone@[192.0.2.1]",
        "line\nbreak@lender.example",
    ],
)
def test_receipt_addresses_are_checked_as_pydantic_email_str_checks_them(address: str) -> None:
    # Given pydantic's EmailStr as the reference
    try:
        expected: str | None = _Pydantic(address=address).address
    except ValidationError:
        expected = None
    # When the lender model's deferred address type checks the same text
    try:
        got: str | None = TypeAdapter(EmailAddress).validate_python(address)
    except ValidationError:
        got = None
    # Then both accept it with the same normalised form, or both refuse it
    assert got == expected
