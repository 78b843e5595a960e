"""Template lint verdicts a lender relies on before approving content (functions/core/lint.py):
a link to a look-alike domain, an SMS that offers an email unsubscribe link, a threat written
twice, and the stored result that says whether the template may be approved.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from functions.core.errors import ConfigError
from functions.core.lenders import load_lender
from functions.core.lint import (
    LintResult,
    Severity,
    lint_template,
    load_lint_rules,
    profile_for,
    sample_account,
    sample_variables,
)
from functions.core.templates import MessageTemplate, parse_template
from functions.settings import PROJECT_ROOT

US_RULES = load_lint_rules().profiles["US"]
DEMO = load_lender(PROJECT_ROOT, "demo")  # allowed: pay.demo-finance.example, demo-finance.example
OPTOUT = "{{ optout_instruction }}"


# Every finding names its rule and the rule's legal source (config/lint_rules.yaml).
JAIL_RULE = (
    "rule arrest_jail_criminal: 15 USC 1692e(4), 1692e(7); 12 CFR 1006.18(b); "
    "CBA 2026 guideline (no threats or intimidation)"
)
CREDIT_RULE = (
    "rule credit_threat: 15 USC 1692e(5), 1692e(10); 12 CFR 1006.18(c); "
    "CBA 2026 guideline (no exaggerated credit consequences)"
)


def sms(body: str) -> MessageTemplate:
    return parse_template("t", "sms", "en-US", f"---\npurpose: test\n---\n{body}\n")


def lint(template: MessageTemplate) -> LintResult:
    return lint_template(template, lender=DEMO, profile_name=profile_for(template))


def findings(template: MessageTemplate) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in lint(template).findings]


def test_lint_link_to_a_look_alike_domain_is_refused() -> None:
    body = f"{{{{ company_name }}}}: pay at https://notdemo-finance.example/p. {OPTOUT}"
    assert findings(sms(body)) == [
        (
            "link_domain",
            "link to 'notdemo-finance.example' is not on the lender's allowed_link_domains "
            "['pay.demo-finance.example', 'demo-finance.example']",
        )
    ]


def test_lint_links_on_the_lenders_domains_and_subdomains_pass() -> None:
    body = (
        "{{ company_name }}: https://demo-finance.example/help or "
        f"https://app.pay.demo-finance.example/x or www.demo-finance.example/y {OPTOUT}"
    )
    assert findings(sms(body)) == []


def test_lint_each_foreign_host_is_reported_once_with_www_links_too() -> None:
    body = (
        "{{ company_name }}: https://evil.example/a https://evil.example/b "
        f"www.other.example/c. {OPTOUT}"
    )
    hosts = [message.split("'")[1] for rule, message in findings(sms(body))]
    assert hosts == ["evil.example", "www.other.example"]


def test_lint_sms_cannot_offer_an_unsubscribe_link_instead_of_stop() -> None:
    body = "{{ company_name }}: unsubscribe at {{ unsubscribe_url }}"
    result = findings(sms(body))
    assert ("undefined_variable", "{{ unsubscribe_url }} is not a documented variable") in result


def test_lint_undefined_variables_are_each_named() -> None:
    body = f"{{{{ company_name }}}} {{{{ ssn }}}} {{{{ employer }}}} {OPTOUT}"
    assert findings(sms(body)) == [
        ("undefined_variable", "{{ employer }} is not a documented variable"),
        ("undefined_variable", "{{ ssn }} is not a documented variable"),
    ]


def test_lint_syntax_error_is_reported_alone() -> None:
    result = findings(sms("{{ company_name }} {% if %}"))
    assert [rule for rule, _ in result] == ["syntax"]


def test_lint_threat_written_twice_is_one_finding() -> None:
    body = f"{{{{ company_name }}}}: jail. Yes, jail. {OPTOUT}"
    # One finding, naming the wording, where it was found, the rule and its legal source
    assert findings(sms(body)) == [
        ("forbidden.threat", f"forbidden threat wording 'jail' (in the template; {JAIL_RULE})")
    ]


def test_lint_email_without_the_company_or_unsubscribe_link_says_which_part() -> None:
    source = "---\npurpose: test\nsubject: Hello\n---\n<p>x</p>\n---text---\ny\n"
    template = parse_template("t", "email", "en-US", source)
    assert findings(template) == [
        (
            "sender_identity",
            "the company name 'Demo Finance' must appear in both the text and the HTML part",
        ),
        ("optout", "the text part must show {{ unsubscribe_url }}"),
        ("optout", 'the HTML part must link <a href="{{ unsubscribe_url }}">'),
    ]


def test_lint_result_with_warnings_only_may_be_approved() -> None:
    long = sms("{{ company_name }} reminder text. " * 12 + OPTOUT)
    result = lint(long)
    assert result.ok and result.errors == []
    stored = result.to_dict()
    assert stored["ok"] is True and stored["profile"] == "US"
    assert stored["rules_version"] == result.rules_version
    stored_findings = stored["findings"]
    assert isinstance(stored_findings, list)
    (warning,) = stored_findings
    assert warning["severity"] == Severity.WARNING.value == "warning"
    assert warning["rule"] == "segments" and warning["file"] == "t/sms.en-US.txt"


def test_lint_result_with_an_error_may_not_be_approved() -> None:
    result = lint(sms("{{ company_name }}: pay now."))
    assert not result.ok
    assert [f.rule for f in result.errors] == ["optout"]
    assert result.to_dict()["ok"] is False


# -- the sample borrower every verdict is rendered for ---------------------------------------


def test_lint_sample_borrower_is_long_named_owes_four_digits_and_pays_on_the_lenders_domain() -> (
    None
):
    us = sample_account(DEMO, "en-US")
    assert (us.first_name, us.phone, us.email) == (
        "Alexandra",
        "+14155550123",
        "borrower@example.com",
    )
    assert (us.amount_due, us.currency, us.due_date) == (
        Decimal("1234.56"),
        "USD",
        date(2026, 9, 15),
    )
    assert (us.account_id, us.lender_id) == ("SAMPLE-0001", "demo")
    assert us.payment_link == "https://pay.demo-finance.example/pay/SAMPLE0001"
    cn = sample_account(DEMO, "zh-CN")
    assert (cn.first_name, cn.phone, cn.currency) == ("小明", "+8613800138000", "CNY")
    assert sample_account(DEMO, "es-US").first_name == "Alejandra"


def test_lint_sample_of_a_lender_without_link_domains_has_no_payment_link() -> None:
    bare = DEMO.model_copy(update={"allowed_link_domains": []})
    assert sample_account(bare, "en-US").payment_link is None


def test_lint_sample_is_formatted_in_the_templates_language() -> None:
    template = parse_template("t", "sms", "zh-CN", "---\npurpose: test\n---\nx\n")
    variables = sample_variables(template, DEMO)
    assert (variables["amount_due"], variables["due_date"]) == ("¥1,234.56", "2026年9月15日")


# -- what each finding tells the lender -------------------------------------------------------


def test_lint_sms_findings_say_exactly_what_is_missing() -> None:
    assert findings(sms("Pay at {{ payment_link }}.")) == [
        ("sender_identity", "the company name 'Demo Finance' must appear"),
        ("optout", f"an SMS must say how to opt out: one of {US_RULES.sms_optout_phrases}"),
    ]


def test_lint_segment_warning_names_the_count_encoding_and_profile() -> None:
    long = sms("{{ company_name }} reminder text. " * 12 + OPTOUT)
    assert findings(long) == [
        ("segments", "3 GSM-7 segments with the sample account; the US maximum is 2")
    ]


def test_lint_stray_curly_quote_is_a_warning_that_names_it() -> None:
    result = lint(sms("{{ company_name }}: it’s due. " + OPTOUT))
    assert result.ok
    assert [(f.rule, f.severity, f.message) for f in result.findings] == [
        (
            "encoding",
            Severity.WARNING,
            "characters '’' force UCS-2 (70/67 per segment instead of 160/153)",
        )
    ]


def test_lint_syntax_finding_quotes_the_parser() -> None:
    assert findings(sms("{{ company_name }} {% if %}")) == [
        ("syntax", "template syntax: Expected an expression, got 'end of statement block'")
    ]


def test_lint_template_using_every_variable_is_still_checked_for_links() -> None:
    every = " ".join(
        f"{{{{ {name} }}}}"
        for name in (
            "amount_due",
            "amount_due_raw",
            "company_name",
            "currency",
            "days_past_due",
            "due_date",
            "first_name",
            "greeting",
            "optout_instruction",
            "payment_link",
            "support_email",
            "support_phone",
            "third_party_collector",
        )
    )
    result = findings(sms(every + " https://evil.example/x"))
    assert [rule for rule, _ in result if rule == "link_domain"] == ["link_domain"]


def test_lint_link_assembled_by_the_template_is_checked_as_rendered() -> None:
    body = '{{ company_name }}: https://{{ "evil" }}.example/pay ' + OPTOUT
    assert [m for rule, m in findings(sms(body)) if rule == "link_domain"] == [
        "link to 'evil.example' is not on the lender's allowed_link_domains "
        "['pay.demo-finance.example', 'demo-finance.example']"
    ]


def test_lint_link_without_a_host_is_refused() -> None:
    result = findings(sms("{{ company_name }} https:///x " + OPTOUT))
    assert result[0][1].startswith("link to '' is not on the lender's allowed_link_domains")


def test_lint_forbidden_word_in_the_lenders_own_name_is_found_in_the_rendered_message() -> None:
    jail = DEMO.model_copy(update={"company_name": "Jail Finance"})
    template = sms("{{ company_name }}: pay today. " + OPTOUT)
    result = lint_template(template, lender=jail, profile_name="US")
    assert [(f.rule, f.message) for f in result.findings] == [
        (
            "forbidden.threat",
            f"forbidden threat wording 'jail' (in the rendered message; {JAIL_RULE})",
        )
    ]


def test_lint_legal_action_flag_lifts_that_category_only() -> None:
    # Given a template that may speak of a lawsuit, and also insults and threatens credit
    body = "{{ company_name }}: lawsuit filed. You deadbeat, we will ruin your credit. " + OPTOUT
    template = parse_template(
        "t", "sms", "en-US", f"---\npurpose: test\nlegal_action_intended: true\n---\n{body}\n"
    )
    rules = [rule for rule, _ in findings(template)]
    assert "forbidden.legal_action" not in rules
    assert "forbidden.insult" in rules and "forbidden.credit_threat" in rules


def test_lint_category_name_is_written_in_words() -> None:
    body = "{{ company_name }}: we will ruin your credit. " + OPTOUT
    assert findings(sms(body)) == [
        (
            "forbidden.credit_threat",
            f"forbidden credit threat wording 'ruin your credit' (in the template; {CREDIT_RULE})",
        )
    ]


@pytest.mark.parametrize(
    ("initial", "kind"), [("true", "initial-contact"), ("false", "debt-collector")]
)
def test_lint_third_party_collector_is_told_which_disclosure_is_missing(
    initial: str, kind: str
) -> None:
    disclosures = US_RULES.collector_disclosure
    assert disclosures is not None
    phrases = disclosures.initial_contact if initial == "true" else disclosures.subsequent
    collector = DEMO.model_copy(update={"third_party_collector": True})
    template = parse_template(
        "t",
        "sms",
        "en-US",
        f"---\npurpose: test\ninitial_contact: {initial}\n---\n{{{{ company_name }}}} {OPTOUT}\n",
    )
    result = lint_template(template, lender=collector, profile_name="US")
    assert [(f.rule, f.message) for f in result.findings] == [
        (
            "collector_disclosure",
            f"a third-party collector's message needs the {kind} disclosure (one of {phrases})",
        )
    ]


def test_lint_cn_sms_without_a_signature_is_told_how_to_sign() -> None:
    template = parse_template(
        "t", "sms", "zh-CN", f"---\npurpose: test\n---\n{{{{ company_name }}}}：请还款。{OPTOUT}\n"
    )
    assert ("cn_signature", "a CN SMS must carry a 【signature】, e.g. 【{{ company_name }}】") in (
        findings(template)
    )


def test_lint_several_stray_characters_are_all_named() -> None:
    result = lint(sms("{{ company_name }}: it’s “due”. " + OPTOUT))
    (finding,) = result.findings
    assert finding.message.startswith("characters '’“”' force UCS-2")


def test_lint_template_of_a_region_without_a_profile_says_how_to_fix_it() -> None:
    template = parse_template("t", "sms", "fr-FR", "---\npurpose: test\n---\nx\n")
    with pytest.raises(ConfigError) as raised:
        profile_for(template)
    assert str(raised.value) == (
        "t/sms.fr-FR.txt: no lint profile for region 'FR'; set `profile:` in the front matter "
        "or add the region to config/lint_rules.yaml"
    )


def test_lint_template_that_breaks_on_the_sample_borrower_is_refused_with_the_reason() -> None:
    # Comparing the formatted amount (text) with a number fails when rendered, not when parsed
    body = "{{ company_name }} {% if amount_due > 5 %}big{% endif %} " + OPTOUT
    ((rule, message),) = findings(sms(body))
    assert rule == "render"
    assert message.startswith("cannot render with a sample account: t/sms.en-US.txt: TypeError:")
