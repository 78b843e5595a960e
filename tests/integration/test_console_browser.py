"""The ops console used as people would, in a real browser: Playwright drives Debian's Chromium
(the package's own executable; no browser is downloaded) against `rung console`'s server over
the demo world (the samples through the full simulator).

Covers the four-eyes flow (an author's lint error, fixed and submitted; the author cannot
approve; an approver puts the version in use), an account's timeline after a STOP, a viewer
who sees masked addresses only and cannot act, labels and keyboard use on every form, and a
390-pixel screen without horizontal scrolling on every page. With RUNG_CONSOLE_SCREENSHOTS=1
the pages' screenshots are written to docs/console/ (the README shows them).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from functions.adapters.dynamo import DynamoExperimentTally
from functions.console.pages import REFRESH_SECONDS
from functions.console.services import OutcomeReports, ReportPending
from rung.console_local import (
    LocalConsole,
    demo_reports,
    local_app,
    seeded_world,
    world_services,
)
from rung.experiment_report import EXPERIMENTS_CSV, Outcome, write_outcomes
from rung.localworld import LocalWorld

# The browser runs only on the operator's machine: `make test-runtime` leaves it out (the
# console's pages are tested on the runtime by tests/unit/test_console_app.py).
pytestmark = [pytest.mark.slow, pytest.mark.operator_only]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
EXPERIMENT = "email-first-2026q4"  # config/experiments/demo.yaml
STOPPED = ("D-1014", "+14155550123", "+1******0123")  # texted STOP on 4 December
PAGES = (
    "/templates",
    "/templates/edit?template=reminder_day1&channel=sms&locale=en-US",
    "/approvals",
    "/accounts",
    f"/accounts/demo/{STOPPED[0]}",
    "/replies",
    "/suppressions",
    "/uploads",
    "/channels",
    "/activity",
    "/kpis",
    "/experiments",
    "/plan",
)


def chromium_executable() -> str:
    for candidate in ("chromium", "/usr/bin/chromium"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip("no chromium executable on this machine (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[LocalWorld, Path]]:
    """The demo world and the folder its run's outputs were written to."""
    with (
        tempfile.TemporaryDirectory(prefix="rung-console-") as out,
        seeded_world(out_dir=Path(out)) as world,
    ):
        yield world, Path(out)


@pytest.fixture(scope="module")
def console(demo: tuple[LocalWorld, Path]) -> Iterator[str]:
    world, out = demo
    services = world_services(world, reports=demo_reports(world, out))
    server = LocalConsole(local_app(services, "ana"))
    with server.running() as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    yield opened
    context.close()


def act_as(page: Page, console: str, user: str) -> None:
    """Switch the demo user with the "acting as" form, as a person would."""
    if not page.url.startswith(console):
        page.goto(console + "/templates")
    page.get_by_label("Acting as").select_option(user)
    page.get_by_role("button", name="Switch user").click()
    expect(page.get_by_test_id("username")).to_have_text(user)


def snapshot(page: Page, name: str) -> None:
    if os.environ.get("RUNG_CONSOLE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_four_eyes_from_a_lint_error_to_the_version_in_use(page: Page, console: str) -> None:
    act_as(page, console, "ana")
    page.goto(console + "/templates")
    page.get_by_role("link", name="Edit reminder_day1/sms.en-US.txt").click()
    source = page.get_by_label("Template text (front matter, then the message)")
    original = source.input_value()
    # The author drops the opt-out instruction: the live check names the rule
    source.fill(original.replace("{{ optout_instruction }}", "Questions? Call us."))
    findings = page.get_by_test_id("findings")
    expect(findings).to_contain_text("(optout)")
    expect(page.locator("#check-summary")).to_contain_text("lint error")
    snapshot(page, "template-edit")
    # Submitting anyway is refused on the server, naming the error
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("alert")).to_contain_text("Fix the errors below")
    # Fixed (and a word changed), it is clean and submitted
    fixed = original.replace("a reminder that", "a friendly reminder that", 1)
    page.get_by_label("Template text (front matter, then the message)").fill(fixed)
    expect(page.locator("#check-summary")).to_have_text("Lint clean")
    page.get_by_label("Note for the approver (optional)").fill("a comma after the name")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for approval")
    # The author sees the draft and its diff, but no way to approve it
    card = page.locator("section.card", has_text="reminder_day1/sms.en-US.txt")
    expect(card).to_contain_text("Submitted by ana")
    expect(card.locator(".diff .added")).to_contain_text("a friendly reminder")
    expect(card.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
    version = card.locator("h2 code").inner_text()
    snapshot(page, "approvals")
    # An approver approves it: the templates list shows it in use
    act_as(page, console, "bo")
    page.goto(console + "/approvals")
    card = page.locator("section.card", has_text=version)
    card.get_by_label("Comment (required to reject)").fill("reads well")
    card.get_by_role("button", name="Approve reminder_day1/sms.en-US.txt").click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    page.goto(console + "/templates")
    row = page.get_by_role("row", name=re.compile(r"^reminder_day1 sms en-US"))
    expect(row).to_contain_text(f"{version} approved by bo")
    snapshot(page, "templates")


def test_an_author_cannot_approve_their_own_version(page: Page, console: str) -> None:
    # ada is an admin (she may approve), and writes a version herself
    act_as(page, console, "ada")
    page.goto(console + "/templates/edit?template=reminder_day3&channel=sms&locale=es-US")
    source = page.get_by_label("Template text (front matter, then the message)")
    source.fill(source.input_value() + "\n")
    expect(page.locator("#check-summary")).to_have_text("Lint clean")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for approval")
    card = page.locator("section.card", has_text="reminder_day3/sms.es-US.txt")
    card.get_by_role("button", name="Approve reminder_day3/sms.es-US.txt").click()
    expect(page.get_by_role("alert")).to_contain_text("someone else must approve")
    page.goto(console + "/activity")
    expect(page.locator("tr", has_text="refused").filter(has_text="ada")).not_to_have_count(0)
    snapshot(page, "activity")


def test_the_timeline_shows_the_stop_and_the_rungs_it_suppressed(page: Page, console: str) -> None:
    act_as(page, console, "bo")
    page.goto(console + "/accounts")
    page.get_by_label("Account id, phone number or email address").fill(STOPPED[0])
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(f"/accounts/demo/{STOPPED[0]}$"))
    entries = page.get_by_test_id("timeline").locator("li")
    texts = entries.all_inner_texts()
    stop = next(i for i, text in enumerate(texts) if "read as opt out" in text)
    # Every text message step after the STOP was suppressed, saying why; email went on
    sms_after = [text for text in texts[stop + 1 :] if re.search(r"Step \d+ by sms", text)]
    assert sms_after, texts
    assert all("Not sent: the borrower opted out" in text for text in sms_after), sms_after
    expect(page.locator("li.suppression")).to_contain_text("replied STOP")
    snapshot(page, "account")


def test_a_viewer_sees_masked_addresses_only_and_cannot_act(page: Page, console: str) -> None:
    act_as(page, console, "vic")
    for path in PAGES:
        page.goto(console + path)
        html = page.content()
        assert STOPPED[1] not in html and "david.w@example.com" not in html, path
        assert not re.search(r"\+\d{11}", html), path  # no phone number in clear anywhere
        # Forms that change something are not offered (only search and the user switch)
        actions = page.locator("form[method=post]:not([action='/local/user'])")
        expect(actions).to_have_count(0)
    page.goto(console + f"/accounts/demo/{STOPPED[0]}")
    expect(page.get_by_test_id("phone")).to_have_text(STOPPED[2])
    # A request made anyway is refused by the server
    token = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    answer = page.request.post(
        console + "/channels/pause", form={"channel": "sms", "reason": "x", "csrf": token}
    )
    assert answer.status == 403


def test_every_field_has_a_label_and_forms_work_from_the_keyboard(page: Page, console: str) -> None:
    act_as(page, console, "ada")
    for path in PAGES:
        page.goto(console + path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden')
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
    # Find an account using only the keyboard: Tab to the field, type, Enter
    page.goto(console + "/accounts")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "q":
            break
    else:
        pytest.fail("the search field cannot be reached with Tab")
    page.keyboard.type(STOPPED[0])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/accounts/demo/{STOPPED[0]}$"))
    # Pause a channel from the keyboard, then resume it
    page.goto(console + "/channels")
    page.get_by_label("Reason").first.focus()
    page.keyboard.type("carrier maintenance window")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Channel paused")
    expect(page.locator("h2", has_text="sms")).to_contain_text("paused")
    snapshot(page, "channels")
    page.get_by_label("Reason").first.fill("maintenance over")
    page.get_by_role("button", name="Resume sms").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Channel resumed")


def test_a_390_pixel_screen_never_scrolls_sideways(browser: Browser, console: str) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        act_as(page, console, "bo")
        for path in PAGES:
            page.goto(console + path)
            wide = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 0, (path, wide)
        page.goto(console + "/replies")
        snapshot(page, "replies")
        for path, name in (("/suppressions", "suppressions"), ("/uploads", "uploads")):
            page.goto(console + path)
            snapshot(page, name)
    finally:
        context.close()


def test_a_viewer_reads_the_kpis_experiments_and_capacity_plan(page: Page, console: str) -> None:
    act_as(page, console, "vic")
    page.get_by_role("link", name="KPIs").click()
    expect(page.get_by_role("heading", name="KPIs", exact=True)).to_be_visible()
    cure_rate = page.locator("[data-kpi=cure_rate]")
    expect(cure_rate).to_contain_text("Cured accounts divided by accounts")
    expect(cure_rate.locator("strong")).to_have_text(re.compile(r"^\d+\.\d%$"))
    by_rung = page.get_by_role("table", name=re.compile("Payments after each rung"))
    expect(by_rung.locator("tbody tr")).not_to_have_count(0)
    snapshot(page, "kpis")
    page.get_by_role("link", name="Experiments").click()
    expect(page.get_by_role("heading", name="Experiments", exact=True)).to_be_visible()
    # The demo's accounts are outside the pilot segment: no experiment has accounts
    expect(page.get_by_text("No account has joined a running experiment yet.")).to_be_visible()
    page.get_by_role("link", name="Capacity plan").click()
    expect(page.get_by_test_id("plan-state")).to_have_text("Fits")
    expect(page.get_by_role("table", name=re.compile("per channel"))).to_contain_text("sms")
    snapshot(page, "plan")


def test_an_experiment_s_results_read_on_a_390_pixel_screen(
    browser: Browser, demo: tuple[LocalWorld, Path], tmp_path: Path
) -> None:
    # The demo's accounts join no experiment: an example experiment's outcomes, one of its
    # variants stopped by a guardrail, read through the same pages
    world, out = demo
    arms = {"current": (400, 80), "email-first": (380, 95)}
    write_outcomes(
        tmp_path / EXPERIMENTS_CSV,
        [
            Outcome(f"{variant}-{i}", EXPERIMENT, variant, "hash", i < cured, False, False)
            for variant, (accounts, cured) in arms.items()
            for i in range(accounts)
        ],
    )
    DynamoExperimentTally(world.settings.accounts_table).stop(
        "demo", EXPERIMENT, "email-first", "opt_out_rate 8/380 >= 0.02"
    )
    reports = replace(demo_reports(world, out), folder=tmp_path)
    server = LocalConsole(local_app(world_services(world, reports=reports), "vic"))
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        with server.running() as url:
            page.goto(url + "experiments")
            row = page.locator("tr[data-variant=email-first]")
            expect(row).to_contain_text("stopped: opt_out_rate 8/380 >= 0.02")
            expect(row).to_contain_text("25.0%")  # 95 of 380
            expect(page.locator("tr[data-variant=current]")).to_contain_text("taking accounts")
            wide = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 0, wide
            snapshot(page, "experiments")
    finally:
        context.close()


@dataclass
class ComputedOnSecondAsk:
    """KPIs still being computed when first asked for, then the demo run's."""

    reports: OutcomeReports
    asked: int = 0

    def kpis(self) -> dict[str, Any]:
        self.asked += 1
        if self.asked == 1:
            raise ReportPending("Athena is computing these figures.")
        return self.reports.kpis()

    def experiments(self) -> dict[str, Any]:
        return self.reports.experiments()

    def plan(self) -> dict[str, Any]:
        return self.reports.plan()


def test_kpis_being_computed_reload_by_themselves_until_they_are_shown(
    page: Page, demo: tuple[LocalWorld, Path]
) -> None:
    # As in AWS while Athena runs the queries: the page says so and reloads itself (a meta
    # refresh: the CSP allows no inline script), then shows the figures
    world, out = demo
    reports = ComputedOnSecondAsk(demo_reports(world, out))
    server = LocalConsole(local_app(world_services(world, reports=reports), "vic"))
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text))
    with server.running() as url:
        page.goto(url + "kpis")
        expect(page.get_by_test_id("pending")).to_contain_text("Athena is computing")
        cure_rate = page.locator("[data-kpi=cure_rate] strong")
        expect(cure_rate).to_have_text(
            re.compile(r"^\d+\.\d%$"), timeout=(REFRESH_SECONDS + 10) * 1000
        )
    assert reports.asked == 2
    assert not [text for text in refused if "Content Security Policy" in text]


def test_an_upload_s_reject_report_downloads(page: Page, console: str) -> None:
    act_as(page, console, "bo")
    page.goto(console + "/uploads")
    row = page.get_by_role("row", name=re.compile(r"^accounts\.csv"))
    expect(row).to_contain_text("15")  # rows
    with page.expect_download() as started:
        row.get_by_role("link", name=re.compile("Download")).click()
    download = started.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    assert "D-1007" in text and "phone" in text
