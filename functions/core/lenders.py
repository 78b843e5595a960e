"""Lender configuration: one YAML file per lender under `config/lenders/{lender_id}.yaml`."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from functions.core.config_files import NotYaml, parse_yaml, read_config
from functions.core.errors import ConfigError

LENDER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def _email_address(address: str) -> str:
    from pydantic.networks import validate_email  # see EmailAddress

    return validate_email(address)[1]


# pydantic's `EmailStr`, checked and normalised the same way (`validate_email`), except that
# pydantic.networks and email-validator are imported when an address is first validated:
# `EmailStr` imports them when the model is defined, which put their regular expressions and
# package metadata lookups in every function's cold start.
EmailAddress = Annotated[
    str,
    AfterValidator(_email_address),
    WithJsonSchema({"type": "string", "format": "email"}),
]


class UnitPrices(BaseModel):
    """Unit prices used for cost estimates in the simulator (lender's own contract prices)."""

    model_config = ConfigDict(frozen=True)

    currency: str = "USD"
    sms_segment: Decimal = Decimal("0.00581")
    email: Decimal = Decimal("0.0001")
    push: Decimal = Decimal("0.0000005")  # SNS mobile push: USD 0.50 per million
    sfn_transition: Decimal = Decimal("0.000025")


class SendRates(BaseModel):
    """Messages per second the lender's providers accept: its SMS origination identity
    (toll-free 3, 10DLC up to 75, short code 100) and its SES account's sending rate. The send
    step paces to them (functions.core.pacing). None: the stack's default (cdk.json
    `send_rates`); in `rung simulate`, where there is no stack, not paced and not throttled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sms_per_second: int | None = Field(default=None, ge=1)
    email_per_second: int | None = Field(default=None, ge=1)


class LenderConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lender_id: str
    company_name: str
    support_phone: str
    support_email: str
    sms_origination: str | None = None  # origination number / sender id
    email_from: str  # SES verified identity, e.g. "Demo Finance <reminders@demo.example>"
    ses_configuration_set: str | None = None
    # SNS platform applications (FCM / APNs) of the lender's app: the lender file's
    # `push_endpoint` must be an endpoint of one of them (README, App push).
    push_applications: tuple[str, ...] = ()
    default_region: str = "US"  # ISO 3166 region for national phone formats
    default_locale: str = "en-US"
    ladder: str = "default"
    # Third-party collectors need the debt-collector disclosure (docs/compliance.md).
    third_party_collector: bool = False
    header_aliases: dict[str, str] = Field(default_factory=dict)  # lender header -> contract column
    # Per-profile overrides; the profile loader accepts only stricter values.
    profile_overrides: dict[str, dict[str, object]] = Field(default_factory=dict)
    payment_claim_hold_days: int = Field(default=5, ge=0, le=30)
    allowed_link_domains: list[str] = Field(default_factory=list)
    prices: UnitPrices = Field(default_factory=UnitPrices)
    send_rates: SendRates = Field(default_factory=SendRates)
    # The lender's OpenPGP public key (ASCII-armored). When set, every encrypted file from this
    # lender must carry a valid signature by it, or the file is rejected whole.
    pgp_signing_key: str | None = Field(default=None, pattern=r"^-----BEGIN PGP PUBLIC KEY BLOCK")
    # Who receives a receipt for every file this lender delivers (functions/core/receipts.py).
    receipt_emails: list[EmailAddress] = Field(default_factory=list)

    @property
    def support_contact(self) -> str:
        return f"{self.support_phone} / {self.support_email}"


def parse_lender(text: str, source: str, lender_id: str) -> LenderConfig:
    """One lender's YAML, validated; ConfigError naming `source` (the file) and each bad field."""
    _check_id(lender_id, source)
    try:
        raw = parse_yaml(text)
    except NotYaml as exc:
        raise ConfigError(f"{source}: not YAML: {exc}") from exc
    return _validated(raw, source, lender_id)


def _check_id(lender_id: str, source: str) -> None:
    if not LENDER_ID.match(lender_id):
        raise ConfigError(f"{source}: invalid lender id {lender_id!r} (a-z, 0-9, -; 1-40)")


def _validated(raw: object, source: str, lender_id: str) -> LenderConfig:
    try:
        config = LenderConfig.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"{source}: {fields}") from exc
    if config.lender_id != lender_id:
        raise ConfigError(
            f"{source}: lender_id: {config.lender_id!r} differs from the file name {lender_id!r}"
        )
    return config


class ShippedLenders:
    """The lender files shipped with the code (`config/lenders/`): a LenderSource."""

    def __init__(self, config_root: Path) -> None:
        self.config_root = config_root

    def get(self, lender_id: str) -> LenderConfig:
        return load_lender(self.config_root, lender_id)

    def ids(self) -> list[str]:
        return sorted(p.stem for p in (self.config_root / "config" / "lenders").glob("*.yaml"))

    def all(self) -> list[LenderConfig]:
        return [self.get(lender_id) for lender_id in self.ids()]


def load_lender(config_root: Path, lender_id: str) -> LenderConfig:
    """Load and validate one lender's configuration; unknown lender ⇒ ConfigError."""
    return _load_lender(config_root, lender_id)


@cache
def _load_lender(config_root: Path, lender_id: str) -> LenderConfig:
    if not LENDER_ID.match(lender_id):
        raise ConfigError(f"invalid lender id {lender_id!r}")
    path = config_root / "config" / "lenders" / f"{lender_id}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown lender {lender_id!r}: no configuration at config/lenders/")
    source = f"config/lenders/{lender_id}.yaml"
    try:
        raw = read_config(path)
    except NotYaml as exc:
        raise ConfigError(f"{source}: not YAML: {exc}") from exc
    return _validated(raw, source, lender_id)
