"""Rendering a message template for one account: sandboxed, strict, locale-aware.

Three layers keep a template from doing anything but fill in words (docs/design.md, Templates and
approval):
1. An allow-list over the parsed template: text, variables, `if`/`elif`/`else`, comparisons,
   `and`/`or`/`not`, inline `a if c else b` and the filters upper, lower, capitalize, title,
   trim. No loops, calls, attribute or item access, assignments, macros, includes or
   arithmetic — so no `{% for %}` bombs, no `9**9**9`, no `''.__class__` walks.
2. Jinja2's ImmutableSandboxedEnvironment with its globals, filters and tests removed.
3. StrictUndefined: a variable that is not in the context is an error, never an empty string.
Every failure is a RenderError.

Variables (`VARIABLES`, built by `build_variables`; nothing else is in scope):
  greeting            salutation with the first name, or a polite one without ("Hi Ana," / "Hello,")
  first_name          the borrower's first name, or a locale word ("Customer", "cliente", "客户")
  amount_due          amount formatted for the locale with Babel ("$1,234.50", "US$1,234.50")
  amount_due_raw      the amount as a plain decimal string ("1234.50")
  currency            ISO 4217 code
  due_date            due date for the locale (Babel "medium": "Sep 15, 2026", "2026年9月15日")
  days_past_due       whole days since the due date, in the account's zone (UTC if unknown), ≥ 0
  payment_link        the account's payment link, else https://{lender's first allowed link domain}
  company_name, support_phone, support_email   from the lender configuration
  optout_instruction  per channel and locale (docs/compliance.md, Opt-out and consent), by
                      the channel's way of opting out (functions.core.channels.OptOut): SMS
                      "Reply STOP to stop texts to this number." / "回复TD退订" / Spanish; email:
                      the unsubscribe sentence, which templates follow with the unsubscribe link;
                      push: where to turn the notifications off
  unsubscribe_url     email only: the signed one-click link; absent for SMS and push, so an email
                      template can never render without it
  third_party_collector  the lender's flag: templates show the debt-collector disclosure under it
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.core.channels import BodyRule, OptOut, spec
from functions.core.errors import RungError
from functions.core.lenders import LenderConfig
from functions.core.models import Account, Channel
from functions.core.segments import Encoding, sms_segments
from functions.core.templates import MessageTemplate

if TYPE_CHECKING:
    # Jinja2 and Babel are imported when a message is first rendered or checked, not with
    # this module: a cold start that renders nothing does not pay for them.
    from babel import Locale
    from jinja2 import Template, nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

VARIABLES = frozenset(
    {
        "greeting",
        "first_name",
        "amount_due",
        "amount_due_raw",
        "currency",
        "due_date",
        "days_past_due",
        "payment_link",
        "company_name",
        "support_phone",
        "support_email",
        "optout_instruction",
        "unsubscribe_url",
        "third_party_collector",
    }
)
DATE_FORMAT = "medium"


@dataclass(frozen=True)
class LocaleTexts:
    greeting_named: str  # {name} is replaced
    greeting_anonymous: str
    first_name_fallback: str
    optout: Mapping[OptOut, str]  # the opt-out sentence for each way of opting out


# Every SMS says how to stop texts to this number (docs/compliance.md, Opt-out and consent);
# CN SMS use "回复TD退订".
# The Spanish SMS wording avoids á/í/ó/ú so that it stays in the GSM-7 alphabet (é is in it).
LOCALE_TEXTS: dict[str, LocaleTexts] = {
    "en": LocaleTexts(
        greeting_named="Hi {name},",
        greeting_anonymous="Hello,",
        first_name_fallback="Customer",
        optout={
            OptOut.REPLY: "Reply STOP to stop texts to this number.",
            OptOut.LINK: "To stop emails to this address, unsubscribe here:",
            OptOut.SETTINGS: "To stop these notifications, turn them off in the app's settings.",
        },
    ),
    "es": LocaleTexts(
        greeting_named="Hola, {name}:",
        greeting_anonymous="Hola:",
        first_name_fallback="cliente",
        optout={
            OptOut.REPLY: "Responda STOP para dejar de recibir textos en este teléfono.",
            OptOut.LINK: (
                "Para dejar de recibir correos en esta dirección, cancele la suscripción aquí:"
            ),
            OptOut.SETTINGS: (
                "Para dejar de recibir estos avisos, desactívelos en la configuración de la app."
            ),
        },
    ),
    "zh": LocaleTexts(
        greeting_named="{name}，您好：",
        greeting_anonymous="您好：",
        first_name_fallback="客户",
        optout={
            OptOut.REPLY: "回复TD退订",
            OptOut.LINK: "如不想再收到此类邮件，请点击以下链接退订：",
            OptOut.SETTINGS: "如不想再收到此类通知，请在应用设置中关闭。",
        },
    ),
}


@cache
def allowed_nodes() -> tuple[type[nodes.Node], ...]:
    """The Jinja2 syntax a message template may use."""
    from jinja2 import nodes

    return (
        nodes.Template,
        nodes.Output,
        nodes.TemplateData,
        nodes.Name,
        nodes.Const,
        nodes.If,
        nodes.Filter,
        nodes.Not,
        nodes.And,
        nodes.Or,
        nodes.Compare,
        nodes.Operand,
        nodes.CondExpr,
    )


ALLOWED_FILTERS = frozenset({"upper", "lower", "capitalize", "title", "trim"})
# Babel puts no-break spaces in some locales' amounts and dates; in an SMS one of them alone
# would switch the whole message to UCS-2 (more than double the segments), so they become spaces.
_SMS_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " "})


class RenderError(RungError):
    """A template cannot be rendered safely: disallowed syntax, undefined variable, bad data."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str | None
    text: str
    html: str | None
    encoding: Encoding | None  # segmented channels (SMS) only
    segments: int  # segmented channels (SMS) only; 0 otherwise


def locale_texts(locale: str) -> LocaleTexts:
    language = locale.split("-")[0].lower()
    if language not in LOCALE_TEXTS:
        raise RenderError(
            f"no message texts for locale {locale!r}; supported languages: "
            f"{', '.join(sorted(LOCALE_TEXTS))}"
        )
    return LOCALE_TEXTS[language]


def build_variables(
    account: Account,
    lender: LenderConfig,
    *,
    unsubscribe_url: str | None,
    now: datetime,
    locale: str | None = None,
) -> dict[str, object]:
    """The documented variables for `account` (see module docstring).

    `locale` is the template's locale when it differs from the account's (the gate falls back
    to the lender's default locale); money and dates are formatted for it.
    """
    locale = locale or account.locale
    texts = locale_texts(locale)
    try:
        _babel_locale(locale)
    except ValueError as exc:
        raise RenderError(f"account {account.account_id}: unknown locale {locale!r}") from exc
    name = (account.first_name or "").strip()
    variables: dict[str, object] = {
        "greeting": texts.greeting_named.format(name=name) if name else texts.greeting_anonymous,
        "first_name": name or texts.first_name_fallback,
        "amount_due": _money(account.amount_due, account.currency, locale),
        "amount_due_raw": str(account.amount_due.quantize(_CENTS)),
        "currency": account.currency,
        "due_date": _date(account.due_date, locale),
        "days_past_due": max(0, (_local_date(account, now) - account.due_date).days),
        "payment_link": account.payment_link or _lender_link(account, lender),
        "company_name": lender.company_name,
        "support_phone": lender.support_phone,
        "support_email": lender.support_email,
        "optout_instruction": _optout_instructions(locale),
        "third_party_collector": lender.third_party_collector,
    }
    if unsubscribe_url is not None:
        variables["unsubscribe_url"] = unsubscribe_url
    return variables


_CENTS = Decimal("0.01")


# Each account renders once per rung: caching Babel's formatting keeps the simulator fast.
# The caches are keyed by the locale's name (a str hashes in C; Babel's Locale in Python).
@lru_cache(maxsize=64)
def _babel_locale(locale: str) -> Locale:
    """Babel's locale; ValueError for one Babel does not know or cannot parse."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(locale, sep="-")
    except UnknownLocaleError as exc:
        raise ValueError(str(exc)) from exc


@lru_cache(maxsize=65536)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale=_babel_locale(locale))


@lru_cache(maxsize=65536)
def _date(day: date, locale: str) -> str:
    from babel.dates import format_date

    return format_date(day, DATE_FORMAT, locale=_babel_locale(locale))


@lru_cache(maxsize=64)
def _optout_instructions(locale: str) -> Mapping[Channel, str]:
    """The opt-out sentence for each channel in `locale` (read-only: renders share it)."""
    texts = locale_texts(locale)
    return MappingProxyType({c: texts.optout[spec(c).optout] for c in Channel})


def _local_date(account: Account, now: datetime) -> date:
    """The borrower's calendar date: days past due count in their zone (UTC when unknown)."""
    if not account.timezone:
        return now.astimezone(UTC).date()
    try:
        return now.astimezone(ZoneInfo(account.timezone)).date()
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RenderError(
            f"account {account.account_id}: unknown time zone {account.timezone!r}"
        ) from exc


def _lender_link(account: Account, lender: LenderConfig) -> str:
    if not lender.allowed_link_domains:
        raise RenderError(
            f"account {account.account_id} has no payment_link and lender {lender.lender_id!r} "
            "has no allowed_link_domains to link to"
        )
    return f"https://{lender.allowed_link_domains[0]}"


@cache
def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    """Only HTML parts escape variable values."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=autoescape)
    env.globals.clear()  # no range, cycler, joiner, namespace, lipsum, dict
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.tests.clear()
    return env


def check_syntax(source: str) -> nodes.Template:
    """Parse `source` and refuse anything outside the allow-list; returns the AST."""
    from jinja2 import TemplateError, nodes

    try:
        tree = _environment(autoescape=False).parse(source)
    except TemplateError as exc:
        raise RenderError(f"template syntax: {exc}") from exc
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, allowed_nodes()):
            raise RenderError(
                f"line {node.lineno}: {type(node).__name__} is not allowed in message templates "
                "(only text, variables, if/else, comparisons and simple filters)"
            )
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise RenderError(
                f"line {node.lineno}: filter {node.name!r} is not allowed "
                f"(allowed: {', '.join(sorted(ALLOWED_FILTERS))})"
            )
    return tree


def template_variables(source: str) -> set[str]:
    """Names a template part reads (jinja2.meta over the checked AST)."""
    from jinja2.meta import find_undeclared_variables

    return set(find_undeclared_variables(check_syntax(source)))


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    from jinja2 import TemplateError

    check_syntax(source)
    try:
        return _environment(autoescape=html).from_string(source)
    except TemplateError as exc:
        raise RenderError(f"template syntax: {exc}") from exc


@cache
def _render_errors() -> tuple[type[Exception], ...]:
    """What a render raises for a bad template or context: an undefined variable, a sandbox
    refusal (TemplateError), a bad comparison (TypeError)."""
    from jinja2 import TemplateError

    return (TemplateError, TypeError)


def _render(source: str, context: Mapping[str, object], *, html: bool) -> str:
    template = _compiled(source, html)
    try:
        return template.render(context)
    except _render_errors() as exc:  # evaluated only when a render raises
        raise RenderError(f"{type(exc).__name__}: {exc}") from exc


def render_message(template: MessageTemplate, variables: Mapping[str, object]) -> RenderedMessage:
    """Render every part of `template`; `optout_instruction` is resolved for its channel."""
    context = dict(variables)
    optout = context.get("optout_instruction")
    if isinstance(optout, Mapping):
        context["optout_instruction"] = optout[template.channel]
    shape = spec(template.channel)
    try:
        heading = template.heading
        subject = (
            " ".join(_render(heading, context, html=False).split()) if heading is not None else None
        )
        if shape.body_rule is BodyRule.PARTS:
            html_part = _render(template.body, context, html=True).strip() + "\n"
            text_part = _render(template.text or "", context, html=False).strip() + "\n"
            return RenderedMessage(subject, text_part, html_part, None, 0)
        text = _render(template.body, context, html=False).strip()
        if shape.body_rule is BodyRule.SEGMENTS:
            if not text.isascii():  # the no-break spaces are not ASCII; most texts are
                text = text.translate(_SMS_SPACES)
            info = sms_segments(text)
            return RenderedMessage(subject, text, None, info.encoding, info.segments)
        return RenderedMessage(subject, text, None, None, 0)
    except RenderError as exc:
        raise RenderError(f"{template.file}: {exc}") from exc
