"""Forbidden wording: planted violations are caught, clean sentences are not (en, es, zh).

Each case is one sentence added to an otherwise clean SMS template of its locale. `flag` sets
`legal_action_intended` in the front matter; `rule` is the finding expected, None for clean.
"""

from __future__ import annotations

import pytest

from functions.core.lenders import load_lender
from functions.core.lint import lint_template, load_lint_rules, normalise, profile_for, readings
from functions.core.templates import MessageTemplate, parse_template
from functions.settings import PROJECT_ROOT

DEMO = load_lender(PROJECT_ROOT, "demo")
LINK, OPTOUT = "{{ payment_link }}", "{{ optout_instruction }}"
BASE = {
    "en-US": f"{{{{ company_name }}}}: {{{{ greeting }}}} pay at {LINK}. {OPTOUT}",
    "es-US": f"{{{{ company_name }}}}: {{{{ greeting }}}} pague en {LINK}. {OPTOUT}",
    "zh-CN": f"【{{{{ company_name }}}}】{{{{ greeting }}}}请通过{LINK}还款。{OPTOUT}",
}
THREAT, LEGAL, IMPERSONATION = (
    "forbidden.threat",
    "forbidden.legal_action",
    "forbidden.impersonation",
)
DISCLOSURE, VISIT, PRESSURE = (
    "forbidden.third_party_disclosure",
    "forbidden.visit",
    "forbidden.pressure",
)
CREDIT, INSULT = "forbidden.credit_threat", "forbidden.insult"

PLANTED: list[tuple[str, str, bool, str]] = [
    # English: obfuscation
    ("You will be arr3st3d.", "en-US", False, THREAT),
    ("You will go to j a i l.", "en-US", False, THREAT),
    ("You will go to J-A-I-L.", "en-US", False, THREAT),
    ("You will be \u0430rrested.", "en-US", False, THREAT),  # Cyrillic a
    ("You will be &#97;rrested.", "en-US", False, THREAT),  # HTML entity
    ("You will be ar\u200brested.", "en-US", False, THREAT),  # zero-width space
    ("You will be \uff21\uff32\uff32\uff25\uff33\uff34\uff25\uff24.", "en-US", False, THREAT),
    ("We will report you to the p.o.l.i.c.e today.", "en-US", False, THREAT),
    ("Wage g@rnishment starts Monday.", "en-US", False, THREAT),
    ("We will $ue you.", "en-US", False, LEGAL),
    ("Pay now, d3adbeat.", "en-US", False, INSULT),
    ("We will call the police.", "en-US", False, THREAT),
    # English: impersonation is an error even when legal action is intended
    ("This is the Superior Court of Ohio.", "en-US", True, IMPERSONATION),
    ("Message from the police department.", "en-US", True, IMPERSONATION),
    ("A sheriff will serve you papers.", "en-US", True, IMPERSONATION),
    ("We work with a government agency.", "en-US", True, IMPERSONATION),
    ("Court officer notice: pay now.", "en-US", True, IMPERSONATION),
    ("This is the law firm handling your file.", "en-US", True, IMPERSONATION),
    # English: banned practices and word forms
    ("We will tell your employer about this debt.", "en-US", False, DISCLOSURE),
    ("We will contact your family.", "en-US", False, DISCLOSURE),
    ("We will visit you at your home.", "en-US", False, VISIT),
    ("Our agent will come to your workplace.", "en-US", False, VISIT),
    ("Borrow money from a friend to pay us today.", "en-US", False, PRESSURE),
    ("Take out another loan to pay this balance.", "en-US", False, PRESSURE),
    ("We will not hesitate to take legal action.", "en-US", False, LEGAL),
    ("If you do not pay we will sue you.", "en-US", False, LEGAL),
    ("No doubt we will sue you.", "en-US", False, LEGAL),
    ("Your employer will be told.", "en-US", False, DISCLOSURE),
    ("We will ruin your credit.", "en-US", False, CREDIT),
    # Spanish: inflected threats
    ("Embargaremos su salario.", "es-US", False, THREAT),
    ("Vamos a embargar su cuenta.", "es-US", False, THREAT),
    ("Sin embargo, embargaremos su cuenta.", "es-US", False, THREAT),
    ("Le demandaremos mañana.", "es-US", False, LEGAL),
    ("Irá a la cárcel.", "es-US", False, THREAT),
    ("Llamaremos a la policía.", "es-US", False, THREAT),
    ("Le denunciaremos.", "es-US", False, THREAT),
    ("Será deportado.", "es-US", False, THREAT),
    ("Informaremos a su familia de la deuda.", "es-US", False, DISCLOSURE),
    ("Visitaremos su casa esta semana.", "es-US", False, VISIT),
    ("Pida dinero prestado para pagarnos.", "es-US", False, PRESSURE),
    ("Mensaje de parte del juzgado.", "es-US", True, IMPERSONATION),
    ("Nuestro abogado le llamará.", "es-US", False, IMPERSONATION),
    ("Arruinaremos su crédito.", "es-US", False, CREDIT),
    # Chinese: the same bans in Chinese phrasings
    ("否则联系你的通讯录好友。", "zh-CN", False, DISCLOSURE),
    ("我们将通知您的家人。", "zh-CN", False, DISCLOSURE),
    ("我们会联系你单位领导。", "zh-CN", False, DISCLOSURE),
    ("我们将安排上门催收。", "zh-CN", False, VISIT),
    ("催收员将到你家拜访。", "zh-CN", False, VISIT),
    ("再不还款我们就报警。", "zh-CN", False, THREAT),
    ("不还就报警。", "zh-CN", False, THREAT),
    ("不还钱就联系你家人。", "zh-CN", False, DISCLOSURE),
    ("我们会去你公司找你。", "zh-CN", False, VISIT),
    ("我们已向公安机关报案。", "zh-CN", False, THREAT),
    ("建议您以贷养贷。", "zh-CN", False, PRESSURE),
    ("可以找朋友借钱还款。", "zh-CN", False, PRESSURE),
    ("您将收到法院传票。", "zh-CN", True, IMPERSONATION),
    ("本通知由人民法院发出。", "zh-CN", True, IMPERSONATION),
    ("这是政府通知。", "zh-CN", False, IMPERSONATION),
    ("再不还款就报\u200b警。", "zh-CN", False, THREAT),
    ("再不还款就报 警。", "zh-CN", False, THREAT),
    ("請借錢還款。", "zh-CN", False, PRESSURE),  # Traditional characters
    ("我們將通知您的家人。", "zh-CN", False, DISCLOSURE),
]

CLEAN: list[tuple[str, str, bool]] = [
    ("We will not take legal action.", "en-US", False),
    ("We will never contact your family or employer.", "en-US", False),
    ("Hi Sue, your payment is due.", "en-US", False),
    ("Sue can call us any time.", "en-US", False),
    ("Bring a government-issued ID to our office.", "en-US", False),
    ("We do not report to anyone and will not sue you.", "en-US", False),
    ("Our staff are courteous; your warranty is unaffected.", "en-US", False),
    ("Contact your bank if you need help paying.", "en-US", False),
    ("Pay from your home or office.", "en-US", False),
    ("This is not a lawsuit and we are not attorneys.", "en-US", False),
    ("Our privacy policy is on our site.", "en-US", False),
    ("Sin embargo, puede pagar hoy.", "es-US", False),
    ("No tomaremos acciones legales.", "es-US", False),
    ("Nunca contactaremos a su familia.", "es-US", False),
    ("Puede pagar desde su casa.", "es-US", False),
    ("Esta no es una demanda.", "es-US", False),
    ("我们不会联系您的家人。", "zh-CN", False),
    ("我们不会联系您通讯录中的任何人。", "zh-CN", False),
    ("您的借款请及时还款。", "zh-CN", False),
    ("我们不会上门。", "zh-CN", False),
    ("如有疑问请联系我们。", "zh-CN", False),
    # With legal action intended, lawsuit wording is lawful (impersonation never is)
    ("We may file a lawsuit in the county court.", "en-US", True),
    ("Podemos presentar una demanda.", "es-US", True),
    ("我们将向法院起诉。", "zh-CN", True),
]


def template(text: str, locale: str, flag: bool) -> MessageTemplate:
    front = "purpose: test\n" + ("legal_action_intended: true\n" if flag else "")
    return parse_template("t", "sms", locale, f"---\n{front}---\n{BASE[locale]} {text}\n")


def forbidden_rules(text: str, locale: str, flag: bool) -> set[str]:
    t = template(text, locale, flag)
    result = lint_template(t, lender=DEMO, profile_name=profile_for(t))
    return {f.rule for f in result.errors if f.rule.startswith("forbidden.")}


def test_the_table_has_at_least_sixty_cases_in_three_languages() -> None:
    cases = [(text, locale) for text, locale, *_ in [*PLANTED, *CLEAN]]
    assert len(cases) >= 60
    assert {locale for _, locale in cases} == set(BASE)


@pytest.mark.parametrize(("text", "locale", "flag", "rule"), PLANTED)
def test_lint_catches_planted_violation(text: str, locale: str, flag: bool, rule: str) -> None:
    assert rule in forbidden_rules(text, locale, flag)


@pytest.mark.parametrize(("text", "locale", "flag"), CLEAN)
def test_lint_does_not_flag_clean_sentence(text: str, locale: str, flag: bool) -> None:
    assert forbidden_rules(text, locale, flag) == set()


def test_impersonation_findings_name_their_rule_and_source() -> None:
    t = template("This is the Superior Court of Ohio.", "en-US", True)
    result = lint_template(t, lender=DEMO, profile_name=profile_for(t))
    (finding,) = [f for f in result.errors if f.rule == IMPERSONATION]
    assert "court_police_government_impersonation" in finding.message
    assert "1692e(1)" in finding.message


def test_every_rule_cites_its_source() -> None:
    rules = load_lint_rules()
    assert all(rule.source.strip() for rule in rules.forbidden)
    assert not [r.id for r in rules.forbidden if r.category == "impersonation" and r.allowed_by]


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("&#97;rrest", "arrest"),
        ("ar\u200brest", "arrest"),
        ("\u0430rrest", "arrest"),
        ("ＡＲＲＥＳＴ", "arrest"),
        ("Cárcel", "carcel"),
        ("won\u2019t", "wo not"),
    ],
)
def test_normalise(raw: str, plain: str) -> None:
    assert normalise(raw) == plain


def test_readings_join_spaced_letters_and_read_digits_as_letters() -> None:
    assert "you will go to jail" in readings("you will go to j a i l")
    assert "arrested" in readings("arr3st3d")
    assert {"jail", "jall"} <= set(readings("ja1l"))
    # Amounts and plain words are left alone
    assert readings("pay $1,234.56 today") == ("pay $1,234.56 today",)
