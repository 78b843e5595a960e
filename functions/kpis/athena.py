"""The KPI queries on Athena, in the stack's workgroup against its Glue database.

`AthenaQueries` starts a query, reads an execution's state and its rows; `wait` watches several
executions for at most a given time, so a caller with a deadline (the console, inside API
Gateway's 30 seconds) can stop waiting and pick the same executions up later. `AthenaEngine` is
the blocking engine `rung kpis --athena` runs: start, wait without a limit, read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from functions.kpis.report import KpiEngineError, Row

# Our choice: Athena reports a query's state, not a time to completion; one look a second
# costs a few API calls and adds at most a second to a query of several.
POLL_SECONDS = 1.0
DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

# Athena's result types, as ResultSetMetadata names them, read back into Python values.
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "integer", "bigint"})
_FLOAT_TYPES = frozenset({"double", "float", "real", "decimal"})


def athena_value(text: str | None, kind: str) -> Any:
    """One cell of GetQueryResults (always text) as the Python value its column type names."""
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


@dataclass(frozen=True)
class Execution:
    """One query execution's state as Athena reports it."""

    id: str
    state: str  # QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED
    reason: str = ""  # why it failed or was cancelled
    completed: datetime | None = None

    @property
    def done(self) -> bool:
        return self.state in DONE


@dataclass(frozen=True)
class Timer:
    """Where waiting reads the time and sleeps (tests give a fake one)."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class AthenaQueries:
    client: AthenaClient
    workgroup: str  # its settings fix the encrypted result location
    database: str  # the Glue database whose `events` table is the analytics record

    def start(self, sql: str) -> str:
        started = self.client.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
        )
        query_id: str = started["QueryExecutionId"]
        return query_id

    def execution(self, query_id: str) -> Execution:
        status = self.client.get_query_execution(QueryExecutionId=query_id)
        state = status["QueryExecution"]["Status"]
        return Execution(
            id=query_id,
            state=state["State"],
            reason=state.get("StateChangeReason", ""),
            completed=state.get("CompletionDateTime"),
        )

    def wait(
        self,
        query_ids: Sequence[str],
        budget_seconds: float = math.inf,
        *,
        poll_seconds: float = POLL_SECONDS,
        timer: Timer | None = None,
    ) -> list[Execution] | None:
        """The executions once every one has succeeded, or None when `budget_seconds` pass
        first (they go on running). A failed or cancelled one raises KpiEngineError."""
        timer = timer or Timer()
        deadline = timer.monotonic() + budget_seconds
        pending = list(dict.fromkeys(query_ids))
        finished: dict[str, Execution] = {}
        while True:
            for query_id in pending:
                execution = self.execution(query_id)
                if execution.state in ("FAILED", "CANCELLED"):
                    reason = execution.reason or execution.state.lower()
                    raise KpiEngineError(f"Athena query {query_id}: {reason}")
                if execution.done:
                    finished[query_id] = execution
            pending = [query_id for query_id in pending if query_id not in finished]
            if not pending:
                return [finished[query_id] for query_id in query_ids]
            left = deadline - timer.monotonic()
            if left <= 0:
                return None
            timer.sleep(min(poll_seconds, left))

    def rows(self, query_id: str) -> list[Row]:
        """A succeeded execution's rows, typed by its result's column types."""
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
                        name: athena_value(cell, kind)
                        for name, kind, cell in zip(names, kinds, cells, strict=True)
                    }
                )
        return rows


@dataclass
class AthenaEngine:
    """`rung kpis --athena`: each query started, waited for (no limit) and read."""

    client: AthenaClient
    workgroup: str
    database: str
    poll_seconds: float = POLL_SECONDS
    name: str = "athena"
    _queries: AthenaQueries = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._queries = AthenaQueries(self.client, self.workgroup, self.database)

    def rows(self, sql: str) -> list[Row]:
        query_id = self._queries.start(sql)
        self._queries.wait([query_id], poll_seconds=self.poll_seconds)
        return self._queries.rows(query_id)
