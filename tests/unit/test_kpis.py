"""The KPI queries (kpis/*.sql) on a small dataset whose every number is worked out by hand,
and the checks that each query is one Athena reads too.

The dataset (T0 = 2026-12-01 15:00 UTC, prices 0.01 per SMS segment and 0.001 per email):
- A: due 2026-11-20, owes 100. Rung 1 SMS (2 segments) at T0, delivered; rung 2 email at
  T0+2d; a complaint at T0+2d+1h; pays 100 at T0+3d → cured on day 3.
- B: due 2026-11-01, owes 200. Rung 1 SMS at T0, its receipt FAILED; pays 50 at T0+1d;
  rung 2 email at T0+2d; pays 150 at T0+40d → paid in full only after the 30-day window.
- C: due 2026-10-15, owes 80. Rung 1 SMS at T0; replies STOP at T0+1h; rung 2 DEFERRED.
- D: due 2026-11-30, owes 10, variant "B". Rung 1 SUPPRESSED at T0; pays 10 at T0+5h.
- E: uploaded, no rung ever decided: not an account that entered a ladder.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from functions.core.analytics import (
    AnalyticsEvent,
    decision_event,
    delivery_event,
    payment_event,
    reply_event,
    upload_event,
)
from functions.core.errors import ConfigError
from functions.core.lenders import UnitPrices
from functions.core.models import AuditRecord, Channel, Decision
from functions.kpis.queries import (
    BASE_RELATIONS,
    KPI_QUERIES,
    KpiConfig,
    all_kpi_sql,
    load_kpi_config,
)
from functions.kpis.report import kpi_report
from functions.settings import PROJECT_ROOT
from rung.analytics_files import write_events
from rung.kpi_engines import DuckDbEngine

T0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
PRICES = UnitPrices(sms_segment=Decimal("0.01"), email=Decimal("0.001"))
LENDER = "acme"
CONFIG = KpiConfig(cure_days=30, dpd_buckets=((1, 30), (31, 60), (61, 90)))
TEMPLATES = {Channel.SMS: ("t1", "v1"), Channel.EMAIL: ("t2", "v2")}


def _decision(
    account: str,
    rung: int,
    channel: Channel,
    at: datetime,
    decision: Decision = Decision.SENT,
    segments: int = 1,
    variant: str | None = None,
) -> AnalyticsEvent:
    template_id, version = TEMPLATES[channel]
    record = AuditRecord(
        lender_id=LENDER,
        account_id=account,
        cycle="c1",
        rung=rung - 1,
        channel=channel,
        decision=decision,
        template_id=template_id,
        template_version=version,
        at_utc=at,
        segments=segments if channel is Channel.SMS else 0,
    )
    return decision_event(record, account, PRICES, variant=variant)


def _upload(account: str, due: date, owes: str) -> AnalyticsEvent:
    return upload_event(
        LENDER,
        account,
        T0 - timedelta(hours=1),
        amount_due=Decimal(owes),
        currency="USD",
        due_date=due,
    )


def _pay(account: str, at: datetime, amount: str) -> AnalyticsEvent:
    return payment_event(LENDER, account, at, Decimal(amount), "USD")


DAY = timedelta(days=1)
EVENTS = [
    _upload("A", date(2026, 11, 20), "100"),
    _upload("B", date(2026, 11, 1), "200"),
    _upload("C", date(2026, 10, 15), "80"),
    _upload("D", date(2026, 11, 30), "10"),
    _upload("E", date(2026, 11, 25), "70"),
    _decision("A", 1, Channel.SMS, T0, segments=2),
    delivery_event(
        LENDER, "A", T0 + timedelta(minutes=1), channel=Channel.SMS, rung=1, status="DELIVERED"
    ),
    _decision("A", 2, Channel.EMAIL, T0 + 2 * DAY),
    reply_event(LENDER, "A", T0 + 2 * DAY + timedelta(hours=1), Channel.EMAIL, "complaint"),
    _pay("A", T0 + 3 * DAY, "100"),
    _decision("B", 1, Channel.SMS, T0),
    delivery_event(
        LENDER, "B", T0 + timedelta(minutes=1), channel=Channel.SMS, rung=1, status="FAILED"
    ),
    _pay("B", T0 + DAY, "50"),
    _decision("B", 2, Channel.EMAIL, T0 + 2 * DAY),
    _pay("B", T0 + 40 * DAY, "150"),
    _decision("C", 1, Channel.SMS, T0),
    reply_event(LENDER, "C", T0 + timedelta(hours=1), Channel.SMS, "opt_out"),
    _decision("C", 2, Channel.EMAIL, T0 + 2 * DAY, Decision.DEFERRED),
    _decision("D", 1, Channel.SMS, T0, Decision.SUPPRESSED, variant="B"),
    _pay("D", T0 + timedelta(hours=5), "10"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("kpis")
    write_events(folder, EVENTS)
    return kpi_report(DuckDbEngine(folder), PROJECT_ROOT, CONFIG)


def test_kpis_cure_rate_counts_accounts_paid_in_full_within_the_window(
    report: dict[str, Any],
) -> None:
    # A (day 3) and D (day 0) are cured; B paid in full on day 40; C never; E never started.
    assert (report["accounts"], report["cured"]) == (4, 2)
    assert report["cure_rate"] == pytest.approx(0.5)


def test_kpis_contacts_and_cost_per_cured_account(report: dict[str, Any]) -> None:
    # Sent: A 2, B 2, C 1. Cost: A 0.02 + 0.001, B 0.01 + 0.001, C 0.01.
    assert report["contacts"] == 5
    assert report["cost"] == pytest.approx(0.042)
    assert report["contacts_per_cured"] == pytest.approx(2.5)
    assert report["cost_per_cured"] == pytest.approx(0.021)


def test_kpis_by_variant_and_cohort(report: dict[str, Any]) -> None:
    by_variant = {row["variant"]: (row["accounts"], row["cured"]) for row in report["by_variant"]}
    assert by_variant == {"none": (3, 1), "B": (1, 1)}
    # Ladders started Tuesday 1 December: the cohort is the week from Monday 30 November.
    assert [(row["cohort"], row["accounts"]) for row in report["by_cohort"]] == [("2026-11-30", 4)]


def test_kpis_payments_after_each_rung_take_the_last_message_before_them(
    report: dict[str, Any],
) -> None:
    by_rung = {row["rung"]: row for row in report["by_rung"]}
    # Rung 1: B's 50 a day after its SMS (D's payment followed no message: not attributed).
    assert (by_rung[1]["sent"], by_rung[1]["payments"]) == (3, 1)
    assert by_rung[1]["mean_hours_to_pay"] == pytest.approx(24)
    # Rung 2: A's 100 a day after, B's 150 38 days after.
    assert (by_rung[2]["sent"], by_rung[2]["payments"]) == (2, 2)
    assert by_rung[2]["mean_hours_to_pay"] == pytest.approx((24 + 38 * 24) / 2)


def test_kpis_by_channel_delivery_rate_from_receipts(report: dict[str, Any]) -> None:
    sms, email = (
        next(row for row in report["by_channel"] if row["channel"] == c) for c in ("sms", "email")
    )
    assert (sms["sent"], sms["receipts"], sms["delivered"]) == (3, 2, 1)
    assert sms["delivery_rate"] == pytest.approx(1 / 3)
    assert (sms["payments"], email["payments"]) == (1, 2)
    # No receipt for email at all: its delivery rate is unknown, not zero.
    assert email["delivery_rate"] is None


def test_kpis_opt_outs_and_complaints_per_template_version(report: dict[str, Any]) -> None:
    rows = {(row["template_id"], row["template_version"]): row for row in report["by_template"]}
    sms, email = rows[("t1", "v1")], rows[("t2", "v2")]
    assert (sms["sent"], sms["opt_outs"], sms["complaints"]) == (3, 1, 0)
    assert sms["opt_out_rate"] == pytest.approx(1 / 3)
    assert (email["sent"], email["opt_outs"], email["complaints"]) == (2, 0, 1)
    assert email["complaint_rate"] == pytest.approx(0.5)


def test_kpis_roll_rate_to_the_next_dpd_bucket(report: dict[str, Any]) -> None:
    # The data ends on 10 January 2027 (B's last payment). Days past due at the start: A 11,
    # B 30, D 1 (bucket 1–30); C 47 (31–60). B reached day 31 unpaid; C reached day 61.
    rows = {(row["first_day"], row["last_day"]): row for row in report["roll_rate"]}
    assert set(rows) == {(1, 30), (31, 60)}
    assert (rows[(1, 30)]["observed"], rows[(1, 30)]["rolled"]) == (3, 1)
    assert rows[(1, 30)]["roll_rate"] == pytest.approx(1 / 3)
    assert (rows[(31, 60)]["observed"], rows[(31, 60)]["rolled"]) == (1, 1)


def test_kpis_cure_curve_is_cumulative_by_day_since_the_first_rung(
    report: dict[str, Any],
) -> None:
    curve = [(row["variant"], row["day"], row["cured"]) for row in report["cure_curve"]]
    assert curve == [("B", 0, 1), ("none", 3, 1)]


def test_kpis_cure_window_is_configuration(tmp_path: Path) -> None:
    # With a 45-day window B's payment on day 40 cures it too.
    write_events(tmp_path, EVENTS)
    longer = KpiConfig(cure_days=45, dpd_buckets=CONFIG.dpd_buckets)
    report = kpi_report(DuckDbEngine(tmp_path), PROJECT_ROOT, longer)
    assert (report["accounts"], report["cured"]) == (4, 3)


# -- one set of queries for both engines ---------------------------------------------------


def athena_problems(sql: str) -> list[str]:
    """Why Athena would not read `sql` as written: a parse error in its (Trino) dialect, a
    function sqlglot does not know, a table function (DuckDB's `read_parquet`), or a table
    other than `events` and the query's own."""
    problems = []
    for dialect in ("athena", "trino"):
        try:
            tree = sqlglot.parse_one(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        except sqlglot.ParseError as exc:
            problems.append(f"{dialect}: {exc}")
            continue
        problems.extend(f"unknown function {f.name}" for f in tree.find_all(exp.Anonymous))
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if not isinstance(table.this, exp.Identifier):
                problems.append(f"table function {table.this.sql()}")
            elif table.name not in ctes | {"events"}:
                problems.append(f"unknown table {table.name}")
    return problems


@pytest.mark.parametrize("name", KPI_QUERIES)
def test_kpi_query_is_one_athena_reads(name: str) -> None:
    sql = all_kpi_sql(PROJECT_ROOT, load_kpi_config(PROJECT_ROOT))[name]
    assert athena_problems(sql) == []


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT epoch(at_utc) FROM events",  # DuckDB's, not Trino's
        "SELECT account_key FROM events QUALIFY row_number() OVER () = 1",
        "SELECT * FROM read_parquet('events/*.parquet')",
    ],
)
def test_athena_check_catches_duckdb_only_sql(sql: str) -> None:
    assert athena_problems(sql)


def test_kpi_queries_use_every_base_relation_in_order() -> None:
    sql = all_kpi_sql(PROJECT_ROOT, CONFIG)["overview"]
    positions = [sql.index(f"{name} AS (") for name in BASE_RELATIONS]
    assert positions == sorted(positions)


def test_kpi_config_rejects_overlapping_buckets(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "kpis.yaml").write_text(
        "cure_days: 30\ndpd_buckets: [[1, 30], [20, 60]]\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\[20, 60\] must start after the bucket before it"):
        load_kpi_config(tmp_path)


def test_kpi_config_rejects_a_window_of_no_days(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "kpis.yaml").write_text(
        "cure_days: 0\ndpd_buckets: [[1, 30]]\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="cure_days"):
        load_kpi_config(tmp_path)
