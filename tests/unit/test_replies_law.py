"""Reading a borrower's reply where a mistake changes what happens to her
(functions/core/replies.py): our own quoted "Reply STOP" must never opt her out, her own
words between quotes must still count, and a payment claim under an opt-out is kept.
"""

from __future__ import annotations

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
