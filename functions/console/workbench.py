"""A template being edited: its lint findings and its preview in every locale, rendered for
the sample account of each locale, with SMS segments and the estimated cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from functions.core.channels import BodyRule, spec
from functions.core.errors import RungError
from functions.core.lenders import LenderConfig
from functions.core.lint import (
    SAMPLE_NOW,
    SAMPLE_UNSUBSCRIBE_URL,
    Finding,
    lint_template,
    profile_for,
    sample_account,
)
from functions.core.models import Channel
from functions.core.render import build_variables, render_message
from functions.core.segments import sms_segments
from functions.core.templates import MessageTemplate, parse_template


@dataclass(frozen=True)
class Preview:
    locale: str
    edited: bool  # the text being edited (the other locales show their current words)
    subject: str | None = None
    text: str = ""
    encoding: str = ""
    units: int = 0
    segments: int = 0
    cost: str = ""  # "0.0158 USD"
    error: str = ""  # why this locale could not be rendered


@dataclass(frozen=True)
class Check:
    problem: str = ""  # the text cannot be read as a template at all (front matter, syntax)
    findings: list[Finding] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity.value == "error"]

    @property
    def ok(self) -> bool:
        return not self.problem and not self.errors


def preview(template: MessageTemplate, lender: LenderConfig, *, edited: bool) -> Preview:
    """The template rendered for the sample account of its locale."""
    shape = spec(template.channel)
    unsubscribe = SAMPLE_UNSUBSCRIBE_URL if shape.unsubscribe_link else None
    try:
        account = sample_account(lender, template.locale)
        variables = build_variables(
            account, lender, unsubscribe_url=unsubscribe, now=SAMPLE_NOW, locale=template.locale
        )
        message = render_message(template, variables)
    except RungError as exc:
        return Preview(template.locale, edited, error=str(exc))
    segmented = shape.body_rule is BodyRule.SEGMENTS
    unit_price: Decimal = getattr(lender.prices, shape.price_field)
    cost = unit_price * (message.segments if segmented else 1)
    return Preview(
        locale=template.locale,
        edited=edited,
        subject=message.subject,
        text=message.text,
        encoding=(message.encoding or "") if segmented else "",
        units=sms_segments(message.text).units if segmented else 0,
        segments=message.segments if segmented else 0,
        cost=f"{cost} {lender.prices.currency}",
    )


def check(
    template_id: str,
    channel: Channel,
    locale: str,
    source: str,
    lender: LenderConfig,
    others: dict[str, str] | None = None,
) -> Check:
    """Lint `source` and preview it, then the current words of every other locale (`others`:
    locale → source) of the same template and channel."""
    try:
        template = parse_template(template_id, channel, locale, source)
        result = lint_template(template, lender=lender, profile_name=profile_for(template))
    except RungError as exc:
        return Check(problem=str(exc))
    previews = [preview(template, lender, edited=True)]
    for other_locale, other_source in sorted((others or {}).items()):
        if other_locale == locale:
            continue
        try:
            other = parse_template(template_id, channel, other_locale, other_source)
        except RungError as exc:
            previews.append(Preview(other_locale, False, error=str(exc)))
            continue
        previews.append(preview(other, lender, edited=False))
    return Check(findings=list(result.findings), previews=previews)
