"""The KPIs of `rung kpis` (and of the console's KPIs page): every query's rows gathered into
one report.

The JSON keeps the contract's keys: `accounts` (accounts that entered a ladder), `cured` (paid
in full within `cure_days` of the first rung), `cure_rate` (= cured / accounts), `by_rung`,
`by_channel`, `by_template`, `by_variant`; and also the cost and contacts per cured account,
`by_lender`, `by_cohort`, `by_segment`, `roll_rate` and `cure_curve` (definitions: docs/kpis.md).
Every number comes from a query; nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from functions.kpis.queries import KPI_QUERIES, KpiConfig, kpi_sql

Row = dict[str, Any]
# The totals, from the `overview` query, at the top level of the report.
TOTALS = (
    "accounts",
    "cured",
    "cure_rate",
    "contacts",
    "cost",
    "contacts_per_cured",
    "cost_per_cured",
)


class KpiEngineError(RuntimeError):
    """The events could not be read or a query failed; the message says which and why."""


class KpiEngine(Protocol):
    """Runs one query and gives its rows as dicts of plain Python values (`plain`)."""

    name: str

    def rows(self, sql: str) -> list[Row]: ...


def plain(value: Any) -> Any:
    """A value as JSON carries it: decimals as floats, dates as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def kpi_report(engine: KpiEngine, root: Path, config: KpiConfig) -> dict[str, Any]:
    """Every KPI query run on `engine`, one after the other."""
    return gather(
        engine.name,
        config,
        {name: engine.rows(kpi_sql(root, name, config)) for name in KPI_QUERIES},
    )


def gather(engine: str, config: KpiConfig, results: Mapping[str, list[Row]]) -> dict[str, Any]:
    """The report from each query's rows (`results`, keyed as KPI_QUERIES)."""
    tables = {name: results[name] for name in KPI_QUERIES}
    overview = tables.pop("overview")
    totals: Row = overview[0] if overview else {}
    return {
        "engine": engine,
        "cure_days": config.cure_days,
        **{key: totals.get(key) for key in TOTALS},
        **tables,
    }
