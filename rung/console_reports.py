"""The console's outcome reports on this machine: `rung kpis`, `rung experiments report` and
`rung plan`, computed by the same code over a simulation's output folder and its lender file.

`LocalReports` is the `OutcomeReports` port `rung console` wires: KPIs by DuckDB over the run's
`events/`, experiments from its `experiments.csv` (plus each variant's guardrail state from the
experiment tally in the accounts table), and the capacity plan of the lender file the run took
in. `write_run_outputs` writes that folder for a run made with `rung.engine_full.run_in`, as
`rung simulate --out` does (the same writer: rung.run_outputs).
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from functions.console.services import ReportUnavailable
from functions.core.errors import ConfigError, FileRejected
from functions.core.experiments import load_experiments
from functions.core.ladder import load_ladder
from functions.core.lender_file import FileReport, LenderRow, validate_lender_file
from functions.core.lenders import load_lender
from functions.core.payments_file import PaymentRow, PaymentsFile
from functions.core.ports import ExperimentTally
from functions.core.profiles import load_profiles
from functions.kpis.queries import load_kpi_config
from functions.kpis.report import KpiEngineError, kpi_report
from functions.plan.planner import plan
from functions.plan.report import plan_summary
from functions.settings import PROJECT_ROOT
from rung.analytics_files import SECRET_BYTES
from rung.commands.plan import plan_file, sending_rates
from rung.engine import SimulationInput, SimulationResult
from rung.experiment_report import EXPERIMENTS_CSV, read_outcomes, report
from rung.kpi_engines import DuckDbEngine
from rung.run_outputs import RunContext, write_part, write_run

MIN_EFFECT = 0.05  # `rung experiments report`'s default --min-effect


@dataclass
class LocalReports:
    """The reports of one run: `folder` is its output folder, `upload` the lender file it took
    in at `start`, planned over `days`. Each report is computed once, when first asked for."""

    folder: Path
    lender_id: str
    tally: ExperimentTally
    upload: Path
    start: datetime
    days: int
    min_effect: float = MIN_EFFECT
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)

    def kpis(self) -> dict[str, Any]:
        if "kpis" not in self._cache:
            try:
                engine = DuckDbEngine(self.folder)
                self._cache["kpis"] = kpi_report(
                    engine, PROJECT_ROOT, load_kpi_config(PROJECT_ROOT)
                )
            except (KpiEngineError, ConfigError) as exc:
                raise ReportUnavailable(str(exc)) from exc
        return self._cache["kpis"]

    def experiments(self) -> dict[str, Any]:
        path = self.folder / EXPERIMENTS_CSV
        if not path.is_file():
            return {"experiments": []}  # no account of the run joined a running experiment
        try:
            book = load_experiments(PROJECT_ROOT, self.lender_id)
            results = report(
                read_outcomes(path), {e.id: e for e in book.experiments}, self.min_effect
            )
        except (ConfigError, ValueError) as exc:
            raise ReportUnavailable(str(exc)) from exc
        for result in results:
            for variant in result["variants"]:
                tally = self.tally.get(self.lender_id, result["experiment"], variant["variant"])
                variant["stopped"] = tally.stopped
        return {"experiments": results}

    def plan(self) -> dict[str, Any]:
        if "plan" not in self._cache:
            try:
                lender = load_lender(PROJECT_ROOT, self.lender_id)
                checked, demand = plan_file(self.upload, lender, self.start, self.days)
            except (ConfigError, FileRejected, OSError) as exc:
                raise ReportUnavailable(str(exc)) from exc
            if checked.file_error:
                raise ReportUnavailable(f"the latest file was rejected: {checked.file_error}")
            result = plan(demand, load_ladder(PROJECT_ROOT, lender.ladder), sending_rates(lender))
            self._cache["plan"] = {
                **plan_summary(result, checked, lender),
                "file": self.upload.name,
                "start": self.start.strftime("%Y-%m-%dT%H:%MZ"),
                "days": self.days,
            }
        return self._cache["plan"]


def write_run_outputs(out_dir: Path, sim: SimulationInput, result: SimulationResult) -> None:
    """The run's output folder — events/, experiments.csv, messages.csv, summary.json,
    report.html — written as `rung simulate` writes it (rung.run_outputs); `sim`'s files are
    plaintext."""
    from rung.commands.simulate import blackout_day_check, quiet_hours_check

    lender = load_lender(PROJECT_ROOT, sim.lender_id)
    with sim.accounts_file.open("rb") as stream:
        entered = [
            row.value
            for row in validate_lender_file(stream, lender, FileReport())
            if row.accepted and isinstance(row.value, LenderRow)
        ]
    payments: list[PaymentRow] = []
    if sim.payments_file is not None:
        with sim.payments_file.open("rb") as stream:
            payments = [row.value for row in PaymentsFile(stream, lender).results() if row.value]
    context = RunContext(
        lender.prices,
        sim.start,
        sim.days,
        secret=secrets.token_bytes(SECRET_BYTES),
        payments=tuple(payments),
        lender=lender,
    )
    book = load_profiles(PROJECT_ROOT).for_lender(lender)
    with tempfile.TemporaryDirectory(prefix="rung-console-") as folder:
        part = write_part(
            Path(folder),
            result,
            context,
            entered=entered,
            in_quiet_hours=quiet_hours_check(book, lender),
            on_blackout_day=blackout_day_check(book, lender),
        )
        write_run(out_dir, [part], context, capacity_per_second=sending_rates(lender))
