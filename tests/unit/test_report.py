"""`rung simulate` outputs: messages.csv, summary.json, report.html
(docs/design.md, Simulator outputs)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from functions.core.lenders import UnitPrices
from functions.core.models import (
    Account,
    AccountStatus,
    AuditRecord,
    Channel,
    Decision,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from rung.engine import ScriptedReply, SimulationResult
from rung.report import CSV_COLUMNS, summarize, write_outputs
from rung.report_page import TIMELINE_ACCOUNTS, SentCounts, hour_chart, render_report

START = datetime(2026, 12, 1, tzinfo=UTC)
PRICES = UnitPrices(
    currency="USD",
    sms_segment=Decimal("0.00581"),
    email=Decimal("0.0001"),
    sfn_transition=Decimal("0.000025"),
)
CHINESE_BODY = "【示例金融】王先生您好，您的账单¥1,200.00已逾期1天，请尽快还款。回复TD退订"
FORMULA_BODY = '=HYPERLINK("http://evil.example/x","Pay now") Demo Finance. Reply STOP to stop.'
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def utc(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def account(account_id: str, **fields: object) -> Account:
    values: dict[str, object] = {
        "lender_id": "demo",
        "account_id": account_id,
        "amount_due": Decimal("120.00"),
        "currency": "USD",
        "due_date": date(2026, 12, 1),
        "locale": "en-US",
        "cycle": "2026-12-01",
    }
    values.update(fields)
    return Account.model_validate(values)


def record(
    account_id: str, rung: int, channel: Channel, decision: Decision, at: datetime, **fields: object
) -> AuditRecord:
    values: dict[str, object] = {
        "lender_id": "demo",
        "account_id": account_id,
        "cycle": "2026-12-01",
        "rung": rung,
        "channel": channel,
        "decision": decision,
        "at_utc": at,
        "profile": "US",
        "template_id": f"tpl_{rung}",
        "template_version": f"v{rung}",
    }
    values.update(fields)
    return AuditRecord.model_validate(values)


def local(at: datetime, offset_hours: int) -> str:
    return at.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def build_result() -> SimulationResult:
    """Four accounts: US (SMS+email, one quiet-hours deferral), Chinese (STOP), formula, claim."""
    ann = account("A1", phone="+14155550123", email="ann@example.com", first_name="Ann")
    wang = account("C2", phone="+8613800138000", email="wang@example.cn", locale="zh-CN")
    eve = account("H3", phone="+12065550188", email="eve@example.com")
    paid = account("P4", phone="+13125550100", status=AccountStatus.PAYMENT_CLAIMED)
    records = [
        record(
            "C2",
            0,
            Channel.SMS,
            Decision.SENT,
            utc(2, 2),
            at_local=local(utc(2, 2), 8),
            profile="CN",
            address_masked="+8*******8000",
            segments=2,
            body=CHINESE_BODY,
        ),
        record(
            "A1",
            0,
            Channel.SMS,
            Decision.SENT,
            utc(2, 18),
            at_local=local(utc(2, 18), -8),
            address_masked="+1******0123",
            segments=1,
            body="Hi Ann, your payment of $120.00 is 1 day late. Demo Finance. Reply STOP",
        ),
        record(
            "H3",
            0,
            Channel.SMS,
            Decision.SENT,
            utc(2, 18),
            at_local=local(utc(2, 18), -8),
            address_masked="+1******0188",
            segments=1,
            body=FORMULA_BODY,
        ),
        record(
            "P4",
            0,
            Channel.SMS,
            Decision.SUPPRESSED,
            utc(2, 16),
            reason="payment_claimed",
            at_local=local(utc(2, 16), -6),
            address_masked="+1******0100",
        ),
        record(
            "C2",
            1,
            Channel.EMAIL,
            Decision.SUPPRESSED,
            utc(4, 2),
            reason="opted_out",
            at_local=local(utc(4, 2), 8),
            profile="CN",
            address_masked="w***@example.cn",
        ),
        record(
            "A1",
            1,
            Channel.EMAIL,
            Decision.DEFERRED,
            utc(4, 5),
            reason="quiet_hours",
            at_local=local(utc(4, 5), -8),
            address_masked="a***@example.com",
            deferred_until=utc(4, 16),
        ),
        record(
            "A1",
            1,
            Channel.EMAIL,
            Decision.SENT,
            utc(4, 16),
            at_local=local(utc(4, 16), -8),
            address_masked="a***@example.com",
            body="Dear Ann, a reminder from Demo Finance.",
        ),
        record(
            "H3",
            1,
            Channel.EMAIL,
            Decision.SUPPRESSED,
            utc(4, 18),
            reason="template_not_approved",
            at_local=local(utc(4, 18), -8),
            address_masked="e***@example.com",
        ),
    ]
    stop = Suppression(
        channel=Channel.SMS,
        address="+8613800138000",
        scope=SuppressionScope.ALL,
        source=SuppressionSource.REPLY,
        at=utc(3, 3),
        detail="退订",
    )
    bounce = Suppression(
        channel=Channel.EMAIL,
        address="eve@example.com",
        source=SuppressionSource.BOUNCE,
        at=utc(9, 0),
    )
    paid_reply = ScriptedReply(
        at=utc(3, 1), sender="+14155550123", channel=Channel.SMS, text="I paid"
    )
    return SimulationResult(
        records=records,
        accounts=[ann, wang, eve, paid],
        suppressions=[stop, bounce],
        rows=5,
        rows_rejected=1,
        replies=[(paid_reply, "payment_claim")],
        engine="fast",
        sfn_transitions=40,  # as the engine counted them
    )


def never_quiet(record: AuditRecord, account: Account) -> bool:
    return False


def no_blackout(record: AuditRecord, account: Account) -> str | None:
    return None


def written_messages(folder: Path, result: SimulationResult) -> Path:
    """messages.csv as `rung simulate` writes it (with summary.json and report.html)."""
    out = folder / "out"
    write_outputs(
        out,
        result,
        PRICES,
        in_quiet_hours=never_quiet,
        on_blackout_day=no_blackout,
        start=START,
        days=10,
    )
    return out / "messages.csv"


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def assert_cell(actual: str, raw: str) -> None:
    """A plain cell is written as is; a cell that starts like a formula is neutralised."""
    if raw.startswith(FORMULA_TRIGGERS):
        assert not actual.startswith(FORMULA_TRIGGERS), actual
        assert raw in actual
    else:
        assert actual == raw


def test_messages_csv_columns_and_rows_exact(tmp_path: Path) -> None:
    # Given a simulation with sends, a deferral and suppressions
    result = build_result()

    # When messages.csv is written
    path = written_messages(tmp_path, result)

    # Then the header is the contract's, in order, with one row per decision
    rows = read_rows(path)
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[0] == [
        "account_id",
        "rung",
        "channel",
        "template_id",
        "template_version",
        "decision",
        "reason",
        "at_utc",
        "at_local",
        "profile",
        "address_masked",
        "segments",
        "body",
        "experiment",
        "variant",
    ]
    assert len(rows) - 1 == 8
    expected = [
        [
            "C2",
            "1",
            "sms",
            "tpl_0",
            "v0",
            "SENT",
            "",
            "2026-12-02T02:00:00Z",
            "2026-12-02T10:00:00+08:00",
            "CN",
            "+8*******8000",
            "2",
            CHINESE_BODY,
        ],
        [
            "A1",
            "1",
            "sms",
            "tpl_0",
            "v0",
            "SENT",
            "",
            "2026-12-02T18:00:00Z",
            "2026-12-02T10:00:00-08:00",
            "US",
            "+1******0123",
            "1",
            "Hi Ann, your payment of $120.00 is 1 day late. Demo Finance. Reply STOP",
        ],
        [
            "H3",
            "1",
            "sms",
            "tpl_0",
            "v0",
            "SENT",
            "",
            "2026-12-02T18:00:00Z",
            "2026-12-02T10:00:00-08:00",
            "US",
            "+1******0188",
            "1",
            FORMULA_BODY,
        ],
        [
            "P4",
            "1",
            "sms",
            "tpl_0",
            "v0",
            "SUPPRESSED",
            "payment_claimed",
            "2026-12-02T16:00:00Z",
            "2026-12-02T10:00:00-06:00",
            "US",
            "+1******0100",
            "0",
            "",
        ],
        [
            "C2",
            "2",
            "email",
            "tpl_1",
            "v1",
            "SUPPRESSED",
            "opted_out",
            "2026-12-04T02:00:00Z",
            "2026-12-04T10:00:00+08:00",
            "CN",
            "w***@example.cn",
            "0",
            "",
        ],
        [
            "A1",
            "2",
            "email",
            "tpl_1",
            "v1",
            "DEFERRED",
            "quiet_hours",
            "2026-12-04T05:00:00Z",
            "2026-12-03T21:00:00-08:00",
            "US",
            "a***@example.com",
            "0",
            "",
        ],
        [
            "A1",
            "2",
            "email",
            "tpl_1",
            "v1",
            "SENT",
            "",
            "2026-12-04T16:00:00Z",
            "2026-12-04T08:00:00-08:00",
            "US",
            "a***@example.com",
            "0",
            "Dear Ann, a reminder from Demo Finance.",
        ],
        [
            "H3",
            "2",
            "email",
            "tpl_1",
            "v1",
            "SUPPRESSED",
            "template_not_approved",
            "2026-12-04T18:00:00Z",
            "2026-12-04T10:00:00-08:00",
            "US",
            "e***@example.com",
            "0",
            "",
        ],
    ]
    # None of these accounts is in an experiment: experiment and variant are empty.
    expected = [[*row, "", ""] for row in expected]
    for actual_row, raw_row in zip(rows[1:], expected, strict=True):
        assert len(actual_row) == len(raw_row)
        for actual, raw in zip(actual_row, raw_row, strict=True):
            assert_cell(actual, raw)


def test_messages_csv_formula_body_neutralised_and_bom_written(tmp_path: Path) -> None:
    # Given a body a lender file could carry that Excel would run as a formula
    # When messages.csv is written
    path = written_messages(tmp_path, build_result())

    # Then the file starts with a UTF-8 BOM (Excel and Chinese text) and the body cell is inert
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert CHINESE_BODY.encode("utf-8") in raw
    body = read_rows(path)[3][CSV_COLUMNS.index("body")]
    assert body != FORMULA_BODY
    assert not body.startswith("=")
    assert FORMULA_BODY in body


def test_summarize_counts_match_hand_computed_numbers() -> None:
    # Given the hand-built simulation
    result = build_result()

    # When it is summarised
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    # Then every number matches what the records say
    assert summary["accounts"] == 4
    assert (summary["rows"], summary["rows_rejected"]) == (5, 1)
    assert summary["decisions"] == {"SENT": 4, "DEFERRED": 1, "SUPPRESSED": 3, "UNCERTAIN": 0}
    assert summary["sent"] == {
        "total": 4,
        "by_channel": {"sms": 3, "email": 1, "push": 0},
        "by_day_utc": {
            "2026-12-02": {"sms": 3, "email": 0, "push": 0},
            "2026-12-04": {"sms": 0, "email": 1, "push": 0},
        },
    }
    assert summary["deferred"] == {
        "decisions": 1,
        "rungs": 1,
        "by_reason": {"quiet_hours": 1},
    }
    # A1's and H3's first SMS went out in the same second (2 December, 18:00 UTC)
    assert summary["peak_per_second"] == {"sms": 2, "email": 1, "push": 0}
    assert summary["ladders_failed"] == 0
    assert summary["suppressed"] == {
        "total": 3,
        "by_reason": {"payment_claimed": 1, "opted_out": 1, "template_not_approved": 1},
    }
    # The bounce is a suppression but not an opt-out.
    assert summary["opt_outs"] == {"total": 1, "by_channel": {"sms": 1}, "by_scope": {"all": 1}}
    # P4 by status, A1 by its "I paid" reply.
    assert summary["payment_claims"] == {"accounts": 2, "replies": 1}
    assert summary["sms_segments"] == {"total": 4, "by_encoding": {"GSM-7": 2, "UCS-2": 2}}
    cost = summary["estimated_cost"]
    # The transitions the engine counted; 40 × US$0.000025.
    assert (cost["sfn_transitions"], cost["ladder_executions"]) == (40, 4)
    assert cost["sms"] == pytest.approx(0.02324)
    assert cost["email"] == pytest.approx(0.0001)
    assert cost["step_functions"] == pytest.approx(0.001)
    assert cost["total"] == pytest.approx(0.02434)
    assert cost["currency"] == "USD"
    assert "every retry of a Task" in cost["formula"]
    assert summary["invariants"] == {
        "sends_in_quiet_hours": 0,
        "sends_on_blackout_days": 0,
        "sends_after_opt_out": 0,
        "double_sends": 0,
    }
    assert all(not listed for listed in summary["invariant_violations"].values())


def test_summarize_double_send_listed_with_masked_address() -> None:
    # Given the same SMS rung sent twice to A1
    result = build_result()
    result.records.append(
        record(
            "A1",
            0,
            Channel.SMS,
            Decision.SENT,
            utc(3, 18),
            address_masked="+1******0123",
            segments=1,
            body="again",
        )
    )

    # When it is summarised
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    # Then the counter is 1 and the violation is listed, with no full phone number
    assert summary["invariants"]["double_sends"] == 1
    [listed] = summary["invariant_violations"]["double_sends"]
    assert listed["account_id"] == "A1"
    assert (listed["rung"], listed["channel"], listed["at_utc"]) == (
        1,
        "sms",
        "2026-12-03T18:00:00Z",
    )
    assert "+14155550123" not in json.dumps(summary)


def test_summarize_violations_listed_at_most_twenty() -> None:
    # Given 25 extra sends of the same rung
    result = build_result()
    result.records.extend(
        record("A1", 0, Channel.SMS, Decision.SENT, utc(5, 0) + timedelta(minutes=n))
        for n in range(25)
    )

    # When it is summarised
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    # Then all 25 are counted and the first 20 listed
    assert summary["invariants"]["double_sends"] == 25
    assert len(summary["invariant_violations"]["double_sends"]) == 20


def test_summarize_quiet_hours_callable_decides_the_counter() -> None:
    # Given a quiet-hours rule that calls 10:00 in Shanghai quiet (a stand-in for the real one)
    result = build_result()
    seen: list[tuple[str, str]] = []

    def shanghai_ten_is_quiet(record: AuditRecord, account: Account) -> bool:
        seen.append((record.account_id, account.account_id))
        return record.profile == "CN"

    # When it is summarised
    summary = summarize(
        result, PRICES, in_quiet_hours=shanghai_ten_is_quiet, on_blackout_day=no_blackout
    )

    # Then only the CN send is counted, and only sends were asked about, each with its account
    assert summary["invariants"]["sends_in_quiet_hours"] == 1
    assert summary["invariant_violations"]["sends_in_quiet_hours"][0]["account_id"] == "C2"
    assert sorted(seen) == [("A1", "A1"), ("A1", "A1"), ("C2", "C2"), ("H3", "H3")]


def test_write_outputs_writes_three_files_and_returns_summary(tmp_path: Path) -> None:
    # Given the hand-built simulation
    result = build_result()
    out = tmp_path / "out" / "demo"

    # When the outputs are written
    summary = write_outputs(
        out,
        result,
        PRICES,
        in_quiet_hours=never_quiet,
        on_blackout_day=no_blackout,
        start=START,
        days=10,
        allowed_window=(time(8), time(21)),
    )

    # Then the directory holds the three files and summary.json is the returned summary
    assert sorted(p.name for p in out.iterdir()) == ["messages.csv", "report.html", "summary.json"]
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["period"] == {"start": "2026-12-01T00:00:00Z", "days": 10}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert CHINESE_BODY[:20] in page


def test_report_html_escapes_lender_data() -> None:
    # Given a body and an account id carrying markup from a lender file
    result = build_result()
    result.accounts.append(account("<b>X9</b>", phone="+14155550999"))
    result.records.append(
        record(
            "<b>X9</b>",
            0,
            Channel.SMS,
            Decision.SENT,
            utc(6, 18),
            at_local=local(utc(6, 18), -8),
            body='<script>alert("x")</script><img src=x>',
        )
    )
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    # When the page is rendered
    page = render_report(summary, result, start=START, days=10)

    # Then the markup is shown as text, never interpreted
    assert "<script>alert" not in page
    assert "<img src=x>" not in page
    assert "<b>X9</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x&gt;" in page
    assert "&lt;b&gt;X9&lt;/b&gt;" in page


def test_report_html_plain_reasons_and_quiet_shading() -> None:
    # Given the hand-built simulation and the US window 08:00–21:00
    result = build_result()
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    # When the page is rendered
    page = render_report(summary, result, start=START, days=10, allowed_window=(time(8), time(21)))

    # Then reasons read in plain words and the night hours (21–08) are shaded, in two blocks
    assert "Borrower asked us to stop" in page
    assert "Message text not approved yet" in page
    assert "08:00–21:00" in page
    assert page.count('<rect class="quiet"') == 2
    assert "quiet hours 00:00–08:00" in page
    assert "quiet hours 21:00–00:00" in page


def test_report_html_timeline_capped_for_large_runs() -> None:
    # Given more accounts than the timeline shows
    result = build_result()
    extra = TIMELINE_ACCOUNTS + 5 - len(result.accounts)
    result.accounts.extend(account(f"Z{n:04d}", phone="+14155550000") for n in range(extra))
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    # When the page is rendered
    page = render_report(summary, result, start=START, days=10)

    # Then only the first TIMELINE_ACCOUNTS are shown, and the page says where the rest are
    assert page.count("<details") == TIMELINE_ACCOUNTS
    assert f"Showing the first {TIMELINE_ACCOUNTS} of {TIMELINE_ACCOUNTS + 5} accounts" in page
    assert "messages.csv" in page


def test_hour_chart_partly_allowed_hour_is_shaded() -> None:
    # Given a window opening at 07:30 (the 07:00 hour is only partly allowed)
    # When the time-of-day chart is laid out
    chart = hour_chart(SentCounts.of(build_result().records), (time(7, 30), time(21)))

    # Then the quiet blocks are 00:00–08:00 and 21:00–24:00
    assert [shade.title for shade in chart.shades] == [
        "quiet hours 00:00–08:00",
        "quiet hours 21:00–00:00",
    ]


def test_the_page_lists_at_most_rows_listed_replies_and_says_how_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rung.report_page as page

    monkeypatch.setattr(page, "ROWS_LISTED", 1)
    result = build_result()
    result.replies = result.replies * 3
    summary = summarize(result, PRICES, in_quiet_hours=never_quiet, on_blackout_day=no_blackout)

    html = render_report(summary, result, start=START, days=10)

    assert "Showing the first 1 of 3 replies." in html
    assert html.count('data-label="Received"') == 1
