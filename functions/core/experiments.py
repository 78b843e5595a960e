"""Champion/challenger experiments: which variant of a lender's strategy an account receives.

A lender configures experiments in `config/experiments/{lender_id}.yaml` (README, Experiments):
variants (another ladder, or the same ladder with some templates swapped), allocation weights,
a start and an end, and optional lender-provided segment labels to target. Rules:

- Deterministic. The bucket is SHA-256 of `{experiment}:{account_id}` read as a number in
  [0, 1); the weights split [0, 1) in the order the variants are listed. The same account gets
  the same variant on every upload and on every machine, with nothing stored to look it up.
- Recorded. Intake writes the experiment and variant on the account; every gate decision
  carries them (`AuditRecord.variant`, the `variant` column of messages.csv).
- Targeting by `segment` only: a label the lender puts in its file (e.g. `prime`,
  `early-stage`). Nothing else about the borrower — and never a protected characteristic (race,
  sex, age, religion, national origin, marital status, receipt of public assistance) — is read
  here: the assignment sees only the account id and that label (docs/experiments.md).
- The same gate for every variant. A variant changes only which ladder and which templates
  are used; the gate, quiet hours, caps, suppressions and four-eyes approval are the ones every
  rung passes. A variant template that is not approved (or fails lint, so cannot be) is
  SUPPRESSED `template_not_approved` like any other.
- Guardrails. A variant whose opt-out or complaint rate breaches
  `config/experiment_guardrails.yaml` is stopped: new accounts go to the champion instead
  (the assignment says why); accounts already in it keep it for their cycle.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError

NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# A lender's segment label: short, no spaces or punctuation that could carry free text.
SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_BUCKETS = 16**15  # the first 15 hex digits of the hash: 60 bits, far finer than any weight


class Variant(BaseModel):
    """One arm. `ladder`: another ladder id (None: the lender's). `templates`: template ids of
    the ladder's rungs replaced by others for this arm (`reminder_day1: reminder_day1_warm`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME)
    weight: float = Field(ge=0)
    ladder: str | None = Field(default=None, pattern=r"^[a-z0-9_-]+$")
    templates: dict[str, str] = Field(default_factory=dict)

    @field_validator("templates")
    @classmethod
    def _template_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for original, replacement in value.items():
            for template in (original, replacement):
                if not re.match(r"^[a-z0-9_]+$", template):
                    raise ValueError(f"{template!r} is not a template id")
        return value


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=NAME)
    description: str = ""
    start: AwareDatetime
    end: AwareDatetime
    champion: str  # the variant a stopped challenger's accounts go to
    segments: tuple[str, ...] = ()  # lender labels targeted; empty: every account
    variants: tuple[Variant, ...] = Field(min_length=2)

    @field_validator("segments")
    @classmethod
    def _segment_labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            if not SEGMENT.match(label):
                raise ValueError(f"{label!r} is not a segment label (letters, digits, _ . -)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        names = [variant.name for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.id}: variant names repeat: {names}")
        if self.champion not in names:
            raise ValueError(f"experiment {self.id}: champion {self.champion!r} is not a variant")
        if sum(variant.weight for variant in self.variants) <= 0:
            raise ValueError(f"experiment {self.id}: the weights add up to nothing")
        if self.end <= self.start:
            raise ValueError(f"experiment {self.id}: end {self.end} is not after start")
        return self

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def running(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def targets(self, segment: str | None) -> bool:
        return not self.segments or segment in self.segments


class ExperimentBook(BaseModel):
    """Every experiment of one lender; an account joins at most one (the first that targets
    it and is running)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiments: tuple[Experiment, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> ExperimentBook:
        ids = [experiment.id for experiment in self.experiments]
        if len(set(ids)) != len(ids):
            raise ValueError(f"experiment ids repeat: {ids}")
        return self

    def get(self, experiment_id: str) -> Experiment | None:
        return next((e for e in self.experiments if e.id == experiment_id), None)


@dataclass(frozen=True)
class Assignment:
    experiment: str
    variant: str
    # `hash`: the account's bucket chose it; `guardrail:{variant}`: the bucket chose a
    # stopped variant, so the champion took the account.
    reason: str


def bucket(experiment_id: str, account_id: str) -> float:
    """The account's place in [0, 1) for this experiment: SHA-256, not Python's `hash` (which
    is salted per process), so every machine and every upload agrees."""
    digest = hashlib.sha256(f"{experiment_id}:{account_id}".encode()).hexdigest()
    return int(digest[:15], 16) / _BUCKETS


def hashed_variant(experiment: Experiment, account_id: str) -> Variant:
    """The variant whose share of [0, 1) holds the account's bucket."""
    total = sum(variant.weight for variant in experiment.variants)
    point = bucket(experiment.id, account_id) * total
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.weight
        if point < edge and variant.weight > 0:
            return variant
    return next(v for v in reversed(experiment.variants) if v.weight > 0)


def assign(
    book: ExperimentBook,
    account_id: str,
    segment: str | None,
    now: datetime,
    stopped: Mapping[str, frozenset[str]] | None = None,
) -> Assignment | None:
    """The experiment and variant a new account joins, or None (no running experiment targets
    its segment). `stopped`: per experiment, the variants a guardrail stopped."""
    for experiment in book.experiments:
        if not (experiment.running(now) and experiment.targets(segment)):
            continue
        chosen = hashed_variant(experiment, account_id)
        if chosen.name in (stopped or {}).get(experiment.id, frozenset()):
            return Assignment(experiment.id, experiment.champion, f"guardrail:{chosen.name}")
        return Assignment(experiment.id, chosen.name, "hash")
    return None


def load_experiments(config_root: Path, lender_id: str) -> ExperimentBook:
    """The lender's experiments; none configured is an empty book."""
    return _load_experiments(config_root, lender_id)


@cache
def _load_experiments(config_root: Path, lender_id: str) -> ExperimentBook:
    path = config_root / "config" / "experiments" / f"{lender_id}.yaml"
    if not path.is_file():
        return ExperimentBook()
    try:
        return ExperimentBook.model_validate(read_config(path))
    except (NotYaml, ValidationError) as exc:
        raise ConfigError(f"config/experiments/{path.name}: {exc}") from exc


class Guardrails(BaseModel):
    """`config/experiment_guardrails.yaml`: when a variant stops taking new accounts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    opt_out_rate: float = Field(gt=0, lt=1)
    complaint_rate: float = Field(gt=0, lt=1)
    minimum_accounts: int = Field(ge=1)


@cache
def load_guardrails(config_root: Path) -> Guardrails:
    path = config_root / "config" / "experiment_guardrails.yaml"
    try:
        return Guardrails.model_validate(read_config(path))
    except (OSError, NotYaml, ValidationError) as exc:
        raise ConfigError(f"config/experiment_guardrails.yaml: {exc}") from exc


class VariantTally(BaseModel):
    """What a variant has done so far, counted as it happens (the ExperimentTally port)."""

    model_config = ConfigDict(frozen=True)

    accounts: int = 0  # accounts assigned
    opt_outs: int = 0  # accounts whose borrower opted out (reply or unsubscribe)
    complaints: int = 0  # accounts whose borrower complained (reply or feedback loop)
    stopped: str = ""  # why a guardrail stopped it, once it has


TALLY_COUNTERS = frozenset({"accounts", "opt_outs", "complaints"})


def breach(tally: VariantTally, rules: Guardrails) -> str:
    """The guardrail `tally` breaches ("" if none): judged only past the minimum sample."""
    if tally.accounts < rules.minimum_accounts:
        return ""
    if tally.complaints / tally.accounts >= rules.complaint_rate:
        return f"complaint_rate {tally.complaints}/{tally.accounts} >= {rules.complaint_rate}"
    if tally.opt_outs / tally.accounts >= rules.opt_out_rate:
        return f"opt_out_rate {tally.opt_outs}/{tally.accounts} >= {rules.opt_out_rate}"
    return ""


def variant_of(config_root: Path, lender_id: str, experiment: str, variant: str) -> Variant | None:
    """The configured variant an account was assigned (None outside any experiment, or if the
    experiment was since removed from the configuration: the lender's own ladder then)."""
    if not experiment:
        return None
    found = load_experiments(config_root, lender_id).get(experiment)
    return found.variant(variant) if found is not None else None
