"""How Rung reads a borrower's reply: intent, opt-out scope, and the one confirmation text.

docs/compliance.md, Opt-out and consent: any reasonable wording is an opt-out, the opt-out wins over
a payment claim in the same message (the claim is recorded too), YES opts in only after an opt-out.
The keyword sets, phrases and confirmation texts live in `config/replies.yaml`; this module holds
only the reading rules. Pure: no I/O beyond loading that file once.
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from datetime import timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from functions.core.errors import ConfigError
from functions.core.models import Channel, SuppressionScope

LOCALES = ("en-US", "es-US", "zh-CN")
PLACEHOLDERS = {"company": "Company", "support": "+1 800 555 0100 / help@example.com"}


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    PAYMENT_CLAIM = "payment_claim"
    OTHER = "other"


# ---------------------------------------------------------------------------------------------
# Text normalisation


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


def plain_text(text: str) -> str:
    """NFKC (full-width → ASCII), case-folded, straight quotes, single spaces: what phrases see."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(folded.split())


def words(text: str) -> tuple[str, ...]:
    """The words of `plain_text`: punctuation, symbols and emoji removed ("Stop." ⇒ ("stop",)).

    Apostrophes vanish inside words ("don't" ⇒ "dont"); every other punctuation mark, symbol
    (Unicode categories P*, S*) and joiner separates words.
    """
    out: list[str] = []
    for char in plain_text(text):
        if char == "'":
            continue
        category = unicodedata.category(char)
        out.append(" " if category[0] in "PSZC" else char)
    return tuple("".join(out).split())


def _keyword(value: object) -> str:
    # YAML reads a bare YES/NO/ON as a boolean: such keywords must be quoted in the file.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"keyword must be text (quote it in YAML), got {value!r}")
    normalised = " ".join(words(str(value)))
    if not normalised:
        raise ValueError(f"keyword {value!r} is empty once normalised")
    return normalised


def _pattern(value: object) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError(f"phrase must be a regular expression string, got {value!r}")
    try:
        return re.compile(value, re.IGNORECASE | re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc


Keyword = Annotated[str, BeforeValidator(_keyword)]
Pattern = Annotated[re.Pattern[str], BeforeValidator(_pattern)]


# ---------------------------------------------------------------------------------------------
# Configuration (config/replies.yaml)


class IntentRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    keywords: tuple[Keyword, ...] = ()
    leading: tuple[Keyword, ...] = ()
    fuzzy: tuple[Keyword, ...] = ()
    phrases: tuple[Pattern, ...] = ()
    exceptions: tuple[Pattern, ...] = ()
    after_opt_out: tuple[Keyword, ...] = ()


class ChannelScopes(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sms: tuple[Pattern, ...]
    email: tuple[Pattern, ...]

    def mentioned(self, text: str) -> set[Channel]:
        found = set()
        if any(p.search(text) for p in self.sms):
            found.add(Channel.SMS)
        if any(p.search(text) for p in self.email):
            found.add(Channel.EMAIL)
        return found


class ScopeRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    all: tuple[Pattern, ...]
    channel: ChannelScopes


class FuzzyRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cutoff: float = Field(ge=0.5, le=1.0)
    min_length: int = Field(ge=3)


class UnsubscribeRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_age_days: int = Field(ge=30, le=365)  # CAN-SPAM: an opt-out link works ≥ 30 days

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.max_age_days)


def _template(value: object) -> string.Template:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("confirmation text must be non-empty text")
    template = string.Template(value)
    try:
        template.substitute(PLACEHOLDERS)  # unknown ${name} ⇒ KeyError, stray $ ⇒ ValueError
    except KeyError as exc:
        raise ValueError(f"unknown placeholder {exc} in {value!r}") from exc
    return template


Text = Annotated[string.Template, BeforeValidator(_template)]


class Confirmation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    sms: Text
    email_subject: Text
    email_text: Text


def _every_locale(value: dict[str, Confirmation]) -> dict[str, Confirmation]:
    missing = [locale for locale in LOCALES if locale not in value]
    if missing:
        raise ValueError(f"missing locale(s) {', '.join(missing)}")
    # docs/compliance.md, Message content: an SMS in CN carries the 【company】 signature.
    if not value["zh-CN"].sms.template.startswith("【${company}】"):
        raise ValueError("zh-CN sms must start with the 【${company}】 signature")
    return value


PerLocale = Annotated[dict[str, Confirmation], AfterValidator(_every_locale)]


class ConfirmationKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_OUT_ALL = "opt_out_all"
    WRONG_NUMBER = "wrong_number"
    OPT_IN = "opt_in"
    HELP = "help"
    PAYMENT_CLAIM = "payment_claim"


class ReplyRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    version: str
    opt_out: IntentRules
    wrong_number: IntentRules
    opt_in: IntentRules
    help: IntentRules
    payment_claim: IntentRules
    scope: ScopeRules
    quote_markers: tuple[Pattern, ...]
    fuzzy: FuzzyRules
    unsubscribe: UnsubscribeRules
    confirmations: dict[ConfirmationKind, PerLocale]

    @model_validator(mode="after")
    def _every_confirmation(self) -> ReplyRules:
        missing = [kind.value for kind in ConfirmationKind if kind not in self.confirmations]
        if missing:
            raise ValueError(f"confirmations missing for {', '.join(missing)}")
        return self

    def confirmation(self, kind: ConfirmationKind, locale: str) -> Confirmation:
        """The texts for `locale`, else its language (zh-TW ⇒ zh-CN), else en-US."""
        by_locale = self.confirmations[kind]
        if locale in by_locale:
            return by_locale[locale]
        language = locale.split("-")[0].lower()
        for known in LOCALES:
            if known.split("-")[0] == language:
                return by_locale[known]
        return by_locale["en-US"]


def load_reply_rules(config_root: Path) -> ReplyRules:
    return _load_reply_rules(config_root.resolve())


@cache
def _load_reply_rules(config_root: Path) -> ReplyRules:
    path = config_root / "config" / "replies.yaml"
    if not path.is_file():
        raise ConfigError(f"no reply rules at {path}")
    try:
        return ReplyRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"config/replies.yaml: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Reading a reply


class ReplyReading(BaseModel):
    """What a reply means. `scope`/`channel` only for an opt-out; `also` lists secondary findings
    (a payment claim under an opt-out, a wrong-number report)."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
    scope: SuppressionScope | None = None
    channel: Channel | None = None  # the medium of a CHANNEL-scope opt-out
    also: tuple[str, ...] = ()
    matched: str = ""  # which rule decided, for ops and tests

    @property
    def wrong_number(self) -> bool:
        return "wrong_number" in self.also

    @property
    def payment_claimed(self) -> bool:
        return self.intent is Intent.PAYMENT_CLAIM or Intent.PAYMENT_CLAIM.value in self.also


def _whole(message: str, keywords: tuple[str, ...]) -> str | None:
    return next((k for k in keywords if message == k), None)


def _leading(message: str, keywords: tuple[str, ...]) -> str | None:
    return next((k for k in keywords if message == k or message.startswith(k + " ")), None)


def _fuzzy(tokens: tuple[str, ...], rules: ReplyRules, targets: tuple[str, ...]) -> str | None:
    """A misspelt opt-out keyword as the whole message or its first word ("STOPP", "Stpo")."""
    if not tokens or len(tokens[0]) < rules.fuzzy.min_length:
        return None
    close = difflib.get_close_matches(tokens[0], targets, n=1, cutoff=rules.fuzzy.cutoff)
    return close[0] if close else None


def _match(
    rules: IntentRules, text: str, message: str, tokens: tuple[str, ...], reply_rules: ReplyRules
) -> str | None:
    """The rule of `rules` that `text` satisfies, or None."""
    if any(p.search(text) for p in rules.exceptions) and not _whole(message, rules.keywords):
        return None
    if hit := _whole(message, rules.keywords):
        return f"keyword:{hit}"
    if hit := _leading(message, rules.leading):
        return f"leading:{hit}"
    for pattern in rules.phrases:
        if pattern.search(text):
            return f"phrase:{pattern.pattern}"
    if rules.fuzzy and (hit := _fuzzy(tokens, reply_rules, rules.fuzzy)):
        return f"fuzzy:{hit}"
    return None


def _scope(rules: ReplyRules, text: str) -> tuple[SuppressionScope, Channel | None]:
    """1006.14(h): plain STOP ⇒ this address; "stop texting" ⇒ the channel; "stop all" ⇒ all."""
    if any(p.search(text) for p in rules.scope.all):
        return SuppressionScope.ALL, None
    channels = rules.scope.channel.mentioned(text)
    if len(channels) > 1:
        return SuppressionScope.ALL, None  # "no more texts or emails": every medium Rung uses
    if channels:
        return SuppressionScope.CHANNEL, channels.pop()
    return SuppressionScope.ADDRESS, None


def read_reply(text: str, rules: ReplyRules, *, opted_out: bool = False) -> ReplyReading:
    """Read one reply. `opted_out`: the sender's address is already opted out (YES ⇒ opt in)."""
    plain = plain_text(text)
    tokens = words(text)
    message = " ".join(tokens)

    wrong = _match(rules.wrong_number, plain, message, tokens, rules)
    opt_out = _match(rules.opt_out, plain, message, tokens, rules)
    claim = _match(rules.payment_claim, plain, message, tokens, rules)

    if wrong:
        # Never a third party (docs/compliance.md): the number is not the borrower's: stop messages
        # to that number only.
        return ReplyReading(
            intent=Intent.OPT_OUT,
            scope=SuppressionScope.ADDRESS,
            also=("wrong_number",),
            matched=f"wrong_number {wrong}",
        )
    if opt_out:
        scope, channel = _scope(rules, plain)
        also = (Intent.PAYMENT_CLAIM.value,) if claim else ()
        return ReplyReading(
            intent=Intent.OPT_OUT, scope=scope, channel=channel, also=also, matched=opt_out
        )
    if claim:
        return ReplyReading(intent=Intent.PAYMENT_CLAIM, matched=claim)
    if opt_in := _match(rules.opt_in, plain, message, tokens, rules):
        return ReplyReading(intent=Intent.OPT_IN, matched=opt_in)
    if opted_out and (yes := _whole(message, rules.opt_in.after_opt_out)):
        return ReplyReading(intent=Intent.OPT_IN, matched=f"after_opt_out:{yes}")
    if help_ := _match(rules.help, plain, message, tokens, rules):
        return ReplyReading(intent=Intent.HELP, matched=help_)
    return ReplyReading(intent=Intent.OTHER)


def strip_quoted(text: str, rules: ReplyRules) -> str:
    """An email reply without its quoted history: lines starting with ">" and everything from
    the first "On … wrote:" (or Outlook / Chinese / Spanish equivalent) on."""
    kept: list[str] = []
    for line in text.splitlines():
        if any(marker.match(line) for marker in rules.quote_markers):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def reply_locale(text: str, account_locales: list[str], default: str) -> str:
    """The locale to confirm in: the borrower's account locale, else the script they wrote in."""
    if account_locales:
        return sorted(account_locales)[0]
    if _CJK.search(text):
        return "zh-CN"
    return default
