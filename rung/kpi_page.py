"""`rung kpis --out FILE.html`: the KPIs as one offline page with inline SVG charts.

Nothing is loaded from anywhere (no CDN, no script): the charts are SVG drawn here from the
report's numbers — the cure curve per variant by day since the first rung, payments after each
rung, and opt-outs per template version — and the tables follow them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rung.kpi_report import TABLES, cell
from rung.report_page import (
    PLOT_BOTTOM,
    PLOT_LEFT,
    PLOT_RIGHT,
    PLOT_TOP,
    Chart,
    Rect,
    Text,
    nice_step,
)

TEMPLATE_NAME = "kpi_template.html.j2"
WIDTH, HEIGHT = 960, 260
# Variant lines take these colours in turn (the page's palette).
LINE_COLOURS = ("#2f6fdf", "#12a594", "#b7791f", "#c81e1e", "#7b61ff", "#3e4c59")
PERCENT_TICKS = (0, 25, 50, 75, 100)


@dataclass(frozen=True)
class Line:
    points: str  # SVG polyline points
    colour: str
    label: str


@dataclass(frozen=True)
class CurveChart:
    width: int
    height: int
    lines: list[Line]
    texts: list[Text]
    gridlines: list[float]


def cure_curve_chart(curve: list[dict[str, Any]], cure_days: int) -> CurveChart:
    """Share of each variant's accounts cured by day d since the first rung, d = 0..cure_days
    (a step line: the rate holds between the days a cure happened)."""
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_height = HEIGHT - PLOT_TOP - PLOT_BOTTOM
    base = HEIGHT - PLOT_BOTTOM
    gridlines = [base - plot_height * tick / 100 for tick in PERCENT_TICKS]
    texts = [
        Text(PLOT_LEFT - 6, y + 4, f"{tick}%", "end")
        for tick, y in zip(PERCENT_TICKS, gridlines, strict=True)
    ]
    step = max(1, cure_days // 10)
    texts.extend(
        Text(PLOT_LEFT + plot_width * day / cure_days, HEIGHT - 8, f"day {day}")
        for day in range(0, cure_days + 1, step)
    )
    by_variant: dict[str, dict[int, float]] = {}
    for row in curve:
        by_variant.setdefault(str(row["variant"]), {})[int(row["day"])] = float(row["cure_rate"])
    lines = []
    for index, (variant, rates) in enumerate(sorted(by_variant.items())):
        rate, points = 0.0, []
        for day in range(cure_days + 1):
            rate = max([rate] + [r for d, r in rates.items() if d <= day])
            x = PLOT_LEFT + plot_width * day / cure_days
            points.append(f"{x:.1f},{base - plot_height * rate:.1f}")
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        lines.append(Line(" ".join(points), colour, f"{variant}: {rate:.1%} by day {cure_days}"))
    return CurveChart(WIDTH, HEIGHT, lines, texts, gridlines)


def bar_chart(labels: list[str], values: list[int], titles: list[str]) -> Chart:
    """One bar per label, for counts."""
    step = nice_step(max(values, default=0))
    top = step * max(1, math.ceil(max(values, default=0) / step))
    plot_height = HEIGHT - PLOT_TOP - PLOT_BOTTOM
    scale = plot_height / top
    gridlines = [HEIGHT - PLOT_BOTTOM - v * scale for v in range(0, top + 1, step)]
    texts = [
        Text(PLOT_LEFT - 6, HEIGHT - PLOT_BOTTOM - v * scale + 4, f"{v:,}", "end")
        for v in range(0, top + 1, step)
    ]
    slot = (WIDTH - PLOT_LEFT - PLOT_RIGHT) / max(1, len(labels))
    rects = []
    for index, (label, value, title) in enumerate(zip(labels, values, titles, strict=True)):
        x = PLOT_LEFT + index * slot + slot * 0.15
        height = value * scale
        rects.append(Rect(x, HEIGHT - PLOT_BOTTOM - height, slot * 0.7, height, "bar-sent", title))
        texts.append(Text(x + slot * 0.35, HEIGHT - 8, label))
    return Chart(WIDTH, HEIGHT, rects, texts, gridlines)


def render_kpi_page(report: dict[str, Any], source: str) -> str:
    rungs = report["by_rung"]
    templates = report["by_template"]
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = cell
    return environment.get_template(TEMPLATE_NAME).render(
        r=report,
        source=source,
        curve=cure_curve_chart(report["cure_curve"], report["cure_days"]),
        payments=bar_chart(
            [f"rung {row['rung']}" for row in rungs],
            [row["payments"] for row in rungs],
            [
                f"rung {row['rung']}: {row['payments']} payments after {row['sent']} sent"
                for row in rungs
            ],
        ),
        opt_outs=bar_chart(
            [f"{row['template_id']}@{row['template_version'][:6]}" for row in templates],
            [row["opt_outs"] for row in templates],
            [
                f"{row['template_id']}@{row['template_version']}: {row['opt_outs']} opt-outs "
                f"of {row['sent']} sent"
                for row in templates
            ],
        ),
        tables=TABLES,
    )
