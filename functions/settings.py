"""Runtime configuration: one settings model per Lambda function, read at its cold start.

Each function reads exactly the `RUNG_*` environment variables its model names, all required:
the CDK stack (infra/components/functions.py) sets each function's environment from these
models, so a missing or malformed variable fails the cold start with a message that names it,
never a silent default deep in the code. Two fields have a meaning when unset, written next
to them: `config_root` (the configuration shipped beside the code) and the pacing rates (not
paced).

`Settings` is every function's settings at once, for a process that plays every function:
the local world, the simulator and the command line. Only there do names have local defaults
(`LOCAL_NAMES`) and may a resource be left unnamed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from functions.core.errors import ConfigError
from functions.core.shipped import SHIPPED_ROOT

# The repository's root (also the Lambda asset's): config/, ladders/ and templates/ live here.
PROJECT_ROOT = SHIPPED_ROOT
ENV_PREFIX = "RUNG_"

Name = Annotated[str, Field(min_length=1)]  # a resource name, ARN, URL or prefix: never empty
Days = Annotated[int, Field(ge=1)]

if TYPE_CHECKING:
    # For the type checker these are settings models, as pydantic's mypy plugin knows them:
    # any field may come from the environment, so no field is a required argument.
    from pydantic_settings import BaseSettings as _EnvironmentModel
    from pydantic_settings import SettingsConfigDict as _Config
else:
    _EnvironmentModel, _Config = BaseModel, ConfigDict


class FunctionSettings(_EnvironmentModel):
    """What every function reads: where the shipped configuration lives.

    Constructed, a model reads its fields from the environment (`RUNG_` + the field's name,
    any case); a value passed in wins over the environment, and the environment over a
    default. That is all pydantic-settings did here; it is not imported, since its import
    (dotenv, argparse, asyncio, cloud secret sources) was a fifth of a cold start.
    """

    model_config = _Config(frozen=True, extra="forbid", validate_default=True)

    # Unset: the configuration shipped beside the code (the local world points it elsewhere).
    config_root: Path = PROJECT_ROOT

    def __init__(self, **values: Any) -> None:
        environment = {name.lower(): value for name, value in os.environ.items()}
        found = {
            field: environment[variable_name(field).lower()]
            for field in type(self).model_fields
            if variable_name(field).lower() in environment
        }
        super().__init__(**{**found, **values})

    @classmethod
    def from_environment(cls) -> Self:
        """Read and validate the environment; a missing or invalid variable is named."""
        try:
            return cls()
        except ValidationError as exc:
            problems = "; ".join(
                f"{variable_name(str(error['loc'][0]))}: {error['msg']}" for error in exc.errors()
            )
            raise ConfigError(f"{cls.__name__}: {problems}") from exc

    @classmethod
    def variables(cls) -> frozenset[str]:
        """The environment variables this model reads."""
        return frozenset(variable_name(name) for name in cls.model_fields)


def variable_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


class ScheduleSettings(FunctionSettings):
    """The schedule function: lender and payments files in, ladders started."""

    accounts_table: Name
    account_retention_days: Days  # kept this long after the account closes
    uploads_table: Name
    # Records of collection activity (uploads, ledger, audit) are kept this long after it:
    # config/retention.yaml, the longest duty of the profiles served plus a margin.
    audit_retention_days: Days
    uploads_bucket: Name
    reports_prefix: Name  # where reject reports go in the uploads bucket
    state_machine_arn: Name
    ses_configuration_set: Name  # receipts to lenders name it
    pgp_secret_arn: Name  # Secrets Manager secret holding our OpenPGP key (encrypted files)
    lenders_bucket: Name  # lender files pushed without a deploy, under lenders/
    plan_function: Name  # invoked asynchronously with each accepted lender file (functions.plan)


class SendSettings(FunctionSettings):
    """The send function: one rung of one ladder."""

    accounts_table: Name
    account_retention_days: Days
    suppressions_table: Name  # suppressions and channel pauses
    ledger_table: Name  # attempts, pacing counters, address leases
    audit_table: Name
    audit_retention_days: Days
    templates_table: Name
    # End User Messaging SMS: every text names this configuration set (its event destination
    # sends TEXT_* receipts to the delivery-events topic).
    sms_configuration_set: Name
    ses_configuration_set: Name
    unsubscribe_url: Name  # https base URL of the one-click unsubscribe endpoint
    unsubscribe_secret_arn: Name  # Secrets Manager secret holding the HMAC key
    # How often a rung held by a paused channel looks again (each look is one Wait/Task/Choice).
    channel_pause_recheck_hours: Annotated[int, Field(ge=1)]
    # Messages per second per SMS origination identity / per SES account where a lender's
    # `send_rates` sets none. Unset: not paced (the stack always sets them, from cdk.json).
    sms_per_second: int | None = Field(default=None, ge=1)
    email_per_second: int | None = Field(default=None, ge=1)
    lenders_bucket: Name  # lender files pushed without a deploy, under lenders/


class OptoutSettings(FunctionSettings):
    """The optout function: replies, SES events, delivery receipts."""

    accounts_table: Name
    account_retention_days: Days
    suppressions_table: Name
    ledger_table: Name  # receipts are noted on the attempt they answer
    audit_table: Name  # every inbound decision, append-only
    audit_retention_days: Days
    inbound_table: Name  # dedupe of inbound message ids
    reviews_table: Name  # replies ops must look at
    state_machine_arn: Name
    sms_configuration_set: Name
    sms_opt_out_list: Name  # End User Messaging's opt-out list a START lifts
    ses_configuration_set: Name
    # Comma-separated alarms whose ALARM state pauses the email channel (may be empty).
    email_pause_alarms: str
    lenders_bucket: Name  # lender files pushed without a deploy, under lenders/


class UnsubscribeSettings(FunctionSettings):
    """The unsubscribe function: one-click unsubscribe links (a public Function URL)."""

    accounts_table: Name
    account_retention_days: Days
    suppressions_table: Name
    audit_table: Name
    audit_retention_days: Days
    state_machine_arn: Name
    unsubscribe_secret_arn: Name
    lenders_bucket: Name  # lender files pushed without a deploy, under lenders/


class AnalyticsSettings(FunctionSettings):
    """The analytics function: table changes (DynamoDB Streams) → events → Firehose."""

    accounts_table: Name
    audit_table: Name
    ledger_table: Name
    analytics_stream: Name  # the Firehose stream that writes Parquet to the analytics bucket
    analytics_key_secret_arn: Name  # HMAC key of the pseudonymous account keys


class PlanSettings(FunctionSettings):
    """The plan function: an accepted lender file's capacity plan, stored under plans/."""

    uploads_bucket: Name  # the lender file in, its plan out (plans/)
    pgp_secret_arn: Name  # encrypted lender files are decrypted as intake decrypts them
    lenders_bucket: Name  # lender files pushed without a deploy, under lenders/
    # The stack's pacing defaults (cdk.json send_rates) where a lender's `send_rates` sets none;
    # the stack always sets them. Neither named: the stored plan says which rate is missing.
    sms_per_second: int | None = Field(default=None, ge=1)
    email_per_second: int | None = Field(default=None, ge=1)


FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    "schedule": ScheduleSettings,
    "send": SendSettings,
    "optout": OptoutSettings,
    "unsubscribe": UnsubscribeSettings,
    "plan": PlanSettings,
}

# What a process playing every function uses where its environment names nothing: the local
# world's table names and the stack's retention and recheck defaults.
LOCAL_NAMES: dict[str, object] = {
    "accounts_table": "rung-accounts",
    "suppressions_table": "rung-suppressions",
    "ledger_table": "rung-ledger",
    "audit_table": "rung-audit",
    "templates_table": "rung-templates",
    "uploads_table": "rung-uploads",
    "inbound_table": "rung-inbound",
    "reviews_table": "rung-reviews",
    "reports_prefix": "rejects/",
    "sms_opt_out_list": "Default",
    "account_retention_days": 400,
    "channel_pause_recheck_hours": 6,
    "email_pause_alarms": "",
}


class Settings(ScheduleSettings, SendSettings, OptoutSettings, UnsubscribeSettings, PlanSettings):
    """Every function's settings, for one process that plays them all (local world,
    simulator, command line): what the environment does not name takes `LOCAL_NAMES`."""

    # Resources such a process may not have: empty is "not configured", and the adapter
    # that needs one says so when it is used (e.g. "no state machine ARN configured").
    uploads_bucket: str = ""
    state_machine_arn: str = ""
    sms_configuration_set: str = ""
    ses_configuration_set: str = ""
    unsubscribe_url: str = ""
    unsubscribe_secret_arn: str = ""
    pgp_secret_arn: str = ""
    lenders_bucket: str = ""  # none: the lender files shipped in config/lenders/ only
    plan_function: str = ""  # none: accepted files are not planned

    @model_validator(mode="before")
    @classmethod
    def _local_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**LOCAL_NAMES, "audit_retention_days": _records_days(), **data}
        return data


def _records_days() -> int:
    """The stack's RUNG_AUDIT_RETENTION_DAYS, from the configuration shipped with the code."""
    from functions.core.retention import load_retention

    return load_retention(PROJECT_ROOT).records_days


class ConsoleSettings(FunctionSettings):
    """The ops console (functions/console): the tables and bucket its pages read and act on."""

    accounts_table: Name
    account_retention_days: Days  # a review resolution may close an account
    suppressions_table: Name  # suppressions and channel pauses
    ledger_table: Name  # send attempts and their delivery receipts
    audit_table: Name  # gate decisions, inbound decisions and console actions
    audit_retention_days: Days
    templates_table: Name
    uploads_table: Name
    uploads_bucket: Name  # reject reports are downloaded from here
    reviews_table: Name
    lender_ids: Name  # comma-separated lenders whose configuration the pages use

    @property
    def lenders(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.lender_ids.split(",") if name.strip())


class ConsoleLambdaSettings(ConsoleSettings):
    """The console Lambda in AWS: its pages' settings and how people sign in (Cognito's
    managed login, functions/console/cognito.py). `rung console` signs nobody in."""

    user_pool_id: Name  # e.g. eu-west-1_AbC123: the region is its prefix
    user_pool_client_id: Name
    user_pool_domain: Name  # managed login's host: <prefix>.auth.<region>.amazoncognito.com
    console_url: Name  # https base URL of the console (the HTTP API), ending in /
    session_secret_arn: Name  # Secrets Manager secret: HMAC key of sign-in state and CSRF
    # The KPIs page runs the KPI queries in the analytics workgroup (functions.console.outcomes)
    analytics_workgroup: Name
    analytics_database: Name
    analytics_bucket: Name  # the workgroup's result location: the page's batch item goes here
    analytics_results_prefix: Name
    report_wait_seconds: Annotated[float, Field(gt=0, lt=29)]  # API Gateway answers in 30 s
    report_fresh_minutes: Annotated[int, Field(ge=1)]
