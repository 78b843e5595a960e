"""How Rung reads a borrower's reply: normalised text, every intent it holds, opt-out scope,
promised dates, contact preferences, and the one confirmation text (docs/replies.md).

Any reasonable wording is an opt-out; every intent of a compound reply is reported (the first
by priority is `intent`, the others `also`); YES opts in only after an opt-out. The keyword
sets, phrases and confirmation texts live in `config/replies.yaml`; this module holds only the
reading rules. Pure: no I/O beyond loading that file once.
"""

from __future__ import annotations

import re
import string
import unicodedata
from calendar import monthrange
from datetime import UTC, date, time, timedelta
from datetime import datetime as datetime_type
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    model_validator,
)

from functions.core.config_files import NotYaml, read_config
from functions.core.errors import ConfigError
from functions.core.models import Channel, ContactPreference, SuppressionScope

if TYPE_CHECKING:
    # OpenCC, the confusables data and rapidfuzz are imported when a text is first read, not
    # with this module: functions that load the rules but read no reply (delivery receipts,
    # one-click unsubscribes) do not pay for them at a cold start.
    import opencc

LOCALES = ("en-US", "es-US", "zh-CN")
PLACEHOLDERS = {"company": "Company", "support": "+1 800 555 0100 / help@example.com"}


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    PAYMENT_CLAIM = "payment_claim"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    DISPUTE = "dispute"
    CEASE = "cease"
    DECEASED = "deceased"
    COMPLAINT = "complaint"
    PROMISE_TO_PAY = "promise_to_pay"
    CONTACT_PREFERENCE = "contact_preference"
    OTHER = "other"


# Intents that carry legal weight: each goes to the ops review queue, whatever else happens.
LEGAL_INTENTS = frozenset(
    {
        Intent.ATTORNEY,
        Intent.BANKRUPTCY,
        Intent.DISPUTE,
        Intent.CEASE,
        Intent.DECEASED,
        Intent.COMPLAINT,
    }
)


class Confidence(StrEnum):
    HIGH = "high"
    LOW = "low"  # a person should look (ops review queue)


# ---------------------------------------------------------------------------------------------
# Text normalisation: what every rule sees (explained in config/replies.yaml).


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})
# Scripts whose look-alike letters are folded to Latin ("ЅТОР" ⇒ "stop"); Han, Latin and
# the shared punctuation/digits stay as they are.
_KEEP_SCRIPTS = frozenset({"LATIN", "COMMON", "HAN", "INHERITED", "HIRAGANA", "KATAKANA"})
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_EPOCH = datetime_type(1970, 1, 1, tzinfo=UTC)
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_REPEATED = re.compile(r"([a-z])\1{2,}")


@cache
def _traditional_to_simplified() -> opencc.OpenCC:
    import opencc

    return opencc.OpenCC("t2s")


@cache
def _latin_lookalike(char: str) -> str:
    """`char` if it is Latin, Han or shared; else its Latin look-alike from Unicode's
    confusables data (Cyrillic "о" ⇒ "o"), else itself."""
    from confusable_homoglyphs import categories, confusables

    if not char.isalpha() or categories.alias(char) in _KEEP_SCRIPTS:
        return char
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin"]) or []
    for finding in found:
        for glyph in finding["homoglyphs"]:
            candidate = str(glyph["c"])
            if candidate.isascii() and candidate.isalpha():
                return candidate
    return char


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", kept)


def plain_text(text: str) -> str:
    """The normalised reply every rule reads (steps in config/replies.yaml)."""
    folded = unicodedata.normalize("NFKC", text)
    # Zero-width spaces and joiners, bidi controls, soft hyphens: Unicode category Cf.
    folded = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    if _CJK.search(folded):
        folded = _traditional_to_simplified().convert(folded)
    folded = "".join(_latin_lookalike(c) for c in folded)
    folded = _fold_accents(folded).translate(_QUOTES).casefold()
    folded = _SPACED.sub(lambda m: re.sub(r"[^a-z]", "", m.group()), folded)
    folded = _REPEATED.sub(r"\1", folded)
    return " ".join(folded.split())


def words(text: str) -> tuple[str, ...]:
    """The words of `plain_text`: punctuation, symbols and emoji removed ("Stop." ⇒ ("stop",)).

    Apostrophes vanish inside words ("don't" ⇒ "dont"); every other punctuation mark, symbol
    (Unicode categories P*, S*) and joiner separates words.
    """
    return _words(plain_text(text))


def _words(plain: str) -> tuple[str, ...]:
    out: list[str] = []
    for char in plain:
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


class ChannelScopes(RootModel[dict[Channel, tuple[Pattern, ...]]]):
    """Words that name a channel ("texts", "emails", "notifications"), per channel."""

    model_config = ConfigDict(frozen=True)

    def mentioned(self, text: str) -> set[Channel]:
        return {c for c, patterns in self.root.items() if any(p.search(text) for p in patterns)}


class IntentRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    keywords: tuple[Keyword, ...] = ()
    leading: tuple[Keyword, ...] = ()
    fuzzy: tuple[Keyword, ...] = ()
    phrases: tuple[Pattern, ...] = ()
    exceptions: tuple[Pattern, ...] = ()
    after_opt_out: tuple[Keyword, ...] = ()
    revocation_words: tuple[Keyword, ...] = ()


class NegationRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    negators: tuple[Keyword, ...]
    window: int = Field(ge=1, le=6)
    messaging_words: tuple[Keyword, ...]


class PromiseRules(IntentRules):
    grace_days: int = Field(ge=0, le=14)
    max_days: int = Field(ge=1, le=90)
    days: dict[str, int]
    weekdays: dict[str, int]
    day_of_month: tuple[Pattern, ...]
    month_end: tuple[Pattern, ...]

    @model_validator(mode="after")
    def _weekdays(self) -> PromiseRules:
        bad = [word for word, day in self.weekdays.items() if not 0 <= day <= 6]
        if bad:
            raise ValueError(f"weekday numbers run 0 (Monday) to 6: {', '.join(bad)}")
        return self


class HourRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: Pattern
    means: str = Field(pattern="^(not_after|not_before)$")


class PreferenceRules(IntentRules):
    hours: tuple[HourRule, ...]
    only_flips: Pattern
    evening_below: int = Field(ge=1, le=12)
    exclude: ChannelScopes
    places: dict[str, tuple[Pattern, ...]]


class ScopeRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    all: tuple[Pattern, ...]
    channel: ChannelScopes


class FuzzyRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_edits: int = Field(ge=1, le=2)
    long_word: int = Field(ge=6)  # words this long allow one more edit
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

    def part(self, name: str) -> Text:
        """The text the channel registry names (`ChannelSpec.confirmation_body`, …)."""
        text: Text = getattr(self, name)
        return text


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
    priority: tuple[Intent, ...]
    opt_out: IntentRules
    negation: NegationRules
    wrong_number: IntentRules
    opt_in: IntentRules
    help: IntentRules
    payment_claim: IntentRules
    attorney: IntentRules
    bankruptcy: IntentRules
    dispute: IntentRules
    cease: IntentRules
    deceased: IntentRules
    complaint: IntentRules
    promise_to_pay: PromiseRules
    contact_preference: PreferenceRules
    emoji: dict[str, Keyword]
    scope: ScopeRules
    low_confidence: tuple[str, ...]
    quote_markers: tuple[Pattern, ...]
    fuzzy: FuzzyRules
    unsubscribe: UnsubscribeRules
    confirmations: dict[ConfirmationKind, PerLocale]

    @model_validator(mode="after")
    def _every_confirmation(self) -> ReplyRules:
        missing = [kind.value for kind in ConfirmationKind if kind not in self.confirmations]
        if missing:
            raise ValueError(f"confirmations missing for {', '.join(missing)}")
        unranked = set(Intent) - {Intent.OTHER} - set(self.priority)
        if unranked:
            raise ValueError(f"priority misses {', '.join(sorted(unranked))}")
        return self

    def intent_rules(self, intent: Intent) -> IntentRules:
        rules: IntentRules = getattr(self, intent.value)
        return rules

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
        return ReplyRules.model_validate(read_config(path))
    except (NotYaml, ValidationError) as exc:
        raise ConfigError(f"config/replies.yaml: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Reading a reply


class ReplyReading(BaseModel):
    """What a reply means, and why.

    `intent` is the first intent found in the rules' priority order; `also` lists the others
    (and "wrong_number" under an opt-out). `scope`/`channel` only for an opt-out. `matched`
    names the rule that decided, `rules_version` the rules file, `normalised` the text the
    rules read. `confidence` LOW: a person should look (fuzzy match, negated stop word, emoji
    only, promise without a date, a place Rung cannot see).
    """

    model_config = ConfigDict(frozen=True)

    intent: Intent
    scope: SuppressionScope | None = None
    channel: Channel | None = None  # the medium of a CHANNEL-scope opt-out
    also: tuple[str, ...] = ()
    matched: str = ""  # which rule decided, for ops and tests
    rules_version: str = ""
    normalised: str = ""
    confidence: Confidence = Confidence.HIGH
    promised_on: date | None = None  # PROMISE_TO_PAY with a date Rung could read
    preference: ContactPreference | None = None  # CONTACT_PREFERENCE

    @property
    def intents(self) -> tuple[Intent, ...]:
        """The intent and every further intent of a compound reply."""
        return (self.intent, *(Intent(a) for a in self.also if a in Intent.__members__.values()))

    @property
    def wrong_number(self) -> bool:
        return "wrong_number" in self.also

    @property
    def payment_claimed(self) -> bool:
        return Intent.PAYMENT_CLAIM in self.intents

    def says(self, intent: Intent) -> bool:
        return intent in self.intents


def _whole(message: str, keywords: tuple[str, ...]) -> str | None:
    return next((k for k in keywords if message == k), None)


def _leading(message: str, keywords: tuple[str, ...]) -> str | None:
    return next((k for k in keywords if message == k or message.startswith(k + " ")), None)


def _fuzzy(tokens: tuple[str, ...], rules: ReplyRules, targets: tuple[str, ...]) -> str | None:
    """A misspelt keyword as the whole message or its first word: letters added or dropped
    ("STOPP", "unsubcribe") or two neighbours swapped ("stpo", "cancle"), within
    `fuzzy.max_edits` (one more for long words); never a different letter ("shop" ≠ "stop")."""
    if not tokens or len(tokens[0]) < rules.fuzzy.min_length:
        return None
    from rapidfuzz.distance import OSA, Indel

    word = tokens[0]
    for target in targets:
        edits = rules.fuzzy.max_edits + (len(target) >= rules.fuzzy.long_word)
        if Indel.distance(word, target) <= edits:
            return target
        if sorted(word) == sorted(target) and OSA.distance(word, target) <= edits:
            return target
    return None


def _revocation(tokens: tuple[str, ...], rules: ReplyRules) -> tuple[str | None, str | None]:
    """An FCC revocation word anywhere in the reply: (rule, None), or (None, negated rule)."""
    negation = rules.negation
    negated = None
    for index in range(len(tokens)):
        for word in rules.opt_out.revocation_words:
            size = word.count(" ") + 1
            if " ".join(tokens[index : index + size]) != word:
                continue
            before = tokens[max(0, index - negation.window) : index]
            after = tokens[index + size : index + size + 1]
            about_messages = not after or after[0] in negation.messaging_words
            if any(t in negation.negators for t in before) and not (after and about_messages):
                negated = negated or f"negated:{word}"
                continue
            return f"revocation:{word}", None
    return None, negated


def _match(
    rules: IntentRules, text: str, message: str, tokens: tuple[str, ...], reply_rules: ReplyRules
) -> str | None:
    """The rule of `rules` that `text` satisfies, or None."""
    if hit := _whole(message, rules.keywords):
        return f"keyword:{hit}"
    if any(p.search(text) for p in rules.exceptions):
        return None
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


def _word_in(text: str, phrase: str) -> bool:
    if _CJK.search(phrase):
        return phrase in text
    return re.search(rf"\b{re.escape(phrase)}\b", text) is not None


def promised_date(text: str, rules: PromiseRules, today: date) -> date | None:
    """The day a promise names, read from `today` (the borrower's local date), if any."""
    # Weekdays first: "下周一" (Monday next week) is the next Monday, not a week from today.
    for phrase, weekday in sorted(rules.weekdays.items(), key=lambda kv: -len(kv[0])):
        if _word_in(text, phrase):
            ahead = (weekday - today.weekday()) % 7
            return today + timedelta(days=ahead or 7)
    for phrase, days in sorted(rules.days.items(), key=lambda kv: -len(kv[0])):
        if _word_in(text, phrase):
            return today + timedelta(days=days)
    if any(p.search(text) for p in rules.month_end):
        return today.replace(day=monthrange(today.year, today.month)[1])
    for pattern in rules.day_of_month:
        if found := pattern.search(text):
            day = int(next(g for g in found.groups() if g and g.isdigit()))
            if 1 <= day <= 31:
                return _next_day_of_month(today, day)
    return None


def _next_day_of_month(today: date, day: int) -> date:
    year, month = today.year, today.month
    for _ in range(3):
        if day <= monthrange(year, month)[1]:
            candidate = date(year, month, day)
            if candidate >= today:
                return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return today


def _preference(text: str, rules: PreferenceRules, at_reply: datetime_type) -> ContactPreference:
    """The contact preference a reply states: hours, an excluded channel, or a place."""
    not_before: time | None = None
    not_after: time | None = None
    flips = rules.only_flips.search(text) is not None
    for rule in rules.hours:
        found = rule.pattern.search(text)
        if not found:
            continue
        groups = found.groupdict()
        hour, minute = int(groups["hour"]), int(groups.get("minute") or 0)
        marker = (groups.get("ampm") or "").replace(".", "")
        evening = marker in ("pm", "晚上") or (
            not marker and rule.means == "not_after" and hour < rules.evening_below
        )
        if evening and hour < 12:
            hour += 12
        if hour > 23 or minute > 59:
            continue
        means = rule.means
        if flips:
            means = "not_before" if means == "not_after" else "not_after"
        if means == "not_after":
            not_after = time(hour, minute)
        else:
            not_before = time(hour, minute)
    excluded = sorted(rules.exclude.mentioned(text))
    place = next(
        (name for name, patterns in rules.places.items() if any(p.search(text) for p in patterns)),
        "",
    )
    return ContactPreference(
        channel=excluded[0] if len(excluded) == 1 else None,
        excluded=len(excluded) == 1,
        not_before=not_before,
        not_after=not_after,
        place=place,
        at=at_reply,
    )


def read_reply(
    text: str,
    rules: ReplyRules,
    *,
    opted_out: bool = False,
    today: date | None = None,
    at: datetime_type | None = None,
) -> ReplyReading:
    """Read one reply. `opted_out`: the sender's address is already opted out (YES ⇒ opt in).
    `today`: the borrower's local date, to read a promised date ("Friday"); `at`: when the
    reply came (stamped on a contact preference)."""
    plain = plain_text(text)
    tokens = _words(plain)
    message = " ".join(tokens)
    low: list[str] = []
    fields: dict[str, object] = {"rules_version": rules.version, "normalised": plain}
    if not tokens and plain:
        # Emoji only: a stop sign reads as STOP (a person checks); anything else is other.
        keyword = next((k for emoji, k in rules.emoji.items() if emoji in plain), None)
        if keyword is None:
            return ReplyReading.model_validate(
                {**fields, "intent": Intent.OTHER, "matched": "emoji_only"}
            )
        message, tokens, low = keyword, (keyword,), ["emoji"]

    found: dict[Intent, str] = {}
    negated = ""
    for intent in rules.priority:
        if intent is Intent.OPT_IN:
            continue  # below: only when nothing else is said
        hit = _match(rules.intent_rules(intent), plain, message, tokens, rules)
        if (
            intent is Intent.OPT_OUT
            and hit is None
            and not any(p.search(plain) for p in rules.opt_out.exceptions)
        ):
            hit, negation = _revocation(tokens, rules)
            if negation:
                low.append("negated")
                negated = negation
        if hit:
            found[intent] = hit
            if hit.startswith("fuzzy:"):
                low.append("fuzzy")
    wrong = _match(rules.wrong_number, plain, message, tokens, rules)
    if wrong:
        # Never pursue a third party: the number is not the borrower's; stop messages to it.
        found[Intent.OPT_OUT] = f"wrong_number {wrong}"
    if not found:
        if opt_in := _match(rules.opt_in, plain, message, tokens, rules):
            found[Intent.OPT_IN] = opt_in
        elif opted_out and (yes := _whole(message, rules.opt_in.after_opt_out)):
            found[Intent.OPT_IN] = f"after_opt_out:{yes}"
    confidence = Confidence.LOW if any(r in rules.low_confidence for r in low) else Confidence.HIGH
    if not found:
        return ReplyReading.model_validate(
            {**fields, "intent": Intent.OTHER, "matched": negated, "confidence": confidence}
        )

    # A wrong number comes first: whatever else the reply says, the sender is not ours.
    ordered = [i for i in ((Intent.OPT_OUT,) if wrong else ()) + rules.priority if i in found]
    intent = ordered[0]
    also = [i.value for i in dict.fromkeys(ordered[1:]) if i is not intent]
    if wrong:
        also.insert(0, "wrong_number")
    fields |= {"intent": intent, "also": tuple(also), "matched": found[intent]}
    if Intent.OPT_OUT in found:  # the opt-out's scope, also when another intent leads
        scope, channel = (SuppressionScope.ADDRESS, None) if wrong else _scope(rules, plain)
        fields |= {"scope": scope, "channel": channel}
    if Intent.PROMISE_TO_PAY in found:
        promised = promised_date(plain, rules.promise_to_pay, today) if today else None
        fields["promised_on"] = promised
        if promised is None:
            low.append("promise_without_date")
    if Intent.CONTACT_PREFERENCE in found:
        preference = _preference(plain, rules.contact_preference, at or _EPOCH)
        fields["preference"] = preference.model_copy(
            update={"rule": found[Intent.CONTACT_PREFERENCE]}
        )
        if preference.place:
            low.append("place")
        elif not (preference.excluded or preference.not_before or preference.not_after):
            low.append("preference_unread")  # a preference was said, but Rung could not read it
    if any(r in rules.low_confidence for r in low):
        fields["confidence"] = Confidence.LOW
    return ReplyReading.model_validate(fields)


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


def reply_locale(text: str, account_locales: list[str], default: str) -> str:
    """The locale to confirm in: the borrower's account locale, else the script they wrote in."""
    if account_locales:
        return sorted(account_locales)[0]
    if _CJK.search(text):
        return "zh-CN"
    return default
