"""A response model for previews: how borrowers might answer each message, drawn at random.

`rung simulate --response-model FILE [--seed N]` reads a model like
`samples/response_model.yaml` and, after every message the run sends, draws whether the
borrower pays in full (and when) and whether they reply STOP. Those payments and replies go
through the same handlers as a lender's payments file and real replies, so a lender can preview
an experiment's power and the KPI pipeline runs end to end. Everything it produces is labelled
synthetic (summary.json `synthetic`, experiments.csv, synthetic_responses.csv, the report).

Draws are seeded per (seed, account, rung, channel) — not by the order events happen — so a
run is reproducible and one account's draws do not shift when another account changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from functions.core.channels import reply_channels
from functions.core.models import Account, AuditRecord, Channel


class PayModel(BaseModel):
    """Probability of paying in full after one contact: `base` × the factor of the rung
    (1-based, as in messages.csv), of the channel, of the lender's segment label and of the
    experiment variant (a planted effect, to preview power). Missing keys are factor 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: float = Field(ge=0, le=1)
    by_rung: dict[int, float] = Field(default_factory=dict)
    by_channel: dict[Channel, float] = Field(default_factory=dict)
    by_segment: dict[str, float] = Field(default_factory=dict)
    by_variant: dict[str, float] = Field(default_factory=dict)


class TimeToPay(BaseModel):
    """Hours from the contact to the payment: log-normal with this median and shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    median_hours: float = Field(gt=0)
    sigma: float = Field(ge=0, le=5)


class OptOutModel(BaseModel):
    """Probability that one contact on a channel is answered STOP, and how soon."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_channel: dict[Channel, float] = Field(default_factory=dict)
    within_hours: float = Field(gt=0)  # uniform over this many hours after the contact

    @field_validator("by_channel")
    @classmethod
    def _reply_channels(cls, value: dict[Channel, float]) -> dict[Channel, float]:
        for channel, probability in value.items():
            if channel not in reply_channels():
                raise ValueError(f"borrowers do not reply on {channel.value}")
            if not 0 <= probability <= 1:
                raise ValueError(f"{channel.value}: a probability is between 0 and 1")
        return value


class ResponseModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pay: PayModel
    time_to_pay: TimeToPay
    opt_out: OptOutModel

    def pay_probability(self, record: AuditRecord, account: Account) -> float:
        pay = self.pay
        probability = (
            pay.base
            * pay.by_rung.get(record.rung + 1, 1.0)
            * pay.by_channel.get(record.channel, 1.0)
            * pay.by_segment.get(account.segment or "", 1.0)
            * pay.by_variant.get(account.variant, 1.0)
        )
        return min(probability, 1.0)


def load_response_model(path: Path) -> ResponseModel:
    """Read a response model; a bad file raises ValueError naming it and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ResponseModel.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{path.name}: {where}: {first['msg']}") from exc


@dataclass(frozen=True)
class Response:
    """What a borrower does after one contact (None: does not)."""

    pays_at: datetime | None
    opts_out_at: datetime | None


def respond(model: ResponseModel, seed: int, record: AuditRecord, account: Account) -> Response:
    """The borrower's drawn response to the message `record` sent."""
    key = f"{account.lender_id}#{account.account_id}#{record.cycle}#{record.rung}#{record.channel}"
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    rng = np.random.default_rng([seed, digest])
    pay_draw, opt_draw, opt_delay = rng.random(3)
    spread = float(rng.standard_normal())
    pays_at = None
    if pay_draw < model.pay_probability(record, account):
        hours = model.time_to_pay.median_hours * float(np.exp(model.time_to_pay.sigma * spread))
        pays_at = record.at_utc + timedelta(hours=hours)
    opts_out_at = None
    if opt_draw < model.opt_out.by_channel.get(record.channel, 0.0):
        opts_out_at = record.at_utc + timedelta(hours=float(opt_delay) * model.opt_out.within_hours)
    return Response(pays_at=pays_at, opts_out_at=opts_out_at)
