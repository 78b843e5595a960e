"""The report draws the busiest minute of each day against what the providers accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from functions.core.models import AuditRecord, Channel, Decision
from rung.report import write_outputs
from rung.report_page import SentCounts, busiest_minute_chart
from tests.unit.test_report import PRICES, build_result, never_quiet, no_blackout, record

START = datetime(2026, 12, 1, tzinfo=UTC)


def _sent(channel: Channel, at: datetime, n: int) -> list[AuditRecord]:
    """`n` messages sent within the minute that starts at `at`."""
    return [
        record(f"A-{i}", 1, channel, Decision.SENT, at + timedelta(seconds=i * 59 / n))
        for i in range(n)
    ]


def test_each_day_shows_its_busiest_minute_per_channel_under_the_capacity_line() -> None:
    # Given 150 SMS in one minute and 40 in another on day 1, 20 emails in a minute on day 2
    day1 = START + timedelta(hours=17)
    records = [
        *_sent(Channel.SMS, day1, 150),
        *_sent(Channel.SMS, day1 + timedelta(minutes=5), 40),
        *_sent(Channel.EMAIL, day1 + timedelta(days=1), 20),
        record("B", 2, Channel.SMS, Decision.DEFERRED, day1, reason="capacity"),
    ]
    # When drawn against 3 SMS/s and 14 emails/s
    chart = busiest_minute_chart(SentCounts.of(records), START, 3, {"sms": 3, "email": 14})
    bars = {r.title: r for r in chart.rects if r.css.startswith("bar-")}
    lines = {r.title: r for r in chart.rects if r.css.startswith("capacity-")}
    # Then each day has one bar per channel that sent, its height the busiest minute
    assert set(bars) == {
        "2026-12-01: at most 150 SMS in one minute",
        "2026-12-02: at most 20 EMAIL in one minute",
    }
    assert set(lines) == {"SMS capacity: 180 per minute", "EMAIL capacity: 840 per minute"}
    sms_bar, sms_line = (
        bars["2026-12-01: at most 150 SMS in one minute"],
        lines["SMS capacity: 180 per minute"],
    )
    bottom = sms_bar.y + sms_bar.height
    # The bar reaches 150/180 of the way to the SMS line (drawn 2 px thick around its value)
    line_height = bottom - (sms_line.y + 1)
    assert abs(sms_bar.height / line_height - 150 / 180) < 0.01


def test_a_channel_without_a_known_rate_has_no_line() -> None:
    chart = busiest_minute_chart(
        SentCounts.of(_sent(Channel.SMS, START, 3)), START, 1, {"sms": None}
    )
    assert not [r for r in chart.rects if r.css.startswith("capacity-")]


def test_summary_and_report_carry_the_capacity(tmp_path: Path) -> None:
    summary = write_outputs(
        tmp_path,
        build_result(),
        PRICES,
        in_quiet_hours=never_quiet,
        on_blackout_day=no_blackout,
        start=START,
        days=3,
        capacity_per_second={Channel.SMS: 3},
    )
    assert summary["capacity_per_second"] == {"sms": 3, "email": None, "push": None}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Busiest minute of each day, against capacity" in page
    assert "SMS capacity: 180 per minute" in page
