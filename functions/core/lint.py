"""Template lint: the rules of docs/compliance.md (Message content) applied to one template,
per profile and channel.

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
  forbidden.<category>  threats, impersonation, insults, credit threats, third-party disclosure,
                      pressure; `legal_action` only when the template says `legal_action_intended`
  link_domain         every link other than the payment and unsubscribe links is on the
                      lender's allowed_link_domains (or a subdomain)
  segments (warning)  an SMS billed as more parts than the profile's maximum
  encoding (warning)  an SMS without Chinese text forced into UCS-2 by a few characters
                      (a curly quote or an accent outside GSM-7 doubles the cost;
                      docs/user-stories.md, story 13)

Required content is checked on a sample rendering (so `{{ optout_instruction }}` and literal
text both count, and the lender's flags pick the branch that lender's borrowers will see);
forbidden words are also searched in the source, so a word hidden in an untaken branch is found.
Word lists and numbers live in config/lint_rules.yaml, whose `version` each result carries.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.core.errors import ConfigError
from functions.core.lenders import LenderConfig
from functions.core.models import Account, Channel
from functions.core.render import (
    VARIABLES,
    RenderedMessage,
    RenderError,
    build_variables,
    render_message,
    template_variables,
)
from functions.core.segments import encoding_of
from functions.core.templates import MessageTemplate
from functions.settings import PROJECT_ROOT


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


class ForbiddenCategory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str = Field(pattern=r"^[a-z_]+$")
    allowed_by: str | None = None  # a front-matter flag that makes these words lawful
    terms: list[str] = Field(min_length=1)


class LintRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    region_profiles: dict[str, str]
    profiles: dict[str, ProfileRules]
    forbidden: list[ForbiddenCategory]


def load_lint_rules(config_root: Path = PROJECT_ROOT) -> LintRules:
    return _load_lint_rules(config_root.resolve())


@cache
def _load_lint_rules(config_root: Path) -> LintRules:
    path = config_root / "config" / "lint_rules.yaml"
    try:
        return LintRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
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
    unsubscribe = SAMPLE_UNSUBSCRIBE_URL if template.channel is Channel.EMAIL else None
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
    check = _Check(template, lender, rules.profiles[profile_name], profile_name)
    check.run(rules.forbidden)
    return LintResult(rules.version, profile_name, check.findings)


_URL = re.compile(r"(?:https?://|www\.)[^\s\"'<>()]+", re.IGNORECASE)
_SIGNATURE = re.compile(r"【[^【】\s][^【】]*[^【】\s]】")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _term_pattern(term: str) -> re.Pattern[str]:
    if _CJK.search(term):
        return re.compile(re.escape(term))
    words = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


@cache
def _patterns(terms: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((term, _term_pattern(term)) for term in terms)


class _Check:
    def __init__(
        self, template: MessageTemplate, lender: LenderConfig, profile: ProfileRules, name: str
    ) -> None:
        self.template = template
        self.lender = lender
        self.profile = profile
        self.profile_name = name
        self.findings: list[Finding] = []
        self.forbidden_seen: set[tuple[str, str]] = set()  # (category, term): report once

    def add(self, rule: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.findings.append(Finding(rule, severity, message, self.template.file))

    def parts(self) -> list[str]:
        t = self.template
        return [p for p in (t.front.subject, t.body, t.text) if p is not None]

    def run(self, forbidden: list[ForbiddenCategory]) -> None:
        self.forbidden(forbidden, "\n".join(self.parts()), where="template")
        if not self.variables_ok():
            return
        try:
            variables = sample_variables(self.template, self.lender)
            rendered = render_message(self.template, variables)
        except RenderError as exc:
            self.add("render", f"cannot render with a sample account: {exc}")
            return
        visible = [p for p in (rendered.subject, rendered.text, rendered.html) if p]
        self.forbidden(forbidden, "\n".join(visible), where="rendered message")
        self.required(rendered)
        self.links(rendered, variables)
        if self.template.channel is Channel.SMS:
            self.segments(rendered)

    def variables_ok(self) -> bool:
        allowed = set(VARIABLES)
        if self.template.channel is Channel.SMS:
            allowed.discard("unsubscribe_url")  # an SMS opts out by reply, not by link
        try:
            used = set().union(*(template_variables(part) for part in self.parts()))
        except RenderError as exc:
            self.add("syntax", str(exc))
            return False
        for name in sorted(used - allowed):
            self.add("undefined_variable", f"{{{{ {name} }}}} is not a documented variable")
        return used <= allowed

    def forbidden(self, categories: list[ForbiddenCategory], text: str, *, where: str) -> None:
        for category in categories:
            if category.allowed_by and getattr(self.template.front, category.allowed_by, False):
                continue
            for term, pattern in _patterns(tuple(category.terms)):
                if (category.category, term) in self.forbidden_seen or not pattern.search(text):
                    continue
                self.forbidden_seen.add((category.category, term))
                self.add(
                    f"forbidden.{category.category}",
                    f"forbidden {category.category.replace('_', ' ')} wording {term!r} "
                    f"(in the {where})",
                )

    def required(self, rendered: RenderedMessage) -> None:
        sms = self.template.channel is Channel.SMS
        bodies = [rendered.text] if sms else [rendered.text, rendered.html or ""]
        company = self.lender.company_name
        if not all(company in body for body in bodies):
            self.add(
                "sender_identity",
                f"the company name {company!r} must appear"
                + ("" if sms else " in both the text and the HTML part"),
            )
        if sms:
            phrases = self.profile.sms_optout_phrases
            if not any(p.casefold() in rendered.text.casefold() for p in phrases):
                self.add("optout", f"an SMS must say how to opt out: one of {phrases}")
            if self.profile.cn_sms_signature and not _SIGNATURE.search(rendered.text):
                self.add(
                    "cn_signature",
                    "a CN SMS must carry a 【signature】, e.g. 【{{ company_name }}】",
                )
        else:
            if SAMPLE_UNSUBSCRIBE_URL not in rendered.text:
                self.add("optout", "the text part must show {{ unsubscribe_url }}")
            if f'href="{SAMPLE_UNSUBSCRIBE_URL}"' not in (rendered.html or ""):
                self.add("optout", 'the HTML part must link <a href="{{ unsubscribe_url }}">')
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

    def segments(self, rendered: RenderedMessage) -> None:
        if rendered.encoding == "UCS-2" and not _CJK.search(rendered.text):
            culprits = sorted({c for c in rendered.text if encoding_of(c) == "UCS-2"})
            self.add(
                "encoding",
                f"characters {''.join(culprits)!r} force UCS-2 (70/67 per "
                "segment instead of 160/153)",
                Severity.WARNING,
            )
        limit = self.profile.max_segments.get(Channel.SMS)
        if limit is not None and rendered.segments > limit:
            self.add(
                "segments",
                f"{rendered.segments} {rendered.encoding} segments with the "
                f"sample account; the {self.profile_name} maximum is {limit}",
                Severity.WARNING,
            )
