"""Rendering: golden messages per locale, variables, strictness and the sandbox."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from functions.core.lenders import load_lender
from functions.core.lint import SAMPLE_NOW, sample_variables
from functions.core.models import Account, Channel
from functions.core.render import (
    RenderedMessage,
    RenderError,
    build_variables,
    render_message,
)
from functions.core.templates import (
    MessageTemplate,
    TemplateError,
    content_hash,
    discover,
    load,
    parse_template,
)
from functions.settings import PROJECT_ROOT

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "templates"
SHIPPED = discover(PROJECT_ROOT / "templates" / "messages")
DEMO = load_lender(PROJECT_ROOT, "demo")
COLLECTOR = DEMO.model_copy(update={"third_party_collector": True})
# Regenerate after an intended wording change: RUNG_UPDATE_GOLDEN=1 pytest tests/unit/test_render.py
UPDATE = os.environ.get("RUNG_UPDATE_GOLDEN") == "1"


def sms(body: str) -> MessageTemplate:
    return parse_template("t", "sms", "en-US", f"---\npurpose: test\n---\n{body}\n")


def email(
    html: str, text: str = "text {{ unsubscribe_url }}", subject: str = "s"
) -> MessageTemplate:
    source = f'---\npurpose: test\nsubject: "{subject}"\n---\n{html}\n---text---\n{text}\n'
    return parse_template("t", "email", "en-US", source)


def account(**changes: object) -> Account:
    base: dict[str, object] = {
        "lender_id": "demo",
        "account_id": "A1",
        "phone": "+14155550123",
        "amount_due": Decimal("1234.5"),
        "currency": "USD",
        "due_date": date(2026, 9, 15),
        "first_name": "Ana",
        "locale": "en-US",
    }
    return Account.model_validate({**base, **changes})


def variables(**changes: object) -> dict[str, object]:
    return build_variables(
        account(**changes),
        DEMO,
        unsubscribe_url="https://u.example/x",
        now=datetime(2026, 9, 22, 15, tzinfo=UTC),
    )


def golden_text(message: RenderedMessage) -> str:
    return (
        f"subject: {message.subject}\nencoding: {message.encoding}\n"
        f"segments: {message.segments}\n--- text ---\n{message.text}\n"
        + (f"--- html ---\n{message.html}" if message.html is not None else "")
    )


@pytest.mark.parametrize("lender", [DEMO, COLLECTOR], ids=["first_party", "third_party"])
@pytest.mark.parametrize("file", SHIPPED, ids=lambda f: f"{f.template_id}.{f.channel}.{f.locale}")
def test_render_message_matches_golden_per_locale(file, lender) -> None:
    # Given a shipped template and the fixed sample account of its locale
    template = load(file)
    # When rendered for a first-party lender and for a third-party collector
    message = render_message(template, sample_variables(template, lender))
    # Then the words are exactly the reviewed golden message
    party = "third_party" if lender.third_party_collector else "first_party"
    path = GOLDEN / f"{file.template_id}.{file.channel.value}.{file.locale}.{party}.txt"
    if UPDATE:
        path.write_text(golden_text(message), encoding="utf-8")
    assert golden_text(message) == path.read_text(encoding="utf-8")


def test_golden_files_cover_exactly_the_shipped_templates() -> None:
    # Given the golden folder / Then no golden file outlives its template
    expected = {
        f"{f.template_id}.{f.channel.value}.{f.locale}.{p}.txt"
        for f in SHIPPED
        for p in ("first_party", "third_party")
    }
    assert {p.name for p in GOLDEN.iterdir()} == expected
    assert len(SHIPPED) == 39


def test_render_message_sms_reports_encoding_and_segments() -> None:
    # Given an English and a Chinese SMS
    english = render_message(sms("{{ company_name }} " + "a" * 150), variables())
    chinese = render_message(
        parse_template("t", "sms", "zh-CN", "---\npurpose: t\n---\n【{{ company_name }}】您好\n"),
        variables(),
    )
    # Then each carries its encoding and the parts it is billed as
    assert (english.encoding, english.segments) == ("GSM-7", 2)
    assert (chinese.encoding, chinese.segments) == ("UCS-2", 1)
    assert chinese.text == "【Demo Finance】您好"


def test_render_message_undefined_variable_is_an_error() -> None:
    # Given a template naming a variable that is not provided / Then rendering refuses
    with pytest.raises(RenderError, match="account_number"):
        render_message(sms("Your account {{ account_number }}"), variables())


def test_render_message_email_without_unsubscribe_url_is_an_error() -> None:
    # Given variables built without an unsubscribe link (as for SMS)
    no_link = build_variables(account(), DEMO, unsubscribe_url=None, now=SAMPLE_NOW)
    # Then an email cannot render: it would have no way to opt out
    # (docs/compliance.md, Opt-out and consent)
    with pytest.raises(RenderError, match="unsubscribe_url"):
        render_message(email("<p>{{ unsubscribe_url }}</p>"), no_link)


def test_render_message_escapes_variables_in_html_only() -> None:
    # Given a first name that carries markup
    values = variables(first_name="<b>Ana</b>")
    # When an email renders it in its subject, HTML and text parts
    message = render_message(
        email(
            "<p>{{ first_name }}</p>",
            "{{ first_name }} {{ unsubscribe_url }}",
            subject="Hi {{ first_name }}",
        ),
        values,
    )
    # Then only the HTML part escapes it; literal markup in the template is kept
    assert message.html == "<p>&lt;b&gt;Ana&lt;/b&gt;</p>\n"
    assert message.text.startswith("<b>Ana</b> ")
    assert message.subject == "Hi <b>Ana</b>"


def test_render_message_allows_if_and_simple_filters() -> None:
    # Given the allowed constructs / When rendered / Then they work as in Jinja
    template = sms(
        "{% if third_party_collector %}A{% elif days_past_due > 3 %}B{% else %}C"
        "{% endif %} {{ company_name|upper }}"
    )
    assert render_message(template, variables()).text == "B DEMO FINANCE"


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ first_name.__class__ }}",
    "{{ first_name|attr('__class__') }}",
    "{{ first_name.format(1) }}",
    "{{ self._TemplateReference__context }}",
    "{{ range(10) }}",
    "{{ 9**9**9 }}",
    "{{ first_name * 100000000 }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% set x = 1 %}",
    "{% macro m() %}{% endmacro %}",
    "{% include 'other' %}",
    "{% extends 'base' %}",
    "{{ first_name|safe }}",
    "{{ [1, 2] }}",
    "{% if %}",
]


@pytest.mark.parametrize("payload", SANDBOX_ESCAPES)
def test_render_message_sandbox_escape_fails_safely(payload: str) -> None:
    # Given a template trying to reach Python internals, loop for ever or bypass escaping
    # When rendered / Then it is refused with a RenderError before anything is evaluated
    with pytest.raises(RenderError):
        render_message(sms(payload), variables())


def test_build_variables_formats_money_and_dates_per_locale() -> None:
    # Given one account rendered in three locales
    values = {
        locale: build_variables(account(locale=locale), DEMO, unsubscribe_url=None, now=SAMPLE_NOW)
        for locale in ("en-US", "es-US", "zh-CN")
    }
    # Then Babel formats amount and due date for each
    assert [values[loc]["amount_due"] for loc in values] == [
        "$1,234.50",
        "$1,234.50",
        "US$1,234.50",
    ]
    assert [values[loc]["due_date"] for loc in values] == [
        "Sep 15, 2026",
        "15 sep 2026",
        "2026年9月15日",
    ]
    assert values["en-US"]["amount_due_raw"] == "1234.50"


def test_build_variables_greets_politely_without_a_first_name() -> None:
    # Given accounts without a first name / Then each locale has its own polite fallback
    greetings = [
        build_variables(
            account(first_name=None, locale=loc), DEMO, unsubscribe_url=None, now=SAMPLE_NOW
        )["greeting"]
        for loc in ("en-US", "es-US", "zh-CN")
    ]
    assert greetings == ["Hello,", "Hola:", "您好："]
    assert variables()["greeting"] == "Hi Ana,"


def test_build_variables_optout_instruction_is_per_channel_and_locale() -> None:
    # Given Chinese variables / When an SMS and an email render {{ optout_instruction }}
    values = build_variables(
        account(locale="zh-CN"), DEMO, unsubscribe_url="https://u.example", now=SAMPLE_NOW
    )
    text = render_message(
        parse_template("t", "sms", "zh-CN", "---\npurpose: t\n---\n{{ optout_instruction }}\n"),
        values,
    ).text
    english = render_message(sms("{{ optout_instruction }}"), variables()).text
    mail = render_message(
        email("<p>x</p>", "{{ optout_instruction }} {{ unsubscribe_url }}"), values
    ).text
    # Then each gets the opt-out wording for its channel and language
    assert text == "回复TD退订"
    assert english == "Reply STOP to stop texts to this number."
    assert mail.startswith("如不想再收到此类邮件")


def test_build_variables_days_past_due_counts_in_the_borrowers_zone() -> None:
    # Given 03:00 UTC on 22 Sep, which is still 21 Sep in Los Angeles
    now = datetime(2026, 9, 22, 3, tzinfo=UTC)
    la = build_variables(
        account(timezone="America/Los_Angeles"), DEMO, unsubscribe_url=None, now=now
    )
    utc = build_variables(account(), DEMO, unsubscribe_url=None, now=now)
    # Then the borrower's calendar decides the count
    assert (la["days_past_due"], utc["days_past_due"]) == (6, 7)


def test_build_variables_payment_link_falls_back_to_the_lender_domain() -> None:
    # Given an account with and one without its own payment link
    own = variables(payment_link="https://pay.demo-finance.example/p/A1")["payment_link"]
    fallback = variables()["payment_link"]
    # Then the account's link wins, else the lender's first allowed domain
    assert own == "https://pay.demo-finance.example/p/A1"
    assert fallback == "https://pay.demo-finance.example"
    bare = DEMO.model_copy(update={"allowed_link_domains": []})
    with pytest.raises(RenderError, match="no payment_link"):
        build_variables(account(), bare, unsubscribe_url=None, now=SAMPLE_NOW)


def test_build_variables_unsupported_language_is_an_error() -> None:
    with pytest.raises(RenderError, match="fr-FR"):
        build_variables(account(locale="fr-FR"), DEMO, unsubscribe_url=None, now=SAMPLE_NOW)


@pytest.mark.parametrize("locale", ["zh-XX", "en-"])  # Babel: unknown locale / not a locale id
def test_build_variables_locale_babel_cannot_use_is_an_error_naming_the_account(
    locale: str,
) -> None:
    for _ in range(2):  # the second time too: a failed lookup is not remembered as a success
        with pytest.raises(RenderError, match=f"account A1: unknown locale '{locale}'"):
            build_variables(account(locale=locale), DEMO, unsubscribe_url=None, now=SAMPLE_NOW)


def test_build_variables_optout_instructions_cannot_be_changed_through_one_render() -> None:
    # Given the opt-out sentences one render was given (renders of a locale share them)
    first = build_variables(account(), DEMO, unsubscribe_url=None, now=SAMPLE_NOW)
    optout = first["optout_instruction"]
    assert isinstance(optout, Mapping)
    # Then they are read-only, and the next render gets the same words
    with pytest.raises(TypeError):
        optout[Channel.SMS] = "changed"  # type: ignore[index]
    again = build_variables(account(), DEMO, unsubscribe_url=None, now=SAMPLE_NOW)
    assert again["optout_instruction"] == optout
    assert optout[Channel.SMS] == "Reply STOP to stop texts to this number."


def test_render_message_sms_turns_babel_no_break_spaces_into_spaces() -> None:
    # Given an amount Babel formats with a no-break space (Spain: "1.234,50 €")
    values = build_variables(
        account(locale="es-ES", currency="EUR"), DEMO, unsubscribe_url=None, now=SAMPLE_NOW
    )
    assert "\u00a0" in str(values["amount_due"])
    template = parse_template("t", "sms", "es-ES", "---\npurpose: t\n---\n{{ amount_due }}\n")
    # When rendered as an SMS / Then it stays GSM-7 (one stray U+00A0 would force UCS-2)
    message = render_message(template, values)
    assert (message.text, message.encoding) == ("1.234,50 €", "GSM-7")


def test_parse_template_refuses_a_source_that_does_not_match_its_version() -> None:
    # Given a stored version whose source was altered afterwards
    source = "---\npurpose: t\n---\nReply STOP\n"
    tampered = source.replace("STOP", "ST0P")
    # Then the words cannot be passed off as the approved version
    assert parse_template("t", "sms", "en-US", source, content_hash(source)).version
    with pytest.raises(TemplateError, match="hashes to"):
        parse_template("t", "sms", "en-US", tampered, content_hash(source))


@pytest.mark.parametrize(
    ("name", "source", "reason"),
    [
        ("sms.en-US.txt", "no front matter\n", "front matter block"),
        ("sms.en-US.txt", "---\npurpose: t\nbody\n", "not closed"),
        ("sms.en-US.txt", "---\npurpose: t\nsubject: x\n---\nhi\n", "no subject"),
        ("sms.en-US.txt", "---\npurpose: t\ncolour: red\n---\nhi\n", "colour"),
        ("sms.en-US.txt", "---\nsubject: [\n---\nhi\n", "not valid YAML"),
        ("email.en-US.html", "---\npurpose: t\n---\n<p>x</p>\n---text---\nx\n", "subject"),
        ("email.en-US.html", "---\npurpose: t\nsubject: s\n---\n<p>x</p>\n", "---text---"),
        ("sms.english.txt", "---\npurpose: t\n---\nhi\n", "locale"),
        ("sms.en-US.html", "---\npurpose: t\n---\nhi\n", ".txt"),
        ("fax.en-US.txt", "---\npurpose: t\n---\nhi\n", "unknown channel"),
    ],
)
def test_discover_names_the_file_and_the_reason(
    tmp_path: Path, name: str, source: str, reason: str
) -> None:
    # Given one malformed or misnamed template file
    (tmp_path / "reminder_x").mkdir()
    (tmp_path / "reminder_x" / name).write_text(source, encoding="utf-8")
    # When discovered and parsed / Then the error names the file and says why
    with pytest.raises(TemplateError, match=reason) as caught:
        for file in discover(tmp_path):
            load(file)
    assert f"reminder_x/{name}" in str(caught.value)


def test_discover_accepts_a_root_a_template_folder_or_one_file() -> None:
    root = PROJECT_ROOT / "templates" / "messages"
    assert len(discover(root)) == 39
    assert {f.locale for f in discover(root / "reminder_day1")} == {"en-US", "es-US", "zh-CN"}
    one = discover(root / "reminder_day1" / "sms.zh-CN.txt")
    assert [(f.template_id, f.channel, f.locale) for f in one] == [
        ("reminder_day1", Channel.SMS, "zh-CN")
    ]
