"""DuckDB, the KPI engine on this machine: the same SQL (functions.kpis.queries) as Athena
(functions.kpis.athena) over local Parquet files, rows as dicts of plain Python values.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from functions.kpis.report import KpiEngineError, Row, plain
from rung.analytics_files import EVENTS_DIR

# The events with their partitions (functions.core.analytics.PARTITIONS) typed from the folder
# names, as the Glue table types them.
READ_EVENTS = (
    "SELECT * FROM read_parquet($files, hive_partitioning = true, "
    "hive_types = {'lender': VARCHAR, 'date': DATE})"
)


class DuckDbEngine:
    """DuckDB, embedded: `events` is a view over `DIR/events/**/*.parquet` (or `DIR` itself
    when it holds the `lender=…` folders), partitions read from the folder names."""

    name = "duckdb"

    def __init__(self, folder: Path) -> None:
        root = folder / EVENTS_DIR if (folder / EVENTS_DIR).is_dir() else folder
        files = sorted(root.glob("lender=*/date=*/*.parquet"))
        if not files:
            raise KpiEngineError(
                f"{folder}: no analytics events (expected {EVENTS_DIR}/lender=…/date=…/*.parquet, "
                "as `rung simulate` writes them)"
            )
        self._connection = duckdb.connect(":memory:")
        try:
            relation = self._connection.sql(
                READ_EVENTS, params={"files": [str(path) for path in files]}
            )
            relation.create_view("events")
        except duckdb.Error as exc:
            raise KpiEngineError(f"{root}: the events cannot be read: {exc}") from exc

    def rows(self, sql: str) -> list[Row]:
        try:
            cursor = self._connection.execute(sql)
            names = [column[0] for column in cursor.description or ()]
            return [
                {name: plain(value) for name, value in zip(names, row, strict=True)}
                for row in cursor.fetchall()
            ]
        except duckdb.Error as exc:
            raise KpiEngineError(f"DuckDB: {exc}") from exc
