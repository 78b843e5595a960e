"""Where the KPI queries run: DuckDB on local Parquet files, or Athena in the stack.

Both take the same SQL (rung.kpi_queries) and give rows as dicts of plain Python values
(str, int, float, None; decimals and dates as Athena returns them are converted alike).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import duckdb

from rung.analytics_files import EVENTS_DIR

Row = dict[str, Any]
# The events with their partitions (functions.core.analytics.PARTITIONS) typed from the folder
# names, as the Glue table types them.
READ_EVENTS = (
    "SELECT * FROM read_parquet($files, hive_partitioning = true, "
    "hive_types = {'lender': VARCHAR, 'date': DATE})"
)


class KpiEngineError(RuntimeError):
    """The events could not be read or a query failed; the message says which and why."""


class KpiEngine(Protocol):
    name: str

    def rows(self, sql: str) -> list[Row]: ...


def plain(value: Any) -> Any:
    """A value as JSON carries it: decimals as floats, dates as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


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


# Athena's result types, as ResultSetMetadata names them, read back into Python values.
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "integer", "bigint"})
_FLOAT_TYPES = frozenset({"double", "float", "real", "decimal"})


def _athena_value(text: str | None, kind: str) -> Any:
    if text is None:
        return None
    if kind in _INTEGER_TYPES:
        return int(text)
    if kind in _FLOAT_TYPES:
        return float(text)
    if kind == "boolean":
        return text == "true"
    return text


class AthenaClient(Protocol):
    def start_query_execution(self, **kwargs: Any) -> Any: ...

    def get_query_execution(self, **kwargs: Any) -> Any: ...

    def get_paginator(self, operation_name: Any) -> Any: ...


@dataclass
class AthenaEngine:
    """Athena, in the stack's workgroup (whose settings fix the encrypted result location)
    against the stack's Glue database, whose `events` table is the analytics record."""

    client: AthenaClient
    workgroup: str
    database: str
    poll_seconds: float = 1.0
    name: str = "athena"

    def rows(self, sql: str) -> list[Row]:
        started = self.client.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
        )
        query_id = started["QueryExecutionId"]
        while True:
            status = self.client.get_query_execution(QueryExecutionId=query_id)
            state = status["QueryExecution"]["Status"]
            if state["State"] == "SUCCEEDED":
                break
            if state["State"] in ("FAILED", "CANCELLED"):
                reason = state.get("StateChangeReason", state["State"].lower())
                raise KpiEngineError(f"Athena query {query_id}: {reason}")
            time.sleep(self.poll_seconds)
        names: list[str] = []
        kinds: list[str] = []
        rows: list[Row] = []
        pages = self.client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
        for page in pages:
            result = page["ResultSet"]
            data = result["Rows"]
            if not names:
                columns = result["ResultSetMetadata"]["ColumnInfo"]
                names = [column["Name"] for column in columns]
                kinds = [column["Type"].lower() for column in columns]
                data = data[1:]  # the first row of the first page repeats the column names
            for row in data:
                cells = [cell.get("VarCharValue") for cell in row["Data"]]
                rows.append(
                    {
                        name: _athena_value(cell, kind)
                        for name, kind, cell in zip(names, kinds, cells, strict=True)
                    }
                )
        return rows
