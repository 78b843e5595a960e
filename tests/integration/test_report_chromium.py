"""report.html as a browser shows it: headless Chromium renders, screenshots and dumps the DOM.

Needs the Debian package `chromium` (`apt-get install -y chromium`; .ci/run installs it).
Without it the test fails and says so; set RUNG_SKIP_BROWSER=1 to skip on purpose.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest

from functions.core.models import AccountStatus, AuditRecord, Channel, Decision
from rung.engine import SimulationResult
from rung.report import write_outputs
from rung.report_page import TIMELINE_ACCOUNTS
from tests.unit.test_report import (
    FORMULA_BODY,
    PRICES,
    account,
    build_result,
    never_quiet,
    no_blackout,
    record,
    utc,
)

# Runs only on the operator's machine, never in Lambda: `make test-runtime` leaves it out.
pytestmark = pytest.mark.operator_only

START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 35
EXTRA_ACCOUNTS = 240
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Attributes through which an element makes the browser fetch something.
RESOURCE_ATTRIBUTES = {
    "src",
    "srcset",
    "href",
    "xlink:href",
    "poster",
    "data",
    "action",
    "background",
    "formaction",
    "style",
}
LADDER = (
    (1, Channel.SMS),
    (3, Channel.EMAIL),
    (7, Channel.SMS),
    (14, Channel.EMAIL),
    (21, Channel.SMS),
    (30, Channel.EMAIL),
)
ZONES = (-5, -6, -8, 8)
MARKUP_BODY = '<img src="https://evil.example/p.png"><script>fetch("https://evil.example")</script>'


def chromium() -> str:
    if os.environ.get("RUNG_SKIP_BROWSER") == "1":
        pytest.skip("RUNG_SKIP_BROWSER=1: browser rendering check skipped on purpose")
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(
            "headless Chromium is required for the report check: install it with "
            "`apt-get update && apt-get install -y chromium` (or set RUNG_SKIP_BROWSER=1 to skip)"
        )
    return binary


def synthetic_result() -> SimulationResult:
    """The hand-built cases plus a few hundred accounts walking the default ladder."""
    result = build_result()
    # A body carrying markup, as a hostile lender file could: it must stay text.
    result.records.append(
        record(
            "A1",
            2,
            Channel.SMS,
            Decision.SENT,
            utc(8, 18),
            body=MARKUP_BODY,
            at_local=utc(8, 18).astimezone(timezone(timedelta(hours=-8))).isoformat(),
            segments=1,
        )
    )
    for n in range(EXTRA_ACCOUNTS):
        offset = ZONES[n % len(ZONES)]
        chinese = offset == 8
        result.accounts.append(
            account(
                f"L{n:05d}",
                phone=f"+1415555{n:04d}",
                email=f"b{n}@example.com",
                locale="zh-CN" if chinese else "en-US",
                status=AccountStatus.PAID if n % 17 == 0 else AccountStatus.ACTIVE,
            )
        )
        for rung, (day, channel) in enumerate(LADDER):
            at = START + timedelta(days=day, hours=10 - offset, minutes=n % 50)
            result.records.extend(_ladder_records(f"L{n:05d}", rung, channel, at, offset, n))
    result.records.sort(key=lambda r: r.at_utc)
    result.rows = len(result.accounts) + 1
    return result


def _ladder_records(
    account_id: str, rung: int, channel: Channel, at: datetime, offset: int, n: int
) -> list[AuditRecord]:
    zone = timezone(timedelta(hours=offset))
    common: dict[str, Any] = {"address_masked": "+1******0000"}
    if n % 17 == 0:
        return [
            record(
                account_id,
                rung,
                channel,
                Decision.SUPPRESSED,
                at,
                reason="status_paid",
                at_local=at.astimezone(zone).isoformat(),
                **common,
            )
        ]
    body = (
        f"【示例金融】您好，您的账单已逾期{rung + 1}期，请尽快还款。回复TD退订"
        if offset == 8
        else f"Demo Finance: your payment is overdue (reminder {rung + 1}). Reply STOP to stop."
    )
    records = []
    if n % 5 == 0:  # held back by quiet hours first, sent the next morning
        night = at - timedelta(hours=13)
        records.append(
            record(
                account_id,
                rung,
                channel,
                Decision.DEFERRED,
                night,
                reason="quiet_hours",
                at_local=night.astimezone(zone).isoformat(),
                **common,
            )
        )
        at = at - timedelta(hours=2)
    segments = (2 if offset == 8 else 1) if channel is Channel.SMS else 0
    records.append(
        record(
            account_id,
            rung,
            channel,
            Decision.SENT,
            at,
            body=body,
            segments=segments,
            at_local=at.astimezone(zone).isoformat(),
            **common,
        )
    )
    return records


@dataclass
class Dom(HTMLParser):
    ids: dict[str, str] = field(default_factory=dict)
    tags: list[tuple[str, list[tuple[str, str | None]]]] = field(default_factory=list)
    text: str = ""
    _open_id: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        element_id = dict(attrs).get("id")
        if element_id and tag == "div":
            self._open_id.append(element_id)
            self.ids[element_id] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._open_id:
            self._open_id.pop()

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._open_id:
            self.ids[self._open_id[-1]] += data


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    binary = chromium()
    out = tmp_path_factory.mktemp("report")
    summary = write_outputs(
        out,
        synthetic_result(),
        PRICES,
        in_quiet_hours=never_quiet,
        on_blackout_day=no_blackout,
        start=START,
        days=DAYS,
        allowed_window=(time(8), time(21)),
    )
    page = (out / "report.html").as_uri()
    base = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={out / 'profile'}"]
    screenshot = out / "report.png"
    shot = subprocess.run(
        [*base, f"--screenshot={screenshot}", "--window-size=1280,2000", page],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dump = subprocess.run(
        [*base, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=False
    )
    return {
        "summary": summary,
        "out": out,
        "screenshot": screenshot,
        "shot": shot,
        "dom": dump.stdout,
        "dump": dump,
    }


def test_report_chromium_screenshot_is_a_real_picture(rendered: dict[str, Any]) -> None:
    # Given the page rendered by headless Chromium at 1280×2000
    assert rendered["shot"].returncode == 0, rendered["shot"].stderr[-2000:]
    png = rendered["screenshot"].read_bytes()

    # Then the file is a PNG of that size with real content (a blank page compresses to ~10 kB)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 2000)
    assert len(png) > 60_000


def test_report_chromium_dom_shows_headline_numbers(rendered: dict[str, Any]) -> None:
    # Given the DOM after Chromium loaded the page (scripts run)
    assert rendered["dump"].returncode == 0, rendered["dump"].stderr[-2000:]
    dom = Dom()
    dom.feed(rendered["dom"])
    summary = rendered["summary"]

    # Then the headline cards carry the summary's numbers
    assert dom.ids["headline-accounts"].strip() == f"{summary['accounts']:,}"
    assert dom.ids["headline-sent"].strip() == f"{summary['sent']['total']:,}"
    assert dom.ids["headline-deferred"].strip() == f"{summary['deferred']['decisions']:,}"
    assert dom.ids["headline-suppressed"].strip() == f"{summary['suppressed']['total']:,}"
    assert dom.ids["headline-segments"].strip() == f"{summary['sms_segments']['total']:,}"
    assert dom.ids["headline-cost"].strip().startswith("$")
    # And every section is there, with the timeline capped and saying so
    section_ids = {dict(attrs).get("id") for tag, attrs in dom.tags if tag == "section"}
    assert {
        "headline",
        "invariants",
        "daily",
        "hours",
        "suppressions",
        "cost",
        "timeline",
    } <= section_ids
    assert sum(1 for tag, _ in dom.tags if tag == "details") == TIMELINE_ACCOUNTS
    assert f"of {summary['accounts']:,} accounts" in rendered["dom"]
    assert "Borrower asked us to stop" in rendered["dom"]


def test_report_chromium_dom_self_contained_and_inert(rendered: dict[str, Any]) -> None:
    # Given the DOM Chromium built
    dom = Dom()
    dom.feed(rendered["dom"])

    # Then no element makes the browser fetch anything over the network
    for tag, attrs in dom.tags:
        for name, value in attrs:
            if name in RESOURCE_ATTRIBUTES and value:
                assert "http://" not in value and "https://" not in value, (tag, name, value)
        assert tag not in {"link", "img", "iframe", "object", "embed"}, tag
    # And lender text became text: only the page's own script exists
    assert sum(1 for tag, _ in dom.tags if tag == "script") == 1
    assert MARKUP_BODY in dom.text
    assert FORMULA_BODY in dom.text
