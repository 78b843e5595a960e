"""`rung kpis` on a terminal: the report (functions.kpis.report) as plain-text tables."""

from __future__ import annotations

from typing import Any, TextIO

# What the terminal shows of each table, in this order (the JSON has every column).
TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("by_lender", "Per lender", ("lender", "accounts", "cured", "cure_rate", "cost_per_cured")),
    ("by_cohort", "Per cohort (week the ladder started)", ("cohort", "accounts", "cure_rate")),
    ("by_variant", "Per variant", ("variant", "accounts", "cured", "cure_rate", "cost_per_cured")),
    ("by_segment", "Per segment", ("segment", "accounts", "cured", "cure_rate")),
    (
        "by_rung",
        "Payments after each rung (last touch)",
        ("rung", "sent", "payments", "payments_per_sent", "mean_hours_to_pay"),
    ),
    ("by_channel", "Per channel", ("channel", "sent", "delivery_rate", "payments", "cost")),
    (
        "by_template",
        "Per template version",
        ("template_id", "template_version", "sent", "opt_out_rate", "complaint_rate", "payments"),
    ),
    (
        "roll_rate",
        "Roll rate to the next days-past-due bucket",
        ("first_day", "last_day", "observed", "rolled", "roll_rate"),
    ),
)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def print_tables(report: dict[str, Any], out: TextIO) -> None:
    """The report as plain-text tables, for a terminal."""
    print(
        f"{cell(report['accounts'])} accounts entered a ladder; {cell(report['cured'])} cured "
        f"(paid in full within {report['cure_days']} days of the first rung): cure rate "
        f"{cell(report['cure_rate'])}; {cell(report['contacts'])} messages, cost "
        f"{cell(report['cost'])}, {cell(report['cost_per_cured'])} per cured account "
        f"[{report['engine']}]",
        file=out,
    )
    for key, title, columns in TABLES:
        rows = report.get(key) or []
        print(f"\n{title}", file=out)
        cells = [list(columns)] + [[cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for line in cells:
            print("  " + "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)), file=out)
        if not rows:
            print("  (none)", file=out)
