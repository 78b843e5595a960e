"""Template lint (docs/compliance.md): each rule fires when it should and only then."""

from __future__ import annotations

import pytest

from functions.core.errors import ConfigError
from functions.core.lenders import LenderConfig, load_lender
from functions.core.lint import LintResult, Severity, lint_template, load_lint_rules, profile_for
from functions.core.templates import MessageTemplate, discover, load, parse_template
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")
COLLECTOR = DEMO.model_copy(update={"third_party_collector": True})
SHIPPED = discover(PROJECT_ROOT / "templates" / "messages")
GOOD_US_SMS = (
    "{{ company_name }}: {{ greeting }} pay at {{ payment_link }}. {{ optout_instruction }}"
)
GOOD_CN_SMS = (
    "【{{ company_name }}】{{ greeting }}请通过{{ payment_link }}还款。{{ optout_instruction }}"
)
GOOD_HTML = '<p>{{ company_name }}</p><a href="{{ unsubscribe_url }}">x</a>'
GOOD_TEXT = "{{ company_name }} {{ unsubscribe_url }}"


def sms(body: str, locale: str = "en-US", front: str = "") -> MessageTemplate:
    return parse_template("t", "sms", locale, f"---\npurpose: test\n{front}---\n{body}\n")


def email(html: str = GOOD_HTML, text: str = GOOD_TEXT, front: str = "") -> MessageTemplate:
    source = f"---\npurpose: test\nsubject: Hello\n{front}---\n{html}\n---text---\n{text}\n"
    return parse_template("t", "email", "en-US", source)


def lint(template: MessageTemplate, lender: LenderConfig = DEMO) -> LintResult:
    return lint_template(template, lender=lender, profile_name=profile_for(template))


def rules_hit(result: LintResult) -> set[str]:
    return {f.rule for f in result.findings}


@pytest.mark.parametrize("lender", [DEMO, COLLECTOR], ids=["first_party", "third_party"])
@pytest.mark.parametrize("file", SHIPPED, ids=lambda f: f"{f.template_id}.{f.channel}.{f.locale}")
def test_lint_template_every_shipped_template_is_clean(file, lender) -> None:
    # Given a shipped default template / When linted for its profile
    result = lint(load(file), lender)
    # Then it has no errors; a first-party lender's also has no warnings (≤ 2 SMS segments)
    assert result.errors == []
    if not lender.third_party_collector:
        assert result.findings == []


def test_lint_template_third_party_sms_warns_about_cost_only() -> None:
    # Given the day-1 Chinese SMS with the collector disclosure it must carry
    result = lint(
        load(
            next(
                f
                for f in SHIPPED
                if f.template_id == "reminder_day1"
                and f.channel.value == "sms"
                and f.locale == "zh-CN"
            )
        ),
        COLLECTOR,
    )
    # Then the extra segment is a warning, never an error
    assert result.ok and rules_hit(result) == {"segments"}


def test_lint_template_result_carries_rules_version_and_profile() -> None:
    result = lint(sms(GOOD_US_SMS))
    assert result.to_dict() == {
        "rules_version": load_lint_rules().version,
        "profile": "US",
        "ok": True,
        "findings": [],
    }


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        (sms("Hi, pay at {{ payment_link }}. {{ optout_instruction }}"), "sender_identity"),
        (email(html='<p>Hi</p><a href="{{ unsubscribe_url }}">x</a>'), "sender_identity"),
        (sms("{{ company_name }}: please pay at {{ payment_link }}."), "optout"),
        (email(html="<p>{{ company_name }}</p>"), "optout"),
        (email(text="{{ company_name }} unsubscribe by replying"), "optout"),
        (
            sms(
                "{{ greeting }}请通过{{ payment_link }}还款。{{ company_name }} 回复TD退订", "zh-CN"
            ),
            "cn_signature",
        ),
        (sms("【{{ company_name }}】请还款。Reply STOP to opt out", "zh-CN"), "optout"),
        (sms(GOOD_US_SMS + " {{ account_number }}"), "undefined_variable"),
        (sms(GOOD_US_SMS + " {{ unsubscribe_url }}"), "undefined_variable"),
        (sms(GOOD_US_SMS + "{% for x in y %}{% endfor %}"), "syntax"),
        (sms(GOOD_US_SMS + " See https://evil.example/win"), "link_domain"),
        (sms(GOOD_US_SMS + " See www.evil.example"), "link_domain"),
        (email(html=GOOD_HTML + '<a href="http://bit.ly/x">x</a>'), "link_domain"),
        (
            sms(GOOD_US_SMS + "{% if third_party_collector %} https://evil.example{% endif %}"),
            "link_domain",
        ),
    ],
)
def test_lint_template_required_content_rule_fires(template: MessageTemplate, rule: str) -> None:
    # Given a template missing something its profile requires (or adding a bad link)
    result = lint(template)
    # Then that rule reports an error naming the file
    errors = [f for f in result.errors if f.rule == rule]
    assert errors and errors[0].file == "t/" + template.file.split("/")[1]
    assert not result.ok


@pytest.mark.parametrize(
    "template",
    [
        sms(GOOD_US_SMS),
        sms("{{ company_name }}: pay at {{ payment_link }}. Reply STOP to opt out."),  # literal
        sms(GOOD_US_SMS + " Help: https://demo-finance.example/help"),  # allowed domain
        sms(GOOD_US_SMS + " https://www.pay.demo-finance.example/x"),  # allowed subdomain
        sms(GOOD_CN_SMS, "zh-CN"),
        sms(GOOD_US_SMS.replace("{{ optout_instruction }}", "Responda STOP para salir."), "es-US"),
        email(),
    ],
)
def test_lint_template_required_content_present_is_clean(template: MessageTemplate) -> None:
    # Given a template carrying identity, opt-out, signature and only allowed links
    # Then nothing is reported
    assert lint(template).findings == []


@pytest.mark.parametrize(
    ("body", "locale", "rule"),
    [
        ("You will be arrested if you do not pay.", "en-US", "forbidden.threat"),
        ("Pay or face WAGE GARNISHMENT.", "en-US", "forbidden.threat"),
        ("We may file a lawsuit.", "en-US", "forbidden.legal_action"),
        ("Your case goes to court.", "en-US", "forbidden.legal_action"),
        ("This is the law firm handling your file.", "en-US", "forbidden.impersonation"),
        ("Pay now, deadbeat.", "en-US", "forbidden.insult"),
        ("We will ruin your credit.", "en-US", "forbidden.credit_threat"),
        ("We will tell your employer.", "en-US", "forbidden.third_party_disclosure"),
        ("Irá a la cárcel.", "es-US", "forbidden.threat"),
        ("否则爆通讯录。", "zh-CN", "forbidden.third_party_disclosure"),
        ("老赖请还款。", "zh-CN", "forbidden.insult"),
        ("逾期将被列入黑名单。", "zh-CN", "forbidden.credit_threat"),
        ("后果自负。", "zh-CN", "forbidden.threat"),
        ("可以借钱还款。", "zh-CN", "forbidden.pressure"),
        ("我们将向法院起诉。", "zh-CN", "forbidden.legal_action"),
    ],
)
def test_lint_template_forbidden_wording_fires(body: str, locale: str, rule: str) -> None:
    # Given an otherwise good template with a threat, insult or impersonation in it
    base = GOOD_CN_SMS if locale == "zh-CN" else GOOD_US_SMS
    result = lint(sms(base + " " + body, locale))
    # Then the category is reported as an error
    assert rule in {f.rule for f in result.errors}


def test_lint_template_forbidden_words_hidden_in_an_untaken_branch_are_found() -> None:
    # Given a threat only a third-party lender's borrowers would see, linted for a first party
    template = sms(GOOD_US_SMS + "{% if third_party_collector %} Police will visit.{% endif %}")
    # Then the source check still finds it
    assert "forbidden.threat" in rules_hit(lint(template))


def test_lint_template_whole_words_only_for_latin_terms() -> None:
    # Given words that contain forbidden terms without being them
    template = sms(GOOD_US_SMS + " We pursue a courteous, polite issue resolution; warranty.")
    # Then nothing is forbidden ("sue", "court", "warrant" are not there as words)
    assert lint(template).findings == []


def test_lint_template_legal_action_flag_permits_lawsuit_wording_only() -> None:
    # Given lawsuit wording in a template that declares the action intended
    flagged = sms(GOOD_US_SMS + " We may file a lawsuit.", front="legal_action_intended: true\n")
    threat = sms(GOOD_US_SMS + " You may be arrested.", front="legal_action_intended: true\n")
    # Then the lawsuit wording passes, a threat of arrest still does not
    assert lint(flagged).findings == []
    assert "forbidden.threat" in rules_hit(lint(threat))


@pytest.mark.parametrize(
    ("initial", "text", "ok"),
    [
        (True, "This is an attempt to collect a debt; information obtained will be used.", True),
        (True, "This message is from a debt collector.", False),
        (False, "This message is from a debt collector.", True),
        (False, "Please pay.", False),
    ],
)
def test_lint_template_collector_disclosure_for_third_party_lenders(
    initial: bool, text: str, ok: bool
) -> None:
    # Given an SMS with (or without) the 1006.18(e) disclosure of its kind
    front = f"initial_contact: {'true' if initial else 'false'}\n"
    template = sms(GOOD_US_SMS + " " + text, front=front)
    # When linted for a third-party collector and for a first-party lender
    collector, lender = lint(template, COLLECTOR), lint(template, DEMO)
    # Then only the collector needs it, and the right kind of it
    assert ("collector_disclosure" not in rules_hit(collector)) is ok
    assert "collector_disclosure" not in rules_hit(lender)


def test_lint_template_email_disclosure_needed_in_both_parts() -> None:
    disclosure = "This communication is from a debt collector."
    only_text = email(text=GOOD_TEXT + " " + disclosure)
    both = email(html=GOOD_HTML + f"<p>{disclosure}</p>", text=GOOD_TEXT + " " + disclosure)
    assert "collector_disclosure" in rules_hit(lint(only_text, COLLECTOR))
    assert lint(both, COLLECTOR).findings == []


def test_lint_template_segments_warn_above_the_profile_maximum() -> None:
    # Given an SMS that renders to three GSM-7 parts (the US maximum is 2)
    long = sms(GOOD_US_SMS + " " + "Please pay. " * 25)
    result = lint(long)
    # Then a warning (not an error) names the count
    assert [(f.rule, f.severity) for f in result.findings] == [("segments", Severity.WARNING)]
    assert "3 GSM-7 segments" in result.findings[0].message and result.ok


def test_lint_template_warns_when_a_stray_character_forces_ucs2() -> None:
    # Given an English SMS with a typographic apostrophe
    result = lint(sms("{{ company_name }}: it’s due. {{ optout_instruction }}"))
    # Then the cost surprise is reported, naming the character
    assert [f.rule for f in result.findings] == ["encoding"]
    assert "’" in result.findings[0].message


def test_profile_for_uses_front_matter_then_locale_region() -> None:
    assert profile_for(sms(GOOD_US_SMS, "es-US")) == "US"
    assert profile_for(sms(GOOD_CN_SMS, "zh-CN")) == "CN"
    assert profile_for(sms(GOOD_CN_SMS, "zh-CN", front="profile: US\n")) == "US"
    with pytest.raises(ConfigError, match="GB"):
        profile_for(sms(GOOD_US_SMS, "en-GB"))


def test_lint_template_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="XX"):
        lint_template(sms(GOOD_US_SMS), lender=DEMO, profile_name="XX")


def push(
    body: str, title: str = "{{ company_name }}: payment due", locale: str = "en-US"
) -> MessageTemplate:
    return parse_template(
        "t", "push", locale, f'---\npurpose: test\ntitle: "{title}"\n---\n{body}\n'
    )


PUSH_OK = "{{ company_name }}: {{ greeting }} your payment is past due. {{ optout_instruction }}"


def test_lint_template_push_with_company_and_optout_is_clean() -> None:
    assert lint(push(PUSH_OK)).findings == []


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        (push("{{ company_name }}: your payment is past due."), "optout"),
        (push("Your payment is past due. {{ optout_instruction }}"), "sender_identity"),
        (push(PUSH_OK + " " + "Please pay today. " * 10), "length"),
        (push(PUSH_OK, title="{{ company_name }}: " + "a very long title " * 4), "length"),
        (push(PUSH_OK + " {{ unsubscribe_url }}"), "undefined_variable"),
    ],
    ids=["no_optout", "no_company", "body_too_long", "title_too_long", "no_unsubscribe_link"],
)
def test_lint_template_push_rules_fire(template: MessageTemplate, rule: str) -> None:
    assert rule in rules_hit(lint(template))
