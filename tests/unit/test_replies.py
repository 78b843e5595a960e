"""How Rung reads borrower replies (docs/compliance.md, Opt-out and consent; user stories 6–7): a
table of real-world replies in English, Chinese and Spanish, then the rules file itself and email
text handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from functions.core.errors import ConfigError
from functions.core.replies import (
    ConfirmationKind,
    Intent,
    load_reply_rules,
    read_reply,
    reply_locale,
    strip_quoted,
)
from functions.optout.aws_events import html_to_text
from functions.settings import PROJECT_ROOT

RULES = load_reply_rules(PROJECT_ROOT)

# The table of real-world replies lives in tests/data/replies_table.yaml (test_reply_table.py).


@pytest.mark.parametrize("text", ["yes", "YES!", "Yes", "y"])
def test_read_reply_yes_after_opt_out_is_opt_in(text: str) -> None:
    # Given the sender opted out before, When they answer YES, Then they opt back in
    assert read_reply(text, RULES, opted_out=True).intent is Intent.OPT_IN


def test_read_reply_opt_out_wins_over_start_in_one_message() -> None:
    # Given a confused message with both words, Then the conservative reading wins
    assert read_reply("start? no STOP", RULES).intent is Intent.OPT_OUT


def test_read_reply_records_which_rule_decided() -> None:
    assert read_reply("STOP", RULES).matched == "keyword:stop"
    assert read_reply("STOPP", RULES).matched == "fuzzy:stop"
    assert read_reply("Cancle", RULES).matched == "fuzzy:cancel"
    assert read_reply("End these messages", RULES).matched == "revocation:end"


def test_read_reply_names_rules_version_and_normalised_text() -> None:
    # Given a disguised STOP (Cyrillic look-alikes, a zero-width space, letter-spacing)
    reading = read_reply("Ѕ Т\u200b О Р", RULES)
    # Then the result says what the rules read and which rules file decided
    assert (reading.intent, reading.normalised, reading.rules_version) == (
        Intent.OPT_OUT,
        "stop",
        RULES.version,
    )


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("I'm not going to stop paying", True),  # negator before, no messaging word after
        ("I won't stop", True),
        ("why won't you stop texting me", False),  # "texting" after: a revocation
        ("stop paying", False),  # no negator: over-honoured as an opt-out
    ],
)
def test_negation_rule(text: str, negated: bool) -> None:
    reading = read_reply(text, RULES)
    assert (reading.intent is Intent.OTHER) == negated
    assert reading.matched.startswith("negated:") == negated


# --- the rules file ---------------------------------------------------------------------------


def _copy_rules(tmp_path: Path, edit: dict[str, object]) -> Path:
    (tmp_path / "config").mkdir()
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "replies.yaml").read_text(encoding="utf-8"))
    raw.update(edit)
    (tmp_path / "config" / "replies.yaml").write_text(
        yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8"
    )
    return tmp_path


def test_reply_rules_keywords_are_configuration_not_code(tmp_path: Path) -> None:
    # Given a deployment that adds a keyword in config/replies.yaml
    rules = load_reply_rules(PROJECT_ROOT)
    opt_out = rules.opt_out.model_dump() | {
        "keywords": [*rules.opt_out.keywords, "BASTA"],
        "phrases": [],
        "exceptions": [],
    }
    root = _copy_rules(tmp_path, {"opt_out": opt_out})
    # When the rules are loaded from that file, Then the new word opts out
    assert read_reply("basta", load_reply_rules(root)).intent is Intent.OPT_OUT
    assert read_reply("basta", RULES).intent is Intent.OTHER


def test_reply_rules_bad_regex_is_a_config_error_naming_it(tmp_path: Path) -> None:
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "replies.yaml").read_text(encoding="utf-8"))
    raw["help"]["phrases"] = ["(unclosed"]
    root = _copy_rules(tmp_path, {"help": raw["help"]})
    with pytest.raises(ConfigError, match=r"\(unclosed"):
        load_reply_rules(root)


def test_reply_rules_unquoted_yes_keyword_is_refused(tmp_path: Path) -> None:
    # Given YAML's bare YES (read as a boolean) in a keyword list
    root = tmp_path
    (root / "config").mkdir()
    text = (PROJECT_ROOT / "config" / "replies.yaml").read_text(encoding="utf-8")
    (root / "config" / "replies.yaml").write_text(
        text.replace('after_opt_out: ["YES", "Y", "SI"]', "after_opt_out: [YES]"), encoding="utf-8"
    )
    # Then loading fails instead of silently matching the word "true"
    with pytest.raises(ConfigError, match="quote it in YAML"):
        load_reply_rules(root)


def test_reply_rules_cn_sms_confirmation_needs_signature(tmp_path: Path) -> None:
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "replies.yaml").read_text(encoding="utf-8"))
    raw["confirmations"]["help"]["zh-CN"]["sms"] = "如需帮助请联系 ${support}。"
    root = _copy_rules(tmp_path, {"confirmations": raw["confirmations"]})
    with pytest.raises(ConfigError, match="signature"):
        load_reply_rules(root)


def test_reply_rules_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "replies.yaml").read_text(encoding="utf-8"))
    raw["confirmations"]["help"]["en-US"]["sms"] = "${company}: owe ${amount}"
    root = _copy_rules(tmp_path, {"confirmations": raw["confirmations"]})
    with pytest.raises(ConfigError, match="amount"):
        load_reply_rules(root)


def test_reply_rules_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no reply rules"):
        load_reply_rules(tmp_path)


@pytest.mark.parametrize("kind", list(ConfirmationKind))
@pytest.mark.parametrize("locale", ["en-US", "es-US", "zh-CN"])
def test_confirmation_texts_name_the_company_and_never_the_debt(
    kind: ConfirmationKind, locale: str
) -> None:
    texts = RULES.confirmation(kind, locale)
    values = {"company": "Acme Lending", "support": "+1 800 555 0100 / help@acme.example"}
    sms = texts.sms.substitute(values)
    # docs/compliance.md, Message content: sender identity; CN SMS carries the 【signature】
    assert "Acme Lending" in sms
    assert "Acme Lending" in texts.email_text.substitute(values)
    if locale == "zh-CN":
        assert sms.startswith("【Acme Lending】")
    # The sender may be a third party (wrong number): no amount, no "debt"
    assert "$" not in sms.replace("${", "")
    assert "debt" not in sms.lower() and "欠款" not in sms


def test_confirmation_locale_falls_back_by_language_then_english() -> None:
    assert RULES.confirmation(ConfirmationKind.HELP, "zh-TW") is RULES.confirmation(
        ConfirmationKind.HELP, "zh-CN"
    )
    assert RULES.confirmation(ConfirmationKind.HELP, "fr-FR") is RULES.confirmation(
        ConfirmationKind.HELP, "en-US"
    )


def test_reply_locale_prefers_account_then_script_then_lender_default() -> None:
    assert reply_locale("STOP", ["zh-CN"], "en-US") == "zh-CN"
    assert reply_locale("退订", [], "en-US") == "zh-CN"
    assert reply_locale("STOP", [], "es-US") == "es-US"


# --- email text -------------------------------------------------------------------------------


def test_strip_quoted_drops_history_after_on_wrote_and_quote_lines() -> None:
    body = (
        "Please stop.\n> quoted STOP\n\nOn Thu, Dec 3, 2026 at 10:00 AM Demo <a@b.example> "
        "wrote:\nHELP PAID\n"
    )
    assert strip_quoted(body, RULES) == "Please stop."


@pytest.mark.parametrize(
    "marker",
    [
        "-----Original Message-----",
        "From: Demo Finance",
        "发件人：Demo",
        "在 2026年12月3日 写道：",
        "-- ",
    ],
)
def test_strip_quoted_knows_outlook_chinese_and_signature_markers(marker: str) -> None:
    assert strip_quoted(f"已还款\n{marker}\nSTOP", RULES) == "已还款"


def test_quoted_keyword_alone_is_not_read_as_the_reply() -> None:
    # Given a reply whose own text is neutral but which quotes our "Reply STOP" line
    body = "Thanks, will do\n\nOn Mon, Dec 1, 2026 Demo wrote:\n> Reply STOP to stop emails."
    # Then the quoted STOP does not count
    assert read_reply(strip_quoted(body, RULES), RULES).intent is Intent.OTHER


def test_html_to_text_drops_script_and_style_and_keeps_lines() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>STOP</p>"
        "<script>alert('PAID')</script><div>second&nbsp;line</div></body></html>"
    )
    text = html_to_text(html)
    assert "PAID" not in text and "color" not in text
    assert [line for line in text.splitlines() if line] == ["STOP", "second\xa0line"]
