"""Template lint: what a collection message must and must not say, per profile and channel.

Rules (ids as reported):
  syntax              the template parses and uses only the allowed constructs (render.py)
  undefined_variable  every variable is one of the documented set (jinja2.meta over the AST);
                      `unsubscribe_url` exists for email only
  render              the template renders with a sample account of its locale
  sender_identity     the lender's company name appears (SMS text; email text and HTML)
  optout              SMS: an opt-out instruction of the profile; email: the unsubscribe link
                      in both parts (1006.6(e))
  cn_signature        CN SMS: a 【signature】 (and "回复TD退订" via `optout`)
  collector_disclosure  lender.third_party_collector: the initial-contact or the later
                      debt-collector disclosure, by the `initial_contact` flag (1006.18(e))
  forbidden.<category>  threats, impersonation of a court, police, government or attorney,
                      insults, credit threats, third-party disclosure, home/workplace visits,
                      pressure to borrow; `legal_action` only when the template says
                      `legal_action_intended`; impersonation never
  link_domain         every link other than the payment and unsubscribe links is on the
                      lender's allowed_link_domains (or a subdomain)
  segments (warning)  an SMS billed as more parts than the profile's maximum
  encoding (warning)  an SMS without Chinese text forced into UCS-2 by a few characters
                      (a curly quote or an accent outside GSM-7 doubles the cost)

Required content is checked on a sample rendering (so `{{ optout_instruction }}` and literal
text both count, and the lender's flags pick the branch that lender's borrowers will see);
forbidden words are also searched in the source, so a word hidden in an untaken branch is found.
Forbidden wording is matched on normalised readings of the text (`readings`: entities, then
the reply reader's plain text — NFKC, zero-width characters, Traditional Chinese, look-alike
letters, accents, case, spaced-out letters — then digits for letters), by regular-expression
word families per language, and set aside when the clause negates it just before ("We will not
take legal action"). Rules, their sources and numbers live in config/lint_rules.yaml, whose
`version` each result carries.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache, partial
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from functions.core.channels import BodyRule, OptOut, spec
from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError
from functions.core.lenders import LenderConfig
from functions.core.models import Account, Channel
from functions.core.render import (
    VARIABLES,
    RenderedMessage,
    RenderError,
    build_variables,
    locale_texts,
    render_message,
    template_variables,
)
from functions.core.replies import plain_text
from functions.core.segments import encoding_of
from functions.core.shipped import SHIPPED_ROOT
from functions.core.templates import FrontMatter, MessageTemplate


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    file: str | None = None


@dataclass(frozen=True)
class LintResult:
    rules_version: str
    profile: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, object]:
        """The form stored with a template version (`TemplateVersion.lint`) and printed as JSON."""
        return {
            "rules_version": self.rules_version,
            "profile": self.profile,
            "ok": self.ok,
            "findings": [{**asdict(f), "severity": f.severity.value} for f in self.findings],
        }


class Disclosures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_contact: list[str]
    subsequent: list[str]


class ProfileRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sms_optout_phrases: list[str] = Field(min_length=1)
    cn_sms_signature: bool = False
    collector_disclosure: Disclosures | None = None
    max_segments: dict[Channel, int] = Field(default_factory=dict)


class ForbiddenRule(BaseModel):
    """One forbidden practice: word families (regular expressions over `readings`), phrases
    that are not it (`unless`), the law it applies (`source`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z_]+$")
    category: str = Field(pattern=r"^[a-z_]+$")
    source: str = Field(min_length=1)
    allowed_by: str | None = None  # a front-matter flag that makes this wording lawful
    patterns: tuple[str, ...] = Field(min_length=1)
    unless: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _checked(self) -> ForbiddenRule:
        if self.allowed_by is not None and self.allowed_by not in FrontMatter.model_fields:
            raise ValueError(f"{self.id}: allowed_by {self.allowed_by!r} is no front-matter flag")
        if self.category == "impersonation" and self.allowed_by is not None:
            raise ValueError(f"{self.id}: impersonation is never allowed by a flag")
        for pattern in (*self.patterns, *self.unless):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{self.id}: pattern {pattern!r}: {exc}") from exc
        return self


class Negation(BaseModel):
    """What sets a match aside: a negation just before it in the same clause."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cues: tuple[str, ...] = Field(min_length=1)
    window: int = Field(ge=1)
    not_before: tuple[str, ...] = ()
    chinese_cues: tuple[str, ...] = Field(min_length=1)
    chinese_window: int = Field(ge=0)
    chinese_conditions: tuple[str, ...] = ()


class LintRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    region_profiles: dict[str, str]
    profiles: dict[str, ProfileRules]
    negation: Negation
    forbidden: list[ForbiddenRule]


def load_lint_rules(config_root: Path = SHIPPED_ROOT) -> LintRules:
    return _load_lint_rules(config_root.resolve())


@cache
def _load_lint_rules(config_root: Path) -> LintRules:
    path = config_root / "config" / "lint_rules.yaml"
    try:
        return LintRules.model_validate(read_config(path))
    except (OSError, NotYaml, ValidationError) as exc:
        raise ConfigError(f"config/lint_rules.yaml: {exc}") from exc


def profile_for(template: MessageTemplate, rules: LintRules | None = None) -> str:
    """Front matter `profile:` if set, else the profile of the locale's region."""
    rules = rules or load_lint_rules()
    if template.front.profile:
        return template.front.profile
    if template.region not in rules.region_profiles:
        raise ConfigError(
            f"{template.file}: no lint profile for region {template.region!r}; set `profile:` "
            "in the front matter or add the region to config/lint_rules.yaml"
        )
    return rules.region_profiles[template.region]


# A fixed sample, so that lint is deterministic and never reads the clock. Names and a
# four-digit amount are deliberately on the long side for the segment estimate.
SAMPLE_NAMES = {"en": "Alexandra", "es": "Alejandra", "zh": "小明"}
SAMPLE_UNSUBSCRIBE_URL = "https://unsubscribe.example/u/SAMPLE-TOKEN-0123456789abcdef"
SAMPLE_NOW = datetime(2026, 9, 22, 15, 0, tzinfo=UTC)


def sample_account(lender: LenderConfig, locale: str) -> Account:
    language, region = locale.split("-")
    domains = lender.allowed_link_domains
    return Account(
        lender_id=lender.lender_id,
        account_id="SAMPLE-0001",
        phone="+14155550123" if region == "US" else "+8613800138000",
        email="borrower@example.com",
        amount_due=Decimal("1234.56"),
        currency="CNY" if region == "CN" else "USD",
        due_date=date(2026, 9, 15),
        first_name=SAMPLE_NAMES.get(language),
        locale=locale,
        payment_link=f"https://{domains[0]}/pay/SAMPLE0001" if domains else None,
    )


def sample_variables(template: MessageTemplate, lender: LenderConfig) -> dict[str, object]:
    unsubscribe = SAMPLE_UNSUBSCRIBE_URL if spec(template.channel).unsubscribe_link else None
    return build_variables(
        sample_account(lender, template.locale),
        lender,
        unsubscribe_url=unsubscribe,
        now=SAMPLE_NOW,
        locale=template.locale,
    )


def lint_template(
    template: MessageTemplate,
    *,
    lender: LenderConfig,
    profile_name: str,
    rules: LintRules | None = None,
) -> LintResult:
    rules = rules or load_lint_rules()
    if profile_name not in rules.profiles:
        raise ConfigError(f"no lint profile {profile_name!r} in config/lint_rules.yaml")
    check = _Check(template, lender, rules, profile_name)
    check.run()
    return LintResult(rules.version, profile_name, check.findings)


_URL = re.compile(r"(?:https?://|www\.)[^\s\"'<>()]+", re.IGNORECASE)
_SIGNATURE = re.compile(r"【[^【】\s][^【】]*[^【】\s]】")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


_NOT_CONTRACTION = re.compile(r"n't\b")
# Three or more single letters or digits separated by spaces or marks: "j a i l", "j.a.i.l".
_SPACED = re.compile(r"(?<![a-z0-9@$])(?:[a-z0-9@$][ .\-_*·]+){2,}[a-z0-9@$](?![a-z0-9@$])")
_SPACED_CJK = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_MIXED_WORD = re.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")
_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"}
_CLAUSE_END = re.compile(r"[.,;:!?¡¿\n…]|\b(?:but|pero|sino|unless|otherwise|or)\b")
_CJK_CLAUSE_END = re.compile(r"[，。；：！？、,.;:!?\n]")
_WORD = re.compile(r"[a-z']+")


def normalise(text: str) -> str:
    """The text as the reply reader reads a borrower (`replies.plain_text`: NFKC, format
    characters such as zero-width spaces removed, Traditional Chinese as Simplified, look-alike
    letters folded to Latin, accents and case folded, spaced letters joined), with HTML
    entities decoded first and "n't" read as " not"."""
    text = html.unescape(html.unescape(text))  # twice: "&amp;#97;" is an "a" too
    return _NOT_CONTRACTION.sub(" not", plain_text(text))


def readings(text: str) -> tuple[str, ...]:
    """The normalised text, then with spaced-out letters joined, then with digits and
    symbols inside words read as letters ("1" once as "i", once as "l")."""
    base = normalise(text)
    joined = _SPACED.sub(lambda m: re.sub(r"[ .\-_*·]", "", m.group()), base)
    joined = _SPACED_CJK.sub("", joined)
    found = [base, joined]
    for one in ("i", "l"):
        table = str.maketrans({**_LEET, "1": one})
        found.append(_MIXED_WORD.sub(partial(_as_letters, table=table), joined))
    return tuple(dict.fromkeys(found))


def _as_letters(match: re.Match[str], table: dict[int, str]) -> str:
    word = match.group()
    return word if word.isalpha() else word.translate(table)


def _compiled(pattern: str) -> re.Pattern[str]:
    if _CJK.search(pattern):
        return re.compile(pattern)
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)")


@cache
def _rule_patterns(
    rule: ForbiddenRule,
) -> tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]:
    return tuple(map(_compiled, rule.patterns)), tuple(map(_compiled, rule.unless))


class _Negation:
    def __init__(self, negation: Negation) -> None:
        self.cues = frozenset(negation.cues)
        self.window = negation.window
        self.not_before = frozenset(negation.not_before)
        cues = "|".join(sorted(map(re.escape, negation.chinese_cues), key=len, reverse=True))
        conditions = "|".join(map(re.escape, negation.chinese_conditions)) or "(?!)"
        self.chinese = re.compile(
            rf"(?:{cues})(?:(?!{conditions}).){{0,{negation.chinese_window}}}$"
        )

    def negates(self, text: str, match: re.Match[str]) -> bool:
        """True when the clause negates the match just before it."""
        prefix = text[: match.start()]
        if _CJK.search(match.group()):
            return bool(self.chinese.search(_CJK_CLAUSE_END.split(prefix)[-1]))
        clause = _CLAUSE_END.split(prefix)[-1]
        words = [*_WORD.findall(clause)[-self.window :]]
        following = [*words[1:], *_WORD.findall(match.group())[:1]]
        return any(
            word in self.cues and after not in self.not_before
            for word, after in zip(words, following, strict=False)
        )


def violation(rule: ForbiddenRule, texts: tuple[str, ...], negation: _Negation) -> str | None:
    """The first wording in `texts` (readings of one text) that breaks `rule`, if any."""
    patterns, unless = _rule_patterns(rule)
    for text in texts:
        for exception in unless:
            text = exception.sub(lambda m: " " * len(m.group()), text)
        for pattern in patterns:
            for match in pattern.finditer(text):
                if not negation.negates(text, match):
                    return match.group()
    return None


@cache
def _negation(negation: Negation) -> _Negation:
    return _Negation(negation)


class _Check:
    def __init__(
        self, template: MessageTemplate, lender: LenderConfig, rules: LintRules, name: str
    ) -> None:
        self.template = template
        self.lender = lender
        self.rules = rules
        self.profile = rules.profiles[name]
        self.profile_name = name
        self.negation = _negation(rules.negation)
        self.findings: list[Finding] = []
        self.forbidden_seen: set[str] = set()  # rule ids: each reported once

    def add(self, rule: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.findings.append(Finding(rule, severity, message, self.template.file))

    def parts(self) -> list[str]:
        t = self.template
        return [p for p in (t.heading, t.body, t.text) if p is not None]

    def run(self) -> None:
        self.forbidden("\n".join(self.parts()), where="template")
        if not self.variables_ok():
            return
        try:
            variables = sample_variables(self.template, self.lender)
            rendered = render_message(self.template, variables)
        except RenderError as exc:
            self.add("render", f"cannot render with a sample account: {exc}")
            return
        visible = [p for p in (rendered.subject, rendered.text, rendered.html) if p]
        self.forbidden("\n".join(visible), where="rendered message")
        self.required(rendered)
        self.links(rendered, variables)
        self.size(rendered)

    def variables_ok(self) -> bool:
        allowed = set(VARIABLES)
        if not spec(self.template.channel).unsubscribe_link:
            allowed.discard("unsubscribe_url")  # an SMS opts out by reply, a push in settings
        try:
            used = set().union(*(template_variables(part) for part in self.parts()))
        except RenderError as exc:
            self.add("syntax", str(exc))
            return False
        for name in sorted(used - allowed):
            self.add("undefined_variable", f"{{{{ {name} }}}} is not a documented variable")
        return used <= allowed

    def forbidden(self, text: str, *, where: str) -> None:
        texts = readings(text)
        for rule in self.rules.forbidden:
            if rule.allowed_by and getattr(self.template.front, rule.allowed_by, False):
                continue
            if rule.id in self.forbidden_seen:
                continue
            wording = violation(rule, texts, self.negation)
            if wording is None:
                continue
            self.forbidden_seen.add(rule.id)
            self.add(
                f"forbidden.{rule.category}",
                f"forbidden {rule.category.replace('_', ' ')} wording {wording.strip()!r} "
                f"(in the {where}; rule {rule.id}: {rule.source})",
            )

    def required(self, rendered: RenderedMessage) -> None:
        shape = spec(self.template.channel)
        parts = shape.body_rule is BodyRule.PARTS
        bodies = [rendered.text, rendered.html or ""] if parts else [rendered.text]
        company = self.lender.company_name
        if not all(company in body for body in bodies):
            self.add(
                "sender_identity",
                f"the company name {company!r} must appear"
                + (" in both the text and the HTML part" if parts else ""),
            )
        match shape.optout:
            case OptOut.REPLY:
                phrases = self.profile.sms_optout_phrases
                if not any(p.casefold() in rendered.text.casefold() for p in phrases):
                    self.add("optout", f"an SMS must say how to opt out: one of {phrases}")
                if self.profile.cn_sms_signature and not _SIGNATURE.search(rendered.text):
                    self.add(
                        "cn_signature",
                        "a CN SMS must carry a 【signature】, e.g. 【{{ company_name }}】",
                    )
            case OptOut.LINK:
                if SAMPLE_UNSUBSCRIBE_URL not in rendered.text:
                    self.add("optout", "the text part must show {{ unsubscribe_url }}")
                if f'href="{SAMPLE_UNSUBSCRIBE_URL}"' not in (rendered.html or ""):
                    self.add("optout", 'the HTML part must link <a href="{{ unsubscribe_url }}">')
            case OptOut.SETTINGS:
                if locale_texts(self.template.locale).optout[OptOut.SETTINGS] not in rendered.text:
                    self.add(
                        "optout",
                        f"a {shape.channel.value} must say how to turn it off: "
                        "{{ optout_instruction }}",
                    )
        disclosures = self.profile.collector_disclosure
        if self.lender.third_party_collector and disclosures:
            initial = self.template.front.initial_contact
            phrases = disclosures.initial_contact if initial else disclosures.subsequent
            kind = "initial-contact" if initial else "debt-collector"
            for body in bodies:
                if not any(p.casefold() in body.casefold() for p in phrases):
                    self.add(
                        "collector_disclosure",
                        f"a third-party collector's message needs the {kind} disclosure "
                        f"(one of {phrases})",
                    )
                    break

    def links(self, rendered: RenderedMessage, variables: dict[str, object]) -> None:
        texts = [p for p in (rendered.subject, rendered.text, rendered.html) if p]
        # Literal links anywhere in the source, including branches the sample did not take.
        texts += [_JINJA.sub(" ", part) for part in self.parts()]
        own = [str(variables["payment_link"]), str(variables.get("unsubscribe_url", ""))]
        allowed = self.lender.allowed_link_domains
        seen: set[str] = set()
        for text in texts:
            for value in filter(None, own):
                text = text.replace(value, " ")
            for url in _URL.findall(text):
                host = urlsplit(url if "//" in url else f"https://{url}").hostname or ""
                ok = any(host == d or host.endswith(f".{d}") for d in allowed)
                if not ok and host not in seen:
                    seen.add(host)
                    self.add(
                        "link_domain",
                        f"link to {host!r} is not on the lender's allowed_link_domains {allowed}",
                    )

    def size(self, rendered: RenderedMessage) -> None:
        """The channel's body rule: SMS segments, or a push's title and body lengths."""
        shape = spec(self.template.channel)
        if shape.body_rule is BodyRule.SEGMENTS:
            self.segments(rendered)
        for part, text, limit in (
            ("title", rendered.subject or "", shape.heading_limit),
            ("body", rendered.text, shape.body_limit),
        ):
            if limit is not None and len(text) > limit:
                self.add(
                    "length",
                    f"the {part} is {len(text)} characters with the sample account; "
                    f"{shape.channel.value} shows at most {limit}",
                )

    def segments(self, rendered: RenderedMessage) -> None:
        if rendered.encoding == "UCS-2" and not _CJK.search(rendered.text):
            culprits = sorted({c for c in rendered.text if encoding_of(c) == "UCS-2"})
            self.add(
                "encoding",
                f"characters {''.join(culprits)!r} force UCS-2 (70/67 per "
                "segment instead of 160/153)",
                Severity.WARNING,
            )
        limit = self.profile.max_segments.get(self.template.channel)
        if limit is not None and rendered.segments > limit:
            self.add(
                "segments",
                f"{rendered.segments} {rendered.encoding} segments with the "
                f"sample account; the {self.profile_name} maximum is {limit}",
                Severity.WARNING,
            )
