"""How Rung reads borrower replies (docs/compliance.md, Opt-out and consent; user stories 6–7): a
table of real-world replies in English, Chinese and Spanish, then the rules file itself and email
text handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from functions.core.errors import ConfigError
from functions.core.inbound import html_to_text
from functions.core.models import Channel, SuppressionScope
from functions.core.replies import (
    ConfirmationKind,
    Intent,
    load_reply_rules,
    read_reply,
    reply_locale,
    strip_quoted,
)
from functions.settings import PROJECT_ROOT

RULES = load_reply_rules(PROJECT_ROOT)

A, C, ALL = SuppressionScope.ADDRESS, SuppressionScope.CHANNEL, SuppressionScope.ALL
OUT, IN, HELP, PAID, OTHER = (
    Intent.OPT_OUT,
    Intent.OPT_IN,
    Intent.HELP,
    Intent.PAYMENT_CLAIM,
    Intent.OTHER,
)

# (reply, intent, scope, channel of a channel-scope opt-out, also)
REPLIES = [
    # Keywords, case and punctuation
    ("STOP", OUT, A, None, ()),
    ("stop", OUT, A, None, ()),
    ("Stop.", OUT, A, None, ()),
    ("STOP!!!", OUT, A, None, ()),
    ("  sToP  ", OUT, A, None, ()),
    ("ＳＴＯＰ", OUT, A, None, ()),  # full-width, as Chinese keyboards type it
    ("🛑 Stop 🛑", OUT, A, None, ()),
    ("STOP 👍", OUT, A, None, ()),
    ("STOPALL", OUT, ALL, None, ()),
    ("End", OUT, A, None, ()),
    ("cancel", OUT, A, None, ()),
    ("QUIT", OUT, A, None, ()),
    ("Unsubscribe", OUT, A, None, ()),
    ("revoke", OUT, A, None, ()),
    ("opt out", OUT, A, None, ()),
    ("Opt-Out", OUT, A, None, ()),
    ("OPTOUT", OUT, A, None, ()),
    ("remove", OUT, A, None, ()),
    ("arret", OUT, A, None, ()),
    ("TD", OUT, A, None, ()),
    ("t", OUT, A, None, ()),
    ("N.", OUT, A, None, ()),
    # Misspellings and leading keywords
    ("STOPP", OUT, A, None, ()),
    ("stopppp", OUT, A, None, ()),
    ("unsubcribe", OUT, A, None, ()),
    ("Cancle", OUT, A, None, ()),
    ("stop pls", OUT, A, None, ()),
    ("Stop it", OUT, A, None, ()),
    ("STOP I already paid", OUT, A, None, ("payment_claim",)),
    ("I paid, now stop.", OUT, A, None, ("payment_claim",)),
    # Free text
    ("please stop texting me", OUT, C, Channel.SMS, ()),
    ("Stop sending me texts", OUT, C, Channel.SMS, ()),
    ("quit emailing me", OUT, C, Channel.EMAIL, ()),
    ("remove me from your list", OUT, A, None, ()),
    ("take me off this list", OUT, A, None, ()),
    ("Don't text me again", OUT, C, Channel.SMS, ()),
    ("do not contact me", OUT, A, None, ()),
    ("don’t contact me at all", OUT, ALL, None, ()),
    ("stop all", OUT, ALL, None, ()),
    ("Stop everything!", OUT, ALL, None, ()),
    ("no more texts or emails", OUT, ALL, None, ()),
    ("leave me alone", OUT, A, None, ()),
    ("Cease and desist all communications", OUT, ALL, None, ()),
    # Wrong number: stops that number only (docs/compliance.md, Who may be contacted)
    ("wrong number", OUT, A, None, ("wrong_number",)),
    ("Wrong number, stop texting", OUT, A, None, ("wrong_number",)),
    ("You have the wrong person", OUT, A, None, ("wrong_number",)),
    ("this is not me", OUT, A, None, ("wrong_number",)),
    ("I don't know who that is", OUT, A, None, ("wrong_number",)),
    ("打错了", OUT, A, None, ("wrong_number",)),
    ("不是我", OUT, A, None, ("wrong_number",)),
    ("我不认识这个人", OUT, A, None, ("wrong_number",)),
    # Chinese opt-outs
    ("退订", OUT, A, None, ()),
    ("退订！", OUT, A, None, ()),
    ("TD退订", OUT, A, None, ()),
    ("停", OUT, A, None, ()),
    ("退出", OUT, A, None, ()),
    ("取消", OUT, A, None, ()),
    ("不要再发了", OUT, A, None, ()),
    ("别再发了", OUT, A, None, ()),
    ("请不要再给我发短信", OUT, C, Channel.SMS, ()),
    ("别发邮件了", OUT, C, Channel.EMAIL, ()),
    ("全部退订", OUT, ALL, None, ()),
    ("停止骚扰", OUT, A, None, ()),
    ("退订，我已经还了", OUT, A, None, ("payment_claim",)),
    # Spanish (es-US borrowers)
    ("ALTO", OUT, A, None, ()),
    ("Ya pagué", PAID, None, None, ()),
    # Opt-in
    ("START", IN, None, None, ()),
    ("unstop", IN, None, None, ()),
    ("Start again please", IN, None, None, ()),
    ("yes", OTHER, None, None, ()),  # YES without a prior opt-out is not an opt-in
    ("Y", OTHER, None, None, ()),
    # Help
    ("HELP", HELP, None, None, ()),
    ("help!", HELP, None, None, ()),
    ("Info", HELP, None, None, ()),
    ("帮助", HELP, None, None, ()),
    # Payment claims
    ("PAID", PAID, None, None, ()),
    ("payed", PAID, None, None, ()),
    ("I paid", PAID, None, None, ()),
    ("I paid yesterday", PAID, None, None, ()),
    ("I've already paid this", PAID, None, None, ()),
    ("made the payment this morning", PAID, None, None, ()),
    ("Payment was sent on Monday", PAID, None, None, ()),
    ("已还", PAID, None, None, ()),
    ("已还款", PAID, None, None, ()),
    ("已还清", PAID, None, None, ()),
    ("已付款", PAID, None, None, ()),
    ("还了", PAID, None, None, ()),
    ("已经还了", PAID, None, None, ()),
    ("我昨天已经还款了", PAID, None, None, ()),
    # Not claims, not opt-outs: other (ops sees them)
    ("I haven't paid yet", OTHER, None, None, ()),
    ("I didn’t pay because I lost my job", OTHER, None, None, ()),
    ("I get paid on Friday", OTHER, None, None, ()),
    ("还没还", OTHER, None, None, ()),
    ("怎么还款？", OTHER, None, None, ()),
    ("who is this?", OTHER, None, None, ()),
    ("Can I pay next week?", OTHER, None, None, ()),
    ("ok", OTHER, None, None, ()),
    ("👍", OTHER, None, None, ()),
    ("", OTHER, None, None, ()),
    ("I'll stop by the branch tomorrow", OTHER, None, None, ()),
    ("Cancelled my card, new one coming", OTHER, None, None, ()),
    ("shop", OTHER, None, None, ()),
    ("Thanks", OTHER, None, None, ()),
]


def test_reply_table_is_large_and_bilingual() -> None:
    """At least 60 real-world replies in English and Chinese."""
    chinese = [r for r in REPLIES if any("\u4e00" <= ch <= "\u9fff" for ch in r[0])]
    assert len(REPLIES) >= 60
    assert len(chinese) >= 20


@pytest.mark.parametrize(
    ("text", "intent", "scope", "channel", "also"),
    REPLIES,
    ids=[r[0] or "<empty>" for r in REPLIES],
)
def test_read_reply_table(
    text: str,
    intent: Intent,
    scope: SuppressionScope | None,
    channel: Channel | None,
    also: tuple[str, ...],
) -> None:
    # Given a borrower reply, When Rung reads it
    reading = read_reply(text, RULES)
    # Then intent, scope, channel and secondary findings are as a person would read them
    assert (reading.intent, reading.scope, reading.channel, reading.also) == (
        intent,
        scope,
        channel,
        also,
    )


@pytest.mark.parametrize("text", ["yes", "YES!", "Yes", "y"])
def test_read_reply_yes_after_opt_out_is_opt_in(text: str) -> None:
    # Given the sender opted out before, When they answer YES, Then they opt back in
    assert read_reply(text, RULES, opted_out=True).intent is Intent.OPT_IN


def test_read_reply_opt_out_wins_over_start_in_one_message() -> None:
    # Given a confused message with both words, Then the conservative reading wins
    assert read_reply("start? no STOP", RULES).intent is Intent.OPT_OUT


def test_read_reply_records_which_rule_decided() -> None:
    assert read_reply("STOP", RULES).matched == "keyword:stop"
    assert read_reply("STOPP", RULES).matched.startswith("phrase:")
    assert read_reply("Cancle", RULES).matched == "fuzzy:cancel"


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
        text.replace('after_opt_out: ["YES", "Y"]', "after_opt_out: [YES]"), encoding="utf-8"
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
