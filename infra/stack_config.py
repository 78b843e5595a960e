"""Deployment configuration: the `rung` object of cdk.json's context, validated once.

Every number a reviewer may want to trace to docs/compliance.md lives in cdk.json, not in the
constructs. JSON has no comments, so keys starting with `//` are explanations and are dropped
here before validation.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.lenders import LENDER_ID
from infra.paths import CDK_JSON

CONTEXT_KEY = "rung"
COMMENT_PREFIX = "//"
SSH_KEY_TYPES = (
    "ssh-ed25519 ",
    "ssh-rsa ",
    "ecdsa-sha2-nistp256 ",
    "ecdsa-sha2-nistp384 ",
    "ecdsa-sha2-nistp521 ",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionConfig(_Section):
    # docs/compliance.md, Personal data: account data is deleted N days after it stops being needed
    # (S3 lifecycle here, DynamoDB TTL `expires_at` written by the functions).
    data_days: int = Field(gt=0)
    # Versioning guards against an accidental overwrite; old versions still hold personal data.
    noncurrent_version_days: int = Field(gt=0)
    # Lambda and state machine logs hold masked addresses only (docs/compliance.md, Personal data);
    # CloudWatch accepts named periods only (e.g. THIRTEEN_MONTHS = 400 days).
    log_retention: str

    @field_validator("log_retention")
    @classmethod
    def _cloudwatch_accepts(cls, name: str) -> str:
        if name not in logs.RetentionDays.__members__:
            allowed = ", ".join(logs.RetentionDays.__members__)
            raise ValueError(f"log_retention={name!r} is not a CloudWatch retention: {allowed}")
        return name

    @property
    def log_retention_days(self) -> logs.RetentionDays:
        return logs.RetentionDays[self.log_retention]


class AlarmConfig(_Section):
    period_minutes: int = Field(gt=0)
    uncertain_sends: int = Field(ge=1)
    template_not_approved: int = Field(ge=1)
    executions_failed: int = Field(ge=1)
    dead_letters: int = Field(ge=1)
    # docs/compliance.md, Email reputation: SES reviews an account at 5 % bounces and 0.1 %
    # complaints; alarm well below.
    ses_bounce_rate_percent: float = Field(gt=0, lt=5)
    ses_complaint_rate_percent: float = Field(gt=0, lt=0.1)
    # A challenger stopped by an experiment guardrail (config/experiment_guardrails.yaml).
    experiment_guardrails_breached: int = Field(ge=1)
    email: str | None = None  # optional subscriber of the alarm topic


class ReservedConcurrency(_Section):
    """Caps for the functions that must never starve `send` (which carries SMS throughput)."""

    schedule: int | None = Field(default=None, ge=1)
    optout: int | None = Field(default=None, ge=1)
    unsubscribe: int | None = Field(default=None, ge=1)


class EmailConfig(_Section):
    identities: list[str] = Field(min_length=1)  # SES identities (domains) the send role may use
    inbound_recipients: list[str]  # receipt rule recipients; empty = every verified domain


class SmsConfig(_Section):
    # Each origination identity lenders send from (their `sms_origination`, e.g. an E.164
    # number) → its End User Messaging resource: a phone number id (`phone-…`), a pool id
    # (`pool-…`) or a full `arn:…:sms-voice:…` ARN. The send and optout roles may send from
    # these only (IAM authorises SendTextMessage on the identity's ARN, which has the id).
    origination_identities: dict[str, str] = Field(min_length=1)
    # The opt-out list of those identities, which START lifts a number from.
    opt_out_list: str = Field(default="Default", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    @field_validator("origination_identities")
    @classmethod
    def _resource_ids(cls, identities: dict[str, str]) -> dict[str, str]:
        for identity, resource in identities.items():
            if not resource.startswith(("phone-", "pool-", "arn:")) or (
                resource.startswith("arn:") and ":sms-voice:" not in resource
            ):
                raise ValueError(
                    f"sms.origination_identities[{identity!r}] = {resource!r}: expected a "
                    "phone number id (phone-…), a pool id (pool-…) or an sms-voice ARN"
                )
        return identities


_PLATFORM_APPLICATION = re.compile(
    r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:app/[A-Z_]+/[A-Za-z0-9_.-]{1,256}$"
)


class PushConfig(_Section):
    # SNS platform applications (FCM, APNs) whose endpoints the send role may publish to: the
    # lenders' `push_applications`. Empty: no app push (the send role gets no sns:Publish).
    platform_applications: list[str] = Field(default_factory=list)

    @field_validator("platform_applications")
    @classmethod
    def _application_arns(cls, arns: list[str]) -> list[str]:
        for arn in arns:
            if not _PLATFORM_APPLICATION.match(arn):
                raise ValueError(
                    f"push.platform_applications: {arn!r} is not an SNS platform application "
                    "ARN (arn:aws:sns:REGION:ACCOUNT:app/PLATFORM/NAME)"
                )
        return arns


class SendRatesConfig(_Section):
    """Messages per second per SMS origination identity and per SES account, where a lender's
    configuration sets none: the send step paces to them (functions.core.pacing)."""

    sms_per_second: int = Field(ge=1)
    email_per_second: int = Field(ge=1)


class LenderAccessConfig(_Section):
    """How one lender delivers files: the AWS account that may assume its upload role (with the
    external id agreed with the lender), and the SSH keys of its SFTP user when SFTP is on."""

    account_id: str = Field(pattern=r"^[0-9]{12}$")
    # The lender's own secret-ish handshake against the confused-deputy problem: the role can be
    # assumed only when the caller passes it (sts:ExternalId). At least 16 characters.
    external_id: str = Field(pattern=r"^[A-Za-z0-9+=,.@:/_-]{16,1224}$")
    sftp_public_keys: list[str] = Field(default_factory=list)

    @field_validator("sftp_public_keys")
    @classmethod
    def _ssh_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not key.startswith(SSH_KEY_TYPES):
                raise ValueError(
                    f"{key[:30]!r}… is not an SSH public key ({', '.join(SSH_KEY_TYPES)})"
                )
        return keys


class SftpConfig(_Section):
    """An AWS Transfer Family SFTP server in front of the uploads bucket. It bills by the hour
    while it exists, so it is off unless a deployer turns it on."""

    enabled: bool
    # Transfer Family security policies name the SSH algorithms the server accepts.
    security_policy: str = Field(pattern=r"^TransferSecurityPolicy-[A-Za-z0-9-]+$")


class ConsoleConfig(_Section):
    """The ops console: a Cognito user pool, an HTTP API and one Lambda. Idle it costs about
    nothing (every part bills per request or per active user), so it is on by default."""

    enabled: bool = True
    # Cognito's managed-login host is <domain_prefix>.auth.<region>.amazoncognito.com, unique
    # per region. Unset: "<stack name>-console-<account id>".
    domain_prefix: str | None = Field(
        default=None, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
    )
    # Threat protection (compromised-credential checks, adaptive authentication) needs the
    # Plus feature plan, billed per monthly active user; off: the Essentials plan.
    threat_protection: bool = True
    # How long a sign-in lasts: the ID token's validity, which is the session (Cognito allows
    # 5 minutes to 1 day). Our choice: an hour, then the browser signs in again.
    session_minutes: int = Field(default=60, ge=5, le=1440)
    # Requests per second (and burst) the API passes to the console Lambda. Our choice: a few
    # people clicking through pages need a handful; the cap keeps a runaway script from taking
    # Lambda concurrency the send function needs.
    throttle_rate_per_second: int = Field(default=10, ge=1)
    throttle_burst: int = Field(default=20, ge=1)


class RungStackConfig(_Section):
    stack_name: str
    lambda_python: Literal["3.12", "3.13"]
    powertools_version: str
    service_name: str
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    state_machine_log_level: Literal["ALL", "ERROR", "FATAL"]
    retention: RetentionConfig
    alarms: AlarmConfig
    reserved_concurrency: ReservedConcurrency
    email: EmailConfig
    sms: SmsConfig
    push: PushConfig = Field(default_factory=PushConfig)
    send_rates: SendRatesConfig
    lender_access: dict[str, LenderAccessConfig]
    sftp: SftpConfig
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)

    @field_validator("lender_access")
    @classmethod
    def _lender_ids(cls, lenders: dict[str, LenderAccessConfig]) -> dict[str, LenderAccessConfig]:
        for lender_id in lenders:
            if not LENDER_ID.match(lender_id):
                raise ValueError(
                    f"lender_access[{lender_id!r}]: a lender id is lower-case letters, digits "
                    "and hyphens (as in uploads/{lender_id}/)"
                )
        return lenders

    @classmethod
    def from_context(cls, raw: Any) -> RungStackConfig:
        if not isinstance(raw, dict):
            raise ValueError(f"cdk.json context '{CONTEXT_KEY}' must be an object, got {raw!r}")
        return cls.model_validate(_without_comments(raw))


def _without_comments(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_comments(item)
            for key, item in value.items()
            if not key.startswith(COMMENT_PREFIX)
        }
    return value


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context block: the CDK CLI passes it itself, a plain `python` run does not."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context
