"""Reading a borrower's reply where a mistake changes what happens to her
(functions/core/replies.py): our own quoted "Reply STOP" must never opt her out, her own
words between quotes must still count, and a payment claim under an opt-out is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.core.errors import ConfigError
from functions.core.replies import (
    Intent,
    load_reply_rules,
    read_reply,
    reply_locale,
    strip_quoted,
)
from functions.settings import PROJECT_ROOT

RULES = load_reply_rules(PROJECT_ROOT)


def test_replies_email_answer_between_quoted_lines_is_kept() -> None:
    # Given a reply written between the lines of our quoted reminder (interleaved quoting)
    body = (
        "> Your payment of $245.50 is overdue.\nStop emailing me\n> Reply STOP to opt out.\nThanks"
    )
    # Then her own lines are read, the quoted ones are not
    assert strip_quoted(body, RULES) == "Stop emailing me\nThanks"


def test_replies_indented_quote_is_still_a_quote() -> None:
    body = "Thanks, paid today\n   > Reply STOP to stop emails.\n\t> STOP"
    assert strip_quoted(body, RULES) == "Thanks, paid today"
    assert read_reply(strip_quoted(body, RULES), RULES).intent is Intent.PAYMENT_CLAIM


def test_replies_history_after_the_quote_header_is_dropped_even_unquoted() -> None:
    body = "ok\n\nOn Mon, Dec 1, 2026 at 10:00 AM Demo Finance wrote:\nReply STOP to opt out."
    assert strip_quoted(body, RULES) == "ok"
    assert read_reply(strip_quoted(body, RULES), RULES).intent is Intent.OTHER


def test_replies_opt_out_with_a_payment_claim_keeps_the_claim() -> None:
    reading = read_reply("STOP I already paid", RULES)
    assert reading.intent is Intent.OPT_OUT
    assert reading.payment_claimed and not reading.wrong_number


def test_replies_wrong_number_is_reported_as_such() -> None:
    reading = read_reply("wrong number", RULES)
    assert reading.wrong_number and not reading.payment_claimed


def test_replies_payment_claim_alone_is_a_claim() -> None:
    reading = read_reply("I paid", RULES)
    assert (reading.intent, reading.payment_claimed) == (Intent.PAYMENT_CLAIM, True)


def test_replies_confirmation_locale_is_the_first_of_the_accounts_locales() -> None:
    assert reply_locale("STOP", ["zh-CN", "en-US"], "es-US") == "en-US"
    assert reply_locale("退订", [], "en-US") == "zh-CN"
    assert reply_locale("STOP", [], "es-US") == "es-US"


def test_replies_short_words_are_not_stretched_into_an_opt_out() -> None:
    # "stp" is too short to read as a misspelt STOP; "stopp" is long enough
    assert read_reply("stp", RULES).intent is Intent.OTHER
    assert read_reply("stopp", RULES).intent is Intent.OPT_OUT


# -- a broken rules file is refused with the reason, before any reply is misread ---------------


def rules_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "replies.yaml").read_text(encoding="utf-8"))
    change(raw)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "replies.yaml").write_text(
        yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8"
    )
    return tmp_path


def refusal(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_reply_rules(rules_with(tmp_path, change))
    return str(raised.value)


def test_replies_confirmation_missing_a_language_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, lambda raw: raw["confirmations"]["help"].pop("es-US"))
    assert "missing locale(s) es-US" in message


def test_replies_chinese_confirmation_without_signature_names_the_rule(tmp_path: Path) -> None:
    def unsigned(raw: dict[str, Any]) -> None:
        raw["confirmations"]["help"]["zh-CN"]["sms"] = "如需帮助请联系 ${support}。"

    assert "zh-CN sms must start with the 【${company}】 signature" in refusal(tmp_path, unsigned)


def test_replies_keyword_of_punctuation_only_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, lambda raw: raw["help"]["keywords"].append("?!"))
    assert "keyword '?!' is empty once normalised" in message


def test_replies_phrase_that_is_not_text_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, lambda raw: raw["help"]["phrases"].append(42))
    assert "phrase must be a regular expression string, got 42" in message


def test_replies_invalid_phrase_names_the_expression(tmp_path: Path) -> None:
    message = refusal(tmp_path, lambda raw: raw["help"]["phrases"].append("(open"))
    assert "invalid regular expression '(open'" in message


def test_replies_empty_confirmation_text_is_refused(tmp_path: Path) -> None:
    def empty(raw: dict[str, Any]) -> None:
        raw["confirmations"]["help"]["en-US"]["sms"] = "   "

    assert "confirmation text must be non-empty text" in refusal(tmp_path, empty)


def test_replies_unknown_placeholder_is_named(tmp_path: Path) -> None:
    def owed(raw: dict[str, Any]) -> None:
        raw["confirmations"]["help"]["en-US"]["sms"] = "${company}: owe ${amount}"

    assert "unknown placeholder 'amount' in '${company}: owe ${amount}'" in refusal(tmp_path, owed)


def test_replies_phrase_written_in_capitals_still_matches(tmp_path: Path) -> None:
    def shouted(raw: dict[str, Any]) -> None:
        raw["help"]["phrases"].append("WHO IS THIS COMPANY")

    rules = load_reply_rules(rules_with(tmp_path, shouted))
    assert read_reply("who is this company?", rules).intent is Intent.HELP


def test_replies_multi_word_keyword_is_kept_as_words() -> None:
    # "opt out" in the rules file matches the two words, not "optout" glued
    assert read_reply("opt out", RULES).intent is Intent.OPT_OUT
