"""Template lint verdicts a lender relies on before approving content (functions/core/lint.py):
a link to a look-alike domain, an SMS that offers an email unsubscribe link, a threat written
twice, and the stored result that says whether the template may be approved.
"""

from __future__ import annotations

from functions.core.lenders import load_lender
from functions.core.lint import LintResult, Severity, lint_template, profile_for
from functions.core.templates import MessageTemplate, parse_template
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")  # allowed: pay.demo-finance.example, demo-finance.example
OPTOUT = "{{ optout_instruction }}"


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
    assert findings(sms(body)) == [
        ("forbidden.threat", "forbidden threat wording 'jail' (in the template)")
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
