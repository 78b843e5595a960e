"""report.html used as a person would, in a real browser: Playwright drives Debian's Chromium
(the package's own executable; no browser is downloaded) on a 390-pixel phone screen.

The page is the demo's (`rung simulate` on the samples, fast engine): a disputed account, bad
rows in both files, replies and payments. Without the `chromium` executable the test skips
and says why; everywhere else (CI installs the package) it runs.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from rung.cli import main

# Runs only on the operator's machine, never in Lambda: `make test-runtime` leaves it out.
pytestmark = pytest.mark.operator_only

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PHONE = {"width": 390, "height": 844}
CHROMIUM_CANDIDATES = ("chromium", "/usr/bin/chromium")


def chromium_executable() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip(
        "no chromium executable on this machine (Debian: apt-get install chromium); the "
        "report's browser checks need it"
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    payments = out / "payments.csv"
    # The sample payments plus a row whose date and amount are unreadable
    payments.write_text(
        (SAMPLES / "payments.csv").read_text(encoding="utf-8") + "D-1002,soon,lots\n",
        encoding="utf-8",
    )
    code = main(
        [
            "simulate",
            str(SAMPLES / "accounts.csv"),
            "--replies",
            str(SAMPLES / "replies.csv"),
            "--payments",
            str(payments),
            "--start",
            "2026-12-01T00:00:00Z",
            "--days",
            "35",
            "--engine",
            "fast",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def phone(browser: Browser, report: Path) -> Iterator[tuple[Page, list[str]]]:
    """The report open on a 390-px phone, offline: every request other than the page itself
    (file:) or what it makes in memory (blob:, data:) is recorded and refused."""
    context = browser.new_context(viewport=PHONE, accept_downloads=True)
    fetched: list[str] = []

    def refuse(route: Route) -> None:
        fetched.append(route.request.url)
        route.abort()

    context.route("http*://**/*", refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    yield page, fetched
    assert errors == [], errors
    context.close()


def shown_accounts(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#timeline details", "ds => ds.filter(d => !d.hidden).map(d => d.dataset.account)"
    )


def test_report_fits_a_390_pixel_phone(phone: tuple[Page, list[str]]) -> None:
    page, fetched = phone
    # Given every account's timeline opened (the widest tables on the page)
    page.click("button[data-open='1']")

    # Then the page does not scroll sideways
    width = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " document.body.scrollWidth]"
    )
    assert width[0] <= width[1] and width[2] <= width[1], width
    # ... and no element reaches past the right edge: nothing is cut off
    past_edge = page.evaluate(
        """() => {
          const edge = document.documentElement.clientWidth;
          return Array.from(document.querySelectorAll("body *"))
            .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > edge + 0.5)
            .map(e => e.tagName + (e.id ? "#" + e.id : "") + " " + e.textContent.slice(0, 40));
        }"""
    )
    assert past_edge == []
    # ... the cards stand two abreast, the cost table and the timelines are there in full
    cards = page.eval_on_selector_all("#headline .card", "cs => cs.map(c => c.offsetWidth)")
    assert len(cards) == 8 and all(120 <= w <= 195 for w in cards), cards
    assert page.is_visible("#cost >> text=Total")
    # ... and nothing was fetched from anywhere
    assert fetched == []


def test_report_says_why_in_words(phone: tuple[Page, list[str]]) -> None:
    page, _ = phone
    # Deferrals broken down by reason, in words (here the one payment-claim hold)
    deferrals = page.inner_text("#deferrals")
    assert "Paused while we check the borrower's payment" in deferrals
    assert "quiet hours" not in page.inner_text("#headline-deferred-why")
    # The rows not taken, from both files, with their reasons
    rejected = page.inner_text("#rejected")
    assert "accounts.csv" in rejected and "D-1007" in rejected and "phone" in rejected
    assert "payments.csv" in rejected and "D-1002" in rejected and "paid_at" in rejected
    # Every reply, masked, with how it was read
    replies = page.locator("#replies tr").count() - 1
    assert replies == len((SAMPLES / "replies.csv").read_text().splitlines()) - 1
    assert "Says they paid" in page.inner_text("#replies")
    # The payments, with what became of the account
    payments = page.inner_text("#payments")
    assert "D-1001" in payments and "D-1004" in payments and "PAID" in payments
    # The disputed account explains itself
    disputed = page.locator("#timeline details[data-account='D-1013']")
    disputed.locator("summary").click()
    assert "disputes the debt" in disputed.locator(".status-note").inner_text()


def test_report_filters_narrow_the_timeline(phone: tuple[Page, list[str]]) -> None:
    page, _ = phone
    everyone = shown_accounts(page)
    assert len(everyone) == 14

    # Search by account
    page.fill("#filter-account", "d-1003")
    assert shown_accounts(page) == ["D-1003"]
    assert page.inner_text("#filter-count") == "1 of 14 accounts shown"
    page.fill("#filter-account", "")

    # By status: only the disputed account
    page.select_option("#filter-status", "DISPUTED")
    assert shown_accounts(page) == ["D-1013"]
    page.select_option("#filter-status", "")

    # By state: the two in California
    page.select_option("#filter-state", "CA")
    assert shown_accounts(page) == ["D-1003", "D-1014"]

    # By state and reason: the Washington borrowers whose first rung had passed on upload
    page.select_option("#filter-state", "WA")
    page.select_option("#filter-reason", "missed_before_upload")
    assert shown_accounts(page) == ["D-1001", "D-1010"]
    page.select_option("#filter-state", "")

    # By reason and channel: only the borrower who unsubscribed from email, and in that
    # account only the email decisions the opt-out stopped
    page.select_option("#filter-reason", "opted_out")
    page.select_option("#filter-channel", "EMAIL")
    assert shown_accounts(page) == ["D-1010"]
    account = page.locator("#timeline details[data-account='D-1010']")
    account.locator("summary").click()
    visible = account.locator("tr[data-channel]:visible")
    filtered = visible.count()
    assert filtered >= 1
    assert set(
        visible.evaluate_all("rs => rs.map(r => r.dataset.channel + ' ' + r.dataset.reason)")
    ) == {"EMAIL opted_out"}

    # Cleared, everything is back
    page.select_option("#filter-reason", "")
    page.select_option("#filter-channel", "")
    assert shown_accounts(page) == everyone
    assert visible.count() > filtered


def test_report_exports_one_accounts_timeline(phone: tuple[Page, list[str]], report: Path) -> None:
    page, fetched = phone
    # Given a filter that hides some of the account's rows (the export still takes them all)
    page.select_option("#filter-channel", "SMS")
    account = page.locator("#timeline details[data-account='D-1003']")
    account.locator("summary").click()
    rows_shown = account.locator("tr").count() - 1

    # When ops download that account's timeline
    with page.expect_download() as download_info:
        account.locator("button.export").click()
    download = download_info.value

    # Then a CSV named for the account holds every row of its timeline
    assert download.suggested_filename == "D-1003-timeline.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 by its byte-order mark
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == rows_shown
    assert {row["account_id"] for row in rows} == {"D-1003"}
    assert [row["decision"] for row in rows].count("SUPPRESSED") == 2
    assert any(row["reason"] == "opted_out" for row in rows)
    # ... the same decisions, in the same order, as messages.csv holds for that account
    with (report.parent / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        recorded = [r for r in csv.DictReader(handle) if r["account_id"] == "D-1003"]
    recorded.sort(key=lambda r: r["at_utc"])
    assert [(r["rung"], r["channel"].upper(), r["decision"], r["reason"]) for r in rows] == [
        (r["rung"], r["channel"].upper(), r["decision"], r["reason"]) for r in recorded
    ]
    assert fetched == []
