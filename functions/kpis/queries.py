"""The collections KPIs as SQL: one set of queries for DuckDB (local) and Athena (AWS).

Each KPI is a file `kpis/NAME.sql` holding one SELECT over the analytics events (a table or
view named `events`) and the shared relations of `kpis/base/*.sql` (accounts that entered a
ladder, when each was cured, messages sent, the last touch before each payment or opt-out).
A query is run as `WITH <base relations> <KPI>`. The SQL keeps to what Athena (Trino) and DuckDB
both read alike: `date_diff` on DATEs, `INTERVAL 'n' DAY` literals, `min_by`, window functions.

Two parameters come from config/kpis.yaml (docs/kpis.md): `$cure_days` and `$dpd_buckets`,
substituted as validated integers (never text from a user).
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.core.config_files import read_config
from functions.core.errors import ConfigError

KPI_DIR = "kpis"  # beside functions/, in the repository and in the Lambda asset
CONFIG_FILE = Path("config") / "kpis.yaml"
# The shared relations, in the order each may use the ones before it.
BASE_RELATIONS = (
    "entered",
    "cures",
    "ladder_accounts",
    "sends",
    "payment_touches",
    "reply_touches",
)
# The KPI queries and the key each has in `rung kpis --json`.
KPI_QUERIES = (
    "overview",
    "by_lender",
    "by_cohort",
    "by_rung",
    "by_channel",
    "by_template",
    "by_variant",
    "by_segment",
    "roll_rate",
    "cure_curve",
)

Day = Annotated[int, Field(ge=0, le=3650)]


class KpiConfig(BaseModel):
    """config/kpis.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cure_days: Annotated[int, Field(ge=1, le=3650)]
    dpd_buckets: tuple[tuple[Day, Day], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> KpiConfig:
        previous = -1
        for first, last in self.dpd_buckets:
            if not previous < first <= last:
                raise ValueError(
                    f"dpd_buckets: [{first}, {last}] must start after the bucket before it "
                    "and end on or after its first day"
                )
            previous = last
        return self


def load_kpi_config(root: Path) -> KpiConfig:
    path = root / CONFIG_FILE
    try:
        return KpiConfig.model_validate(read_config(path))
    except (OSError, ValueError) as exc:  # NotYaml is a ValueError
        raise ConfigError(f"{path}: {exc}") from exc


def _parameters(config: KpiConfig) -> dict[str, str]:
    return {
        "cure_days": str(config.cure_days),
        "dpd_buckets": ", ".join(f"({first}, {last})" for first, last in config.dpd_buckets),
    }


def _read(path: Path, config: KpiConfig) -> str:
    text = path.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return Template(body).substitute(_parameters(config)).strip().rstrip(";")


def kpi_sql(root: Path, name: str, config: KpiConfig) -> str:
    """The complete query of KPI `name`: the base relations as a WITH clause, then the KPI."""
    sql_dir = root / KPI_DIR
    relations = ",\n".join(
        f"{relation} AS (\n{_read(sql_dir / 'base' / f'{relation}.sql', config)}\n)"
        for relation in BASE_RELATIONS
    )
    return f"WITH {relations}\n{_read(sql_dir / f'{name}.sql', config)}"


def all_kpi_sql(root: Path, config: KpiConfig) -> dict[str, str]:
    return {name: kpi_sql(root, name, config) for name in KPI_QUERIES}
