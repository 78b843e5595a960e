"""The lender file contract (docs/design.md, Lender file): every row accepted or rejected with row,
field, reason."""

from __future__ import annotations

import codecs
import io
import json
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from functions.core.csv_safety import SafeCsvWriter, neutralise
from functions.core.csv_stream import CHUNK_BYTES
from functions.core.errors import FileRejected
from functions.core.lender_file import (
    FileReport,
    LenderFile,
    RowResult,
    SeenAccounts,
    validate_lender_file,
)
from functions.core.lenders import LenderConfig, load_lender
from functions.core.models import AccountStatus, Channel
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")
HEADER = "account_id,phone,email,amount_due,currency,due_date"


def check(data: str | bytes, lender: LenderConfig = DEMO) -> tuple[list[RowResult], FileReport]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    report = FileReport()
    results = list(validate_lender_file(io.BytesIO(raw), lender, report))
    assert report.rows == report.accepted + report.rejected == len(results)
    return results, report


def only_errors(data: str, lender: LenderConfig = DEMO) -> list[str]:
    (result,), _ = check(data, lender)
    return [str(error) for error in result.errors]


def test_row_valid_e164_phone_is_accepted_with_normalised_fields() -> None:
    results, report = check(
        f"{HEADER},locale\nA1,+1 206 555 0134,Jane@Example.COM,12.5,usd,2026-11-25,en-us\n"
    )
    (result,) = results
    assert result.accepted and report.accepted == 1
    assert result.value is not None
    assert result.value.phone == "+12065550134"
    assert result.value.email == "Jane@example.com"  # domain case is normalised, local part kept
    assert result.value.amount_due == Decimal("12.50")
    assert result.value.currency == "USD"
    assert result.value.locale == "en-US"


def test_row_bad_phone_is_rejected_with_field_and_reason() -> None:
    assert only_errors(f"{HEADER}\nA1,206-555-01,,10,USD,2026-11-25\n") == [
        "phone: not a valid phone number in region US"
    ]


def test_row_phone_without_digits_names_the_parse_failure() -> None:
    assert only_errors(f"{HEADER}\nA1,call me,,10,USD,2026-11-25\n") == [
        "phone: not a phone number (no digits of a number)"
    ]


def test_row_national_phone_is_resolved_by_the_country_column() -> None:
    # Given a Chinese mobile in national format and the lender's default region US
    results, _ = check(f"{HEADER},country\nA1,138 0013 8000,,10,CNY,2026-11-25,cn\n")
    # Then the row's country decides, not the lender's default
    assert results[0].value is not None and results[0].value.phone == "+8613800138000"
    assert results[0].value.country == "CN"
    # And without the country column the same digits are not a US number
    assert only_errors(f"{HEADER}\nA1,138 0013 8000,,10,CNY,2026-11-25\n") == [
        "phone: not a valid phone number in region US"
    ]


def test_row_without_phone_and_email_is_rejected() -> None:
    assert only_errors(f"{HEADER}\nA1,,,10,USD,2026-11-25\n") == [
        "email: phone, email, push_endpoint are all empty: at least one is required"
    ]


def test_row_email_only_is_accepted() -> None:
    results, _ = check(f"{HEADER}\nA1,,a.b@example.com,10,USD,2026-11-25\n")
    assert results[0].accepted


def test_row_bad_email_is_rejected() -> None:
    (error,) = only_errors(f"{HEADER}\nA1,,not-an-email,10,USD,2026-11-25\n")
    assert error.startswith("email: not a valid email address: ")


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("ten", "USD", "amount_due: 'ten' is not a decimal number such as 1234.50"),
        ("-5", "USD", "amount_due: must be greater than 0"),
        ("0", "USD", "amount_due: must be greater than 0"),
        ("1e3", "USD", "amount_due: '1e3' is not a decimal number such as 1234.50"),
        ("NaN", "USD", "amount_due: 'NaN' is not a decimal number such as 1234.50"),
        ("12.345", "USD", "amount_due: has 3 decimal places; USD allows 2"),
        ("100.5", "JPY", "amount_due: has 1 decimal places; JPY allows 0"),
    ],
)
def test_row_bad_amount_is_rejected(amount: str, currency: str, reason: str) -> None:
    assert only_errors(f"{HEADER}\nA1,+12065550134,,{amount},{currency},2026-11-25\n") == [reason]


def test_row_amount_precision_follows_the_currency() -> None:
    # Given Babel's currency digits: JPY has none, KWD has three
    results, _ = check(
        f"{HEADER}\nA1,+12065550134,,1500.00,JPY,2026-11-25\nA2,+12065550135,,1.125,KWD,2026-11-25\n"
    )
    assert [r.value.amount_due for r in results if r.value] == [Decimal("1500"), Decimal("1.125")]


def test_row_bad_currency_is_rejected() -> None:
    assert only_errors(f"{HEADER}\nA1,+12065550134,,10,XYZ,2026-11-25\n") == [
        "currency: 'XYZ' is not an ISO 4217 currency code"
    ]


@pytest.mark.parametrize(
    ("due", "reason"),
    [
        ("11/25/2026", "due_date: '11/25/2026' is not an ISO date (YYYY-MM-DD)"),
        (
            "2026-02-30",
            "due_date: '2026-02-30' is not a calendar date (day is out of range for month)",
        ),
        ("1764028800", "due_date: '1764028800' is not an ISO date (YYYY-MM-DD)"),
    ],
)
def test_row_bad_date_is_rejected(due: str, reason: str) -> None:
    assert only_errors(f"{HEADER}\nA1,+12065550134,,10,USD,{due}\n") == [reason]


def test_row_bad_locale_is_rejected() -> None:
    assert only_errors(f"{HEADER},locale\nA1,+12065550134,,10,USD,2026-11-25,xx-QQ\n") == [
        "locale: 'xx-QQ' is not a known BCP 47 locale such as en-US or zh-CN"
    ]


def test_row_locale_defaults_to_the_lenders() -> None:
    results, _ = check(f"{HEADER}\nA1,+12065550134,,10,USD,2026-11-25\n")
    assert results[0].value is not None
    assert results[0].value.to_account(DEMO).locale == DEMO.default_locale


def test_row_bad_zone_is_rejected() -> None:
    assert only_errors(f"{HEADER},timezone\nA1,+12065550134,,10,USD,2026-11-25,Mars/Olympus\n") == [
        "timezone: 'Mars/Olympus' is not an IANA time zone such as America/New_York"
    ]


def test_row_http_payment_link_is_rejected() -> None:
    assert only_errors(
        f"{HEADER},payment_link\nA1,+12065550134,,10,USD,2026-11-25,http://pay.demo-finance.example/a\n"
    ) == ["payment_link: not an https:// link (URL scheme should be 'https')"]


def test_row_payment_link_outside_the_lenders_domains_is_rejected() -> None:
    assert only_errors(
        f"{HEADER},payment_link\nA1,+12065550134,,10,USD,2026-11-25,https://pay.evil.example/a\n"
    ) == ["payment_link: host pay.evil.example is not one of the lender's allowed_link_domains"]


def test_row_status_is_read_case_insensitively_and_bad_status_rejected() -> None:
    results, _ = check(
        f"{HEADER},status\nA1,+12065550134,,10,USD,2026-11-25,disputed\n"
        "A2,+12065550135,,10,USD,2026-11-25,MAYBE\n"
    )
    assert results[0].value is not None and results[0].value.status is AccountStatus.DISPUTED
    assert str(results[1].errors[0]).startswith("status: Input should be 'ACTIVE'")


def test_row_every_bad_field_is_reported_at_once() -> None:
    errors = only_errors(f"{HEADER}\nA1,12,,x,ZZZ,tomorrow\n")
    assert [error.split(":")[0] for error in errors] == [
        "phone",
        "currency",
        "amount_due",
        "due_date",
    ]


def test_file_duplicate_account_id_rejects_later_rows_naming_the_first() -> None:
    results, report = check(
        f"{HEADER}\nA1,+12065550134,,10,USD,2026-11-25\nA2,+12065550135,,10,USD,2026-11-25\n"
        "A1,+12065550136,,11,USD,2026-11-25\nA1,+12065550137,,12,USD,2026-11-25\n"
    )
    assert [r.accepted for r in results] == [True, True, False, False]
    assert [str(e) for r in results[2:] for e in r.errors] == [
        "account_id: duplicate account_id (first seen in row 2)"
    ] * 2
    assert (report.rows, report.accepted, report.rejected) == (4, 2, 2)


def test_seen_accounts_find_duplicates_within_and_across_batches() -> None:
    with SeenAccounts() as seen:
        # every id new: nothing to report
        assert seen.duplicates(json.dumps([[2, "A1"], [3, "A2"]]), 2) == {}
        # a repeat inside the batch and one of an earlier batch, ids beyond ASCII included
        batch = [[4, "A3"], [5, "A3"], [6, "A1"], [7, "王芳-1"], [8, "王芳-1"]]
        assert seen.duplicates(json.dumps(batch, ensure_ascii=False), 5) == {
            5: ("A3", 4),
            6: ("A1", 2),
            8: ("王芳-1", 7),
        }
        # the first row stays the first, however often the id comes back
        assert seen.duplicates(json.dumps([[9, "A3"]]), 1) == {9: ("A3", 4)}


def test_file_rejected_row_claims_no_account_id() -> None:
    # Given a first row for A1 that is rejected, then a valid one
    results, _ = check(f"{HEADER}\nA1,bad,,10,USD,2026-11-25\nA1,+12065550134,,10,USD,2026-11-25\n")
    # Then the valid one is accepted: the report names the bad row, nothing is merged
    assert [r.accepted for r in results] == [False, True]


def test_file_missing_required_column_is_rejected_whole() -> None:
    with pytest.raises(FileRejected, match=r"missing required column\(s\): amount_due, due_date"):
        check("account_id,phone,currency\nA1,+12065550134,USD\n")


def test_file_without_phone_or_email_column_is_rejected_whole() -> None:
    with pytest.raises(FileRejected, match="phone or email or push_endpoint"):
        check("account_id,amount_due,currency,due_date\nA1,1,USD,2026-11-25\n")


def test_file_two_columns_for_one_field_is_rejected_whole() -> None:
    with pytest.raises(FileRejected, match="both give phone"):
        check(f"{HEADER},手机号\nA1,+12065550134,,10,USD,2026-11-25,+12065550135\n")


def test_file_binary_garbage_is_rejected_whole() -> None:
    garbage = bytes(range(256)) * 10
    with pytest.raises(FileRejected, match="binary data"):
        check(garbage)


def test_file_neither_utf8_nor_gb18030_is_rejected_whole() -> None:
    with pytest.raises(FileRejected, match="neither UTF-8 nor GB18030"):
        check(b"account_id,phone\n\xff\xfe\xfd\xfc\x80\x80\n")


def test_file_utf16_is_rejected_with_advice() -> None:
    with pytest.raises(FileRejected, match="UTF-16"):
        check(HEADER.encode("utf-16"))


def test_file_empty_is_rejected_whole() -> None:
    with pytest.raises(FileRejected, match="the file is empty"):
        check(b"")


def test_file_header_only_has_no_rows() -> None:
    results, report = check(HEADER + "\n")
    assert results == [] and report.rows == 0 and report.file_error == ""


def test_file_with_bom_reads_the_first_column() -> None:
    results, report = check(
        codecs.BOM_UTF8 + f"{HEADER}\nA1,+12065550134,,10,USD,2026-11-25\n".encode()
    )
    assert results[0].accepted and report.encoding == "utf-8"


def test_file_crlf_and_lf_read_the_same() -> None:
    body = f"{HEADER}\nA1,+12065550134,,10,USD,2026-11-25\nA2,bad,,10,USD,2026-11-25\n"
    lf, _ = check(body)
    crlf, _ = check(body.replace("\n", "\r\n"))
    assert crlf == lf


def test_file_crlf_split_across_read_chunks_counts_no_extra_line() -> None:
    # Given a CRLF whose CR ends the first 64 KiB read and whose LF starts the next
    first = f"{HEADER},first_name\r\n"
    prefix = "A00001,+12065550134,,10,USD,2026-11-25,"
    pad = CHUNK_BYTES - len(first) - len(prefix) - 1
    rows = [prefix + "J" * pad + "\r\n", "A00002,+12065550135,,10,USD,2026-11-25,K\r\n"]
    data = (first + "".join(rows)).encode()
    assert data[CHUNK_BYTES - 1 : CHUNK_BYTES + 1] == b"\r\n"
    results, report = check(data)
    assert [r.row for r in results] == [2, 3] and report.blank_lines == 0


def test_file_blank_lines_are_counted_not_rows() -> None:
    results, report = check(f"{HEADER}\n\nA1,+12065550134,,10,USD,2026-11-25\n,,,,,\n")
    assert [r.row for r in results] == [3]
    assert (report.rows, report.blank_lines) == (1, 2)


def test_file_row_numbers_are_physical_lines_with_multiline_cells() -> None:
    results, _ = check(
        f'{HEADER},first_name\nA1,+12065550134,,10,USD,2026-11-25,"Mary\nAnn"\nA2,x,,10,USD,2026-11-25,Bo\n'
    )
    assert [r.row for r in results] == [2, 4]


def test_file_extra_cells_reject_the_row_unless_empty() -> None:
    results, _ = check(
        f"{HEADER}\nA1,+12065550134,,10,USD,2026-11-25,,\nA2,+12065550135,,10,USD,2026-11-25,oops\n"
    )
    assert results[0].accepted
    assert [str(e) for e in results[1].errors] == ["has 7 cells but the header has 6"]


def test_file_gbk_with_chinese_headers_and_names_round_trips() -> None:
    # Given a GBK export with the demo lender's Chinese header aliases
    text = (
        "账号,姓名,手机号,欠款金额,币种,到期日,country\r\n"
        "C-1,张敏,13800138000,1200.00,CNY,2026-11-28,CN\r\n"
    )
    results, report = check(text.encode("gbk"))
    (result,) = results
    assert report.encoding == "gb18030"
    assert result.value is not None
    assert (result.value.account_id, result.value.first_name) == ("C-1", "张敏")
    assert result.value.phone == "+8613800138000"


def test_file_gbk_after_an_ascii_first_chunk_switches_encoding() -> None:
    # Given 64 KiB of ASCII rows before the first Chinese name
    ascii_rows = "".join(
        f"A{i:05d},+1206555{i % 10000:04d},,10,USD,2026-11-25,Bob\n" for i in range(2000)
    )
    data = f"{HEADER},first_name\n{ascii_rows}B1,+12065550100,,10,USD,2026-11-25,王芳\n".encode(
        "gbk"
    )
    assert data[:CHUNK_BYTES].isascii()
    results, report = check(data)
    assert results[-1].value is not None and results[-1].value.first_name == "王芳"
    assert report.encoding == "gb18030"


def test_file_undecodable_row_after_utf8_text_is_rejected_alone() -> None:
    # Given a first read chunk that is UTF-8 with non-ASCII names, then one GBK line
    rows = "".join(
        f"A{i:05d},+1206555{i % 10000:04d},,10,USD,2026-11-25,Zoë\n" for i in range(2000)
    )
    data = f"{HEADER},first_name\n{rows}".encode()
    assert len(data) > CHUNK_BYTES
    data += "B1,+12065550135,,10,USD,2026-11-25,王芳\n".encode("gbk")
    results, report = check(data)
    # Then that line alone is rejected and the file stays UTF-8
    assert all(r.accepted for r in results[:-1]) and results[0].value.first_name == "Zoë"
    assert [str(e) for e in results[-1].errors] == ["holds bytes that are not utf-8 text"]
    assert report.encoding == "utf-8"


def test_file_aliases_map_lender_headers_and_contract_names_ignore_case() -> None:
    lender = DEMO.model_copy(
        update={"header_aliases": {"Mobile No": "phone", "Balance": "amount_due"}}
    )
    results, _ = check(
        "Account_ID,mobile no,CURRENCY,balance,Due_Date\nA1,+12065550134,USD,10,2026-11-25\n",
        lender,
    )
    assert results[0].value is not None and results[0].value.phone == "+12065550134"


def test_file_unknown_columns_are_reported_once() -> None:
    results, report = check(
        f"{HEADER},branch,officer\nA1,+12065550134,,10,USD,2026-11-25,x,y\nA2,+12065550135,,10,USD,2026-11-25,x,y\n"
    )
    assert all(r.accepted for r in results)
    assert report.ignored_columns == ("branch", "officer")


def test_file_resumes_from_a_cursor_with_the_same_results() -> None:
    body = f"{HEADER}\n" + "".join(f"A{i},+1206555{i:04d},,10,USD,2026-11-25\n" for i in range(10))
    whole = list(LenderFile(io.BytesIO(body.encode()), DEMO).results())
    first = LenderFile(io.BytesIO(body.encode()), DEMO)
    head = [result for _, result in zip(range(4), first.results(), strict=False)]
    rest = list(LenderFile(io.BytesIO(body.encode()), DEMO, start=first.cursor).results())
    assert head + rest == whole


def test_neutralise_prefixes_formula_triggers_only() -> None:
    cells = ["=1+1", "+1 206", "-5", "@SUM(A1)", "\tx", "\rx", "＝1", "Jane", "", 5]
    assert [neutralise(c) for c in cells] == [
        "'=1+1",
        "'+1 206",
        "'-5",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "'＝1",
        "Jane",
        "",
        5,
    ]


def test_safe_csv_writer_neutralises_every_string_cell() -> None:
    sink = io.StringIO()
    SafeCsvWriter(sink).writerow([2, '=HYPERLINK("http://x")', "ok"])
    assert sink.getvalue() == '2,"\'=HYPERLINK(""http://x"")",ok\r\n'


ENDPOINT = "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-finance/5e3e9847-3183-3f18"


def test_row_with_only_a_push_endpoint_of_the_lenders_app_is_accepted() -> None:
    results, _ = check(
        f"account_id,push_endpoint,amount_due,currency,due_date\nA1,{ENDPOINT},10,USD,2026-11-25\n"
    )
    (result,) = results
    assert result.accepted and result.value is not None
    assert result.value.to_account(DEMO).push_endpoint == ENDPOINT


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("device-token-abc", "push_endpoint: not an SNS platform endpoint ARN"),
        (
            "arn:aws:sns:us-east-1:123456789012:app/GCM/demo-finance",
            "push_endpoint: not an SNS platform endpoint ARN",
        ),
        (
            ENDPOINT.replace("demo-finance", "other-app"),
            "push_endpoint: the endpoint belongs to no platform application in the lender's "
            "push_applications",
        ),
    ],
)
def test_row_with_a_push_endpoint_rung_cannot_publish_to_is_rejected_with_the_reason(
    endpoint: str, reason: str
) -> None:
    errors = only_errors(f"{HEADER},push_endpoint\nA1,+12065550134,,10,USD,2026-11-25,{endpoint}\n")
    assert [e.split(" (")[0] for e in errors] == [reason]


PREFS = f"{HEADER},contact_hours,do_not_contact_channels,preferred_channel"


def test_row_contact_preferences_are_read_into_preferences_with_their_source() -> None:
    # Given a row saying: contact 18:00-20:00 only, no texts, email preferred
    (result,), _ = check(
        f"{PREFS}\nA1,+12065550134,a@example.com,10,USD,2026-11-25,18:00-20:00,SMS,email\n"
    )
    assert result.value is not None
    received = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # Then they become lender-file preferences, stamped with the time the file was received
    said = result.value.contact_preferences(received)
    assert [(p.rule, p.source, p.at) for p in said] == [
        ("contact_hours", "lender_file", received),
        ("do_not_contact_channels", "lender_file", received),
        ("preferred_channel", "lender_file", received),
    ]
    hours, no_sms, email = said
    assert (hours.not_before, hours.not_after, hours.channel) == (time(18), time(20), None)
    assert (no_sms.channel, no_sms.excluded) == (Channel.SMS, True)
    assert (email.channel, email.preferred) == (Channel.EMAIL, True)


def test_row_without_preference_columns_has_no_preferences() -> None:
    (result,), _ = check(f"{HEADER}\nA1,+12065550134,,10,USD,2026-11-25\n")
    assert result.value is not None
    assert result.value.contact_preferences(datetime(2026, 12, 1, tzinfo=UTC)) == ()


@pytest.mark.parametrize(
    ("cells", "error"),
    [
        ("6pm-8pm,,", "contact_hours: '6pm-8pm' is not local hours such as 18:00-20:00"),
        ("25:00-26:00,,", "contact_hours: '25:00-26:00' holds a time that does not exist"),
        ("20:00-18:00,,", "contact_hours: '20:00-18:00': the start must be before the end"),
        (",fax,", "do_not_contact_channels: 'fax' is not a channel (email, push, sms)"),
        (",,pigeon", "preferred_channel: 'pigeon' is not a channel (email, push, sms)"),
        (",sms,sms", "preferred_channel: sms is also in do_not_contact_channels"),
    ],
)
def test_row_bad_contact_preference_is_rejected_naming_the_field(cells: str, error: str) -> None:
    errors = only_errors(f"{PREFS}\nA1,+12065550134,,10,USD,2026-11-25,{cells}\n")
    assert len(errors) == 1
    assert errors[0].startswith(error)


def test_row_several_channels_not_to_use_are_separated_by_semicolons() -> None:
    (result,), _ = check(f"{PREFS}\nA1,+12065550134,,10,USD,2026-11-25,,sms; email,\n")
    assert result.value is not None
    assert result.value.do_not_contact_channels == (Channel.SMS, Channel.EMAIL)
