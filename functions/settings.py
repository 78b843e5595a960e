"""Runtime configuration, built once at each Lambda entry point (never read deep in the code)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# In the Lambda asset, `functions/`, `config/` and `ladders/` sit side by side, exactly as in
# the repository, so one relative path serves both.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment variables `RUNG_*`, set by the CDK stack (infra/) or the local world (rung/)."""

    model_config = SettingsConfigDict(env_prefix="RUNG_", frozen=True)

    accounts_table: str = Field(default="rung-accounts")
    suppressions_table: str = Field(default="rung-suppressions")
    ledger_table: str = Field(default="rung-ledger")
    audit_table: str = Field(default="rung-audit")
    templates_table: str = Field(default="rung-templates")
    uploads_table: str = Field(default="rung-uploads")
    inbound_table: str = Field(default="rung-inbound")  # dedupe of inbound message ids
    reviews_table: str = Field(default="rung-reviews")  # replies ops must look at
    reports_prefix: str = "rejects/"
    state_machine_arn: str = ""
    uploads_bucket: str = ""
    ses_configuration_set: str = ""
    # End User Messaging SMS: the configuration set every text names (its event destination
    # sends TEXT_* receipts to the delivery-events topic) and the opt-out list START lifts.
    sms_configuration_set: str = ""
    sms_opt_out_list: str = "Default"
    unsubscribe_url: str = ""  # https base URL of the one-click unsubscribe endpoint
    unsubscribe_secret_arn: str = ""  # Secrets Manager secret holding the HMAC signing key
    pgp_secret_arn: str = ""  # Secrets Manager secret holding our OpenPGP secret key (schedule)
    inbound_topic_arn: str = ""
    audit_retention_days: int = 400
    account_retention_days: int = 400  # after the account closes (PAID, COMPLETED)
    # Comma-separated alarms whose ALARM state pauses the email channel (docs/compliance.md,
    # Email reputation).
    email_pause_alarms: str = ""
    # How often a rung held by a paused channel looks again (each look is one Wait/Task/Choice).
    channel_pause_recheck_hours: int = 6
    # Messages per second per SMS origination identity / per SES account where a lender's
    # `send_rates` sets none (None: not paced). Set by the stack from cdk.json `send_rates`.
    sms_per_second: int | None = Field(default=None, ge=1)
    email_per_second: int | None = Field(default=None, ge=1)
    config_root: Path = PROJECT_ROOT
