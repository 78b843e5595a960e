"""What each console page shows and what each of its forms does, over `ConsoleServices`.

The resolver (functions.console.app) has already identified the user, checked the CSRF token
and the user's group for the action; this module applies the project's rules (four-eyes
approval, which suppressions may be lifted) and writes every action to the console log.
Addresses leave this module masked unless the user's groups allow seeing them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from functions.console import words
from functions.console.identity import Action, ConsoleUser
from functions.console.services import (
    ConsoleAction,
    ConsoleServices,
    ReportPending,
    ReportUnavailable,
)
from functions.console.workbench import Check
from functions.console.workbench import check as check_source
from functions.core.approval import ApprovalError, SelfApprovalError, approve, push
from functions.core.errors import RungError
from functions.core.feedback import redact
from functions.core.masking import mask_address
from functions.core.models import (
    Account,
    Channel,
    ChannelPause,
    Suppression,
    SuppressionSource,
    TemplateStatus,
    TemplateVersion,
)
from functions.core.phone_numbers import to_e164
from functions.core.review import RESOLUTIONS, resolve
from functions.core.templates import TemplateError, TemplateFile, discover, file_name

MAX_SOURCE = 20_000  # characters of a template's text a form may carry (our choice: ≫ any email)
MAX_COMMENT = 500  # characters of a reason or comment (our choice: a sentence or two)

NOTICES = {
    "submitted": "Submitted for approval. A second person must approve it.",
    "unchanged": "That exact text is already stored; nothing new was submitted.",
    "approved": "Approved: this version is now in use.",
    "rejected": "Rejected: the author sees your comment in the activity log.",
    "resolved": "Resolved and recorded.",
    "suppressed": "Suppression added and recorded.",
    "lifted": "Suppression lifted and recorded.",
    "paused": "Channel paused and recorded.",
    "resumed": "Channel resumed and recorded.",
}
RESOLUTION_CHOICES = RESOLUTIONS


class Forbidden(Exception):
    """The user's groups do not allow this, or a rule forbids it (four eyes, an opt-out)."""


class BadRequest(Exception):
    """The request names nothing usable: the message says which field and why."""


def notice(code: str) -> str:
    return NOTICES.get(code, "")


def record(
    services: ConsoleServices,
    user: ConsoleUser,
    action: Action,
    verb: str,
    target: str,
    *,
    outcome: str = "done",
    comment: str = "",
) -> None:
    services.log.append(
        ConsoleAction(
            at=services.clock.now(),
            username=user.username,
            groups=tuple(sorted(g.value for g in user.groups)),
            action=action.value,
            verb=verb,
            target=target,
            outcome=outcome,
            comment=redact(comment),  # a person may type an address into a comment
        )
    )


def audit_refusal(services: ConsoleServices, user: ConsoleUser, action: Action, path: str) -> None:
    record(services, user, action, "attempt", path, outcome="refused")


def _text(fields: Mapping[str, str], name: str, *, required: bool, limit: int = MAX_COMMENT) -> str:
    value = " ".join(fields.get(name, "").split())
    if required and not value:
        raise BadRequest(f"{name}: required")
    if len(value) > limit:
        raise BadRequest(f"{name}: at most {limit} characters")
    return value


def _channel(fields: Mapping[str, str]) -> Channel:
    value = fields.get("channel", "")
    try:
        return Channel(value)
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise BadRequest(f"channel: {value!r} is not one of {known}") from None


# -- templates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateKey:
    template_id: str
    channel: Channel
    locale: str

    @property
    def file(self) -> str:
        return file_name(self.template_id, self.channel, self.locale)


def template_key(fields: Mapping[str, str]) -> TemplateKey:
    template_id = fields.get("template", "").strip()
    locale = fields.get("locale", "").strip()
    channel = _channel(fields)
    if not template_id or not locale:
        raise BadRequest("template and locale: both required")
    try:
        file_name(template_id, channel, locale)
    except RungError as exc:
        raise BadRequest(str(exc)) from exc
    return TemplateKey(template_id, channel, locale)


def source_field(fields: Mapping[str, str]) -> str:
    source = fields.get("source", "").replace("\r\n", "\n")
    if len(source) > MAX_SOURCE:
        raise BadRequest(f"source: at most {MAX_SOURCE} characters")
    return source


def _shipped(services: ConsoleServices) -> dict[tuple[str, Channel, str], TemplateFile]:
    root: Path = services.config_root / "templates" / "messages"
    try:
        files = discover(root)
    except TemplateError:
        return {}
    return {(f.template_id, f.channel, f.locale): f for f in files}


def rejected_versions(services: ConsoleServices) -> set[str]:
    return {a.target for a in services.log.recent(None) if a.verb == "reject"}


@dataclass(frozen=True)
class TemplateRow:
    key: TemplateKey
    in_use: TemplateVersion | None
    pending: int  # drafts waiting for approval
    shipped_only: bool  # a shipped file no one has submitted yet


def template_rows(services: ConsoleServices) -> list[TemplateRow]:
    versions = services.templates.versions()
    rejected = rejected_versions(services)
    keys = {(v.template_id, v.channel, v.locale) for v in versions} | set(_shipped(services))
    rows = []
    for template_id, channel, locale in sorted(keys, key=lambda k: (k[0], k[1].value, k[2])):
        mine = [
            v
            for v in versions
            if (v.template_id, v.channel, v.locale) == (template_id, channel, locale)
        ]
        in_use = services.templates.newest_approved(template_id, channel, locale)
        key = TemplateKey(template_id, channel, locale)
        pending = [v for v in mine if _is_pending(v, in_use, rejected)]
        rows.append(TemplateRow(key, in_use, len(pending), shipped_only=not mine))
    return rows


def _target(version: TemplateVersion) -> str:
    return f"{file_name(version.template_id, version.channel, version.locale)}@{version.version}"


def _is_pending(
    version: TemplateVersion, in_use: TemplateVersion | None, rejected: set[str]
) -> bool:
    if version.status is not TemplateStatus.DRAFT or _target(version) in rejected:
        return False
    if in_use is None or in_use.approved_at is None or version.created_at is None:
        return True
    return version.created_at >= in_use.created_at if in_use.created_at else True


def starting_source(services: ConsoleServices, key: TemplateKey) -> str:
    """What the editor opens with: the words in use, else the newest stored, else shipped."""
    in_use = services.templates.newest_approved(key.template_id, key.channel, key.locale)
    if in_use is not None:
        return in_use.source
    stored = [
        v
        for v in services.templates.versions(key.template_id)
        if (v.channel, v.locale) == (key.channel, key.locale)
    ]
    if stored:
        return stored[-1].source
    shipped = _shipped(services).get((key.template_id, key.channel, key.locale))
    if shipped is None:
        raise BadRequest(f"No template {key.file}.")
    return shipped.source


def check(services: ConsoleServices, key: TemplateKey, source: str) -> Check:
    """Lint and preview `source`, with the current words of the template's other languages:
    the version in use, else the newest stored, else the shipped file (the Lambda asset ships
    no template files, so in AWS the store is what there is)."""
    others: dict[str, str] = {}
    for (template_id, channel, locale), shipped in _shipped(services).items():
        if (template_id, channel) == (key.template_id, key.channel):
            others[locale] = shipped.source
    for version in services.templates.versions(key.template_id):  # oldest first
        if version.channel is key.channel:
            others[version.locale] = version.source
    for locale in list(others):
        current = services.templates.newest_approved(key.template_id, key.channel, locale)
        if current is not None:
            others[locale] = current.source
    return check_source(key.template_id, key.channel, key.locale, source, services.lender(), others)


def submit(
    services: ConsoleServices, user: ConsoleUser, key: TemplateKey, source: str, comment: str
) -> bool:
    """Store the text as a DRAFT by this user; False if that exact text is already stored."""
    file = TemplateFile(key.template_id, key.channel, key.locale, Path(key.file), source)
    [pushed] = push(services.templates, [file], author=user.username, at=services.clock.now())
    record(
        services,
        user,
        Action.EDIT_TEMPLATES,
        "submit" if pushed.created else "submit-unchanged",
        f"{key.file}@{pushed.version}",
        comment=_text({"comment": comment}, "comment", required=False),
    )
    return pushed.created


@dataclass(frozen=True)
class DiffLine:
    kind: str  # added | removed | same | hunk
    text: str


@dataclass(frozen=True)
class Pending:
    version: TemplateVersion
    approved: TemplateVersion | None
    diff: list[DiffLine]
    check: Check

    @property
    def key(self) -> TemplateKey:
        return TemplateKey(self.version.template_id, self.version.channel, self.version.locale)


def diff_lines(before: str, after: str) -> list[DiffLine]:
    lines = []
    for line in list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm=""))[
        2:
    ]:
        kind = {"+": "added", "-": "removed", "@": "hunk"}.get(line[:1], "same")
        lines.append(DiffLine(kind, line[1:] if kind != "hunk" else line))
    return lines


def pending_approvals(services: ConsoleServices) -> list[Pending]:
    rejected = rejected_versions(services)
    found = []
    for version in services.templates.versions():
        in_use = services.templates.newest_approved(
            version.template_id, version.channel, version.locale
        )
        if not _is_pending(version, in_use, rejected):
            continue
        key = TemplateKey(version.template_id, version.channel, version.locale)
        found.append(
            Pending(
                version,
                in_use,
                diff_lines(in_use.source if in_use else "", version.source),
                check(services, key, version.source),
            )
        )
    return found


def decide(services: ConsoleServices, user: ConsoleUser, fields: Mapping[str, str]) -> str:
    """Approve or reject one pending version; four eyes whatever the user's groups."""
    key = template_key(fields)
    version = fields.get("version", "").strip()
    stored = services.templates.get(key.template_id, key.channel, key.locale, version)
    if stored is None:
        raise BadRequest(f"version: no version {version!r} of {key.file}")
    target = _target(stored)
    comment = _text(fields, "comment", required=fields.get("decision") == "reject")
    if stored.author.casefold() == user.username.casefold():
        record(services, user, Action.APPROVE_TEMPLATES, "approve", target, outcome="refused")
        raise Forbidden(f"You wrote {target}: someone else must approve or reject it.")
    if fields.get("decision") == "reject":
        record(services, user, Action.APPROVE_TEMPLATES, "reject", target, comment=comment)
        return "rejected"
    if fields.get("decision") != "approve":
        raise BadRequest("decision: approve or reject")
    try:
        approve(
            services.templates,
            key.template_id,
            key.channel,
            key.locale,
            version,
            by=user.username,
            at=services.clock.now(),
            lender=services.lender(),
        )
    except SelfApprovalError as exc:
        raise Forbidden(str(exc)) from exc
    except ApprovalError as exc:
        raise BadRequest(str(exc)) from exc
    record(services, user, Action.APPROVE_TEMPLATES, "approve", target, comment=comment)
    return "approved"


# -- accounts ----------------------------------------------------------------------------------


def find_accounts(services: ConsoleServices, text: str) -> list[Account]:
    """By account id (in every lender), by email, or by phone (national or +E.164)."""
    found: dict[str, Account] = {}
    for lender_id in services.lender_ids:
        account = services.accounts.get(lender_id, text)
        if account is not None:
            found[account.key] = account
    if "@" in text:
        for account in services.accounts.find_by_address(Channel.EMAIL, text.strip().lower()):
            found[account.key] = account
    elif any(ch.isdigit() for ch in text):
        try:
            phone = to_e164(text, services.lender().default_region)
        except ValueError:
            phone = ""
        if phone:
            for account in services.accounts.find_by_address(Channel.SMS, phone):
                found[account.key] = account
    return [a for _, a in sorted(found.items()) if a.lender_id in services.lender_ids]


def _address(address: str | None, user: ConsoleUser) -> str:
    if not address:
        return ""
    return address if user.may(Action.SEE_ADDRESSES) else mask_address(address)


def shown_account(account: Account, user: ConsoleUser) -> dict[str, object]:
    return {
        "lender_id": account.lender_id,
        "account_id": account.account_id,
        "first_name": account.first_name or "",
        "phone": _address(account.phone, user),
        "phone_masked": mask_address(account.phone),
        "email": _address(account.email, user),
        "email_masked": mask_address(account.email),
        "status": account.status.value,
        "amount_due": f"{account.amount_due} {account.currency}",
        "due_date": account.due_date.isoformat(),
        "locale": account.locale,
        "timezone": account.timezone or "",
    }


@dataclass(frozen=True)
class Event:
    at: datetime | None
    kind: str  # upload | decision | reply | delivery | status | suppression | payment
    title: str
    detail: str = ""
    tone: str = ""  # good | bad | "" (shown by a word as well as a colour)


def timeline(services: ConsoleServices, account: Account, user: ConsoleUser) -> list[Event]:
    """Everything recorded about the account, in time order, in plain words. Free text that
    Rung or a person wrote (details, reasons) is shown with addresses masked."""
    events: list[Event] = []
    lender_id, account_id = account.lender_id, account.account_id
    upload_pk, _, row = (account.upload_key or "").rpartition("@")
    for upload in services.records.uploads():
        if upload.pk == upload_pk:
            name = upload.key.rpartition("/")[2]
            events.append(
                Event(
                    upload.received_at,
                    "upload",
                    f"Arrived in file {name}, row {row}",
                    f"{upload.accepted} rows accepted, {upload.rejected} rejected",
                )
            )
    for gate in services.records.gate_records(lender_id, account_id):
        tone = {"SENT": "good", "SUPPRESSED": "bad"}.get(gate.decision.value, "")
        template = f" ({gate.template_id})" if gate.template_id else ""
        events.append(
            Event(
                gate.at_utc,
                "decision",
                f"Step {gate.rung} by {gate.channel.value}{template}: {words.decision_words(gate)}",
                f"rule: {gate.rule}" if gate.rule else "",
                tone,
            )
        )
    for attempt in services.records.attempts(lender_id, account_id):
        if attempt.delivery:
            events.append(
                Event(
                    attempt.delivery_at or attempt.attempted_at,
                    "receipt",
                    f"Delivery receipt for step {attempt.rung} by {attempt.channel.value}: "
                    f"{attempt.delivery.replace('_', ' ').lower()}",
                )
            )
    for channel, address in ((Channel.SMS, account.phone), (Channel.EMAIL, account.email)):
        if not address:
            continue
        for decision in services.decisions.history(channel, address):
            if decision.account and decision.account != account.key:
                continue
            read = f", read as {decision.intent.replace('_', ' ')}" if decision.intent else ""
            effect = words.inbound_words(decision.event)
            detail = " ".join(x for x in (decision.detail, decision.reason) if x)
            events.append(
                Event(
                    decision.at,
                    "reply",
                    f"Reply by {channel.value}{read}: {effect}",
                    redact(f"{detail} (by {decision.by})" if detail else f"by {decision.by}"),
                )
            )
        suppression = services.suppressions.get(channel, address)
        if suppression is not None:
            events.append(
                Event(
                    suppression.at,
                    "suppression",
                    f"{channel.value} suppressed ({suppression.scope.value}): "
                    f"{words.SOURCES.get(suppression.source, suppression.source.value)}",
                    redact(suppression.detail),
                    "bad",
                )
            )
    if account.status_changed_at is not None:
        paid = account.status.value == "PAID"
        events.append(
            Event(
                account.status_changed_at,
                "payment" if paid else "status",
                f"Status set to {account.status.value.replace('_', ' ').lower()}",
            )
        )
    return sorted(events, key=lambda e: (e.at is None, e.at or datetime.min))


# -- replies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewRow:
    review_id: str
    at: datetime
    channel: str
    sender: str
    intent: str
    why: str
    text: str
    accounts: tuple[str, ...]


def review_items(services: ConsoleServices) -> list[ReviewRow]:
    return [
        ReviewRow(
            item.review_id,
            item.at,
            item.channel.value,
            mask_address(item.address),
            item.intent,
            item.why,
            redact(item.text),
            item.accounts,
        )
        for item in services.reviews.pending()
    ]


def resolve_reply(services: ConsoleServices, user: ConsoleUser, fields: Mapping[str, str]) -> None:
    review_id = fields.get("review_id", "").strip()
    resolved_as = fields.get("resolved_as", "")
    if resolved_as not in RESOLUTIONS:
        raise BadRequest(f"resolved_as: {resolved_as!r} is not one of {', '.join(RESOLUTIONS)}")
    reason = _text(fields, "reason", required=False)
    try:
        resolve(services, review_id, resolved_as, user.username, reason, services.clock.now())
    except RungError as exc:
        raise BadRequest(str(exc)) from exc
    record(
        services,
        user,
        Action.REVIEW_REPLIES,
        f"resolve-as-{resolved_as}",
        review_id,
        comment=reason,
    )


# -- suppressions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuppressionRow:
    channel: str
    address: str  # masked
    key: str  # channel#address for the lift form, masked addresses never leave unmasked
    scope: str
    source: str
    why: str
    at: datetime
    detail: str
    liftable: bool
    why_not: str


def suppression_rows(services: ConsoleServices, text: str) -> list[SuppressionRow]:
    rows = []
    wanted = text.strip().lower()
    for s in services.records.suppressions():
        if wanted and wanted not in s.address.lower() and wanted not in s.source.value:
            continue
        rows.append(
            SuppressionRow(
                channel=s.channel.value,
                address=mask_address(s.address),
                key=s.key,
                scope=s.scope.value,
                source=s.source.value,
                why=words.SOURCES.get(s.source, s.source.value),
                at=s.at,
                detail=redact(s.detail),
                liftable=s.source in words.LIFTABLE,
                why_not=words.WHY_NOT_LIFTABLE.get(s.source, ""),
            )
        )
    return rows


def add_suppression(
    services: ConsoleServices, user: ConsoleUser, fields: Mapping[str, str]
) -> None:
    channel = _channel(fields)
    raw = fields.get("address", "").strip()
    reason = _text(fields, "reason", required=True)
    if channel is Channel.SMS:
        try:
            address = to_e164(raw, services.lender().default_region)
        except ValueError as exc:
            raise BadRequest(f"address: {exc}") from exc
    elif channel is Channel.EMAIL and "@" in raw:
        address = raw.lower()
    else:
        raise BadRequest("address: a phone number (sms) or an email address (email)")
    services.suppressions.put(
        Suppression(
            channel=channel,
            address=address,
            source=SuppressionSource.LENDER,
            at=services.clock.now(),
            detail=f"{reason} (console, {user.username})",
        )
    )
    record(
        services,
        user,
        Action.MANAGE_SUPPRESSIONS,
        "suppress",
        f"{channel.value}:{mask_address(address)}",
        comment=reason,
    )


def lift_suppression(
    services: ConsoleServices, user: ConsoleUser, fields: Mapping[str, str]
) -> None:
    key = fields.get("key", "")
    reason = _text(fields, "reason", required=True)
    found = next((s for s in services.records.suppressions() if s.key == key), None)
    if found is None:
        raise BadRequest("key: no such suppression")
    target = f"{found.channel.value}:{mask_address(found.address)}"
    if found.source not in words.LIFTABLE:
        record(
            services,
            user,
            Action.MANAGE_SUPPRESSIONS,
            "lift",
            target,
            outcome="refused",
            comment=reason,
        )
        raise Forbidden(
            f"This suppression cannot be lifted here: {words.WHY_NOT_LIFTABLE[found.source]}."
        )
    services.suppressions.delete(found.channel, found.address)
    record(services, user, Action.MANAGE_SUPPRESSIONS, "lift", target, comment=reason)


# -- uploads and channels ----------------------------------------------------------------------


def reject_report(services: ConsoleServices, user: ConsoleUser, key: str) -> tuple[str, str]:
    known = {u.report_key for u in services.records.uploads() if u.report_key}
    if key not in known:
        raise BadRequest("key: no reject report by that name")
    body = services.objects.open(key)
    try:
        text = body.read().decode("utf-8")
    finally:
        body.close()
    record(services, user, Action.SEE_ADDRESSES, "download", key)
    return key, text


def channel_states(services: ConsoleServices) -> list[tuple[Channel, ChannelPause | None]]:
    return [(channel, services.channels.paused(channel)) for channel in Channel]


def change_channel(
    services: ConsoleServices, user: ConsoleUser, verb: str, fields: Mapping[str, str]
) -> None:
    channel = _channel(fields)
    # kept and shown to every viewer: an address typed into it is masked, as in comments
    reason = redact(_text(fields, "reason", required=True))
    if verb == "pause":
        services.channels.pause(
            ChannelPause(channel=channel, reason=reason, at=services.clock.now(), by=user.username)
        )
    elif verb == "resume":
        services.channels.resume(channel)
    else:
        raise BadRequest("pause or resume")
    record(services, user, Action.PAUSE_CHANNELS, verb, channel.value, comment=reason)


# -- outcomes: KPIs, experiments, capacity plan ------------------------------------------------

# The command that gives a page's figures on an operator's machine, named when this console
# cannot give them.
REPORT_COMMANDS = {
    "kpis": "rung kpis --athena",
    "experiments": "rung experiments report OUT",
    "plan": "rung plan FILE --lender ID",
}

# One plain sentence per headline KPI (the full definitions: docs/kpis.md).
KPI_DEFINITIONS = (
    ("accounts", "Accounts", "Accounts that entered a ladder: at least one reminder was decided."),
    (
        "cured",
        "Cured",
        "Accounts paid in full within the cure window (days) of their first reminder.",
    ),
    ("cure_rate", "Cure rate", "Cured accounts divided by accounts."),
    ("contacts", "Contacts", "Messages sent to borrowers, every channel."),
    ("cost", "Cost", "What the providers bill for those messages, at the lender's prices."),
    (
        "contacts_per_cured",
        "Contacts per cured",
        "All messages sent, to every account, divided by cured accounts.",
    ),
    (
        "cost_per_cured",
        "Cost per cured",
        "All provider cost divided by cured accounts: what one cure costs, misses included.",
    ),
)

# The tables the KPIs page shows, each (report key, heading, ((column, label), …)).
KPI_TABLES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "by_rung",
        "Payments after each rung (credited to the last message before the payment)",
        (
            ("rung", "Rung"),
            ("sent", "Sent"),
            ("payments", "Payments"),
            ("payments_per_sent", "Payments per message"),
            ("mean_hours_to_pay", "Mean hours to pay"),
        ),
    ),
    (
        "by_channel",
        "By channel",
        (
            ("channel", "Channel"),
            ("sent", "Sent"),
            ("delivery_rate", "Delivery rate"),
            ("payments", "Payments"),
            ("cost", "Cost"),
        ),
    ),
    (
        "by_template",
        "By template version",
        (
            ("template_id", "Template"),
            ("template_version", "Version"),
            ("sent", "Sent"),
            ("opt_out_rate", "Opt-out rate"),
            ("complaint_rate", "Complaint rate"),
            ("payments", "Payments"),
        ),
    ),
    (
        "by_variant",
        "By experiment variant",
        (
            ("variant", "Variant"),
            ("accounts", "Accounts"),
            ("cured", "Cured"),
            ("cure_rate", "Cure rate"),
            ("cost_per_cured", "Cost per cured"),
        ),
    ),
)

ReportName = Literal["kpis", "experiments", "plan"]


# Our choice: a page whose figures are being computed reloads itself this often; each reload
# waits for them again (within the report's own budget) before answering.
REFRESH_SECONDS = 5


def outcome_report(services: ConsoleServices, name: ReportName) -> dict[str, Any]:
    """The page's context: `report` (the CLI's JSON shape), or `unavailable` saying why and
    `command` naming what gives the figures instead; while they are being computed,
    `refresh_seconds` (the page reloads itself, no script)."""
    command = REPORT_COMMANDS[name]
    context: dict[str, Any] = {"report": None, "command": command, "refresh_seconds": 0}
    if services.reports is None:
        return {**context, "unavailable": "This console does not compute these figures."}
    try:
        report: dict[str, Any] = getattr(services.reports, name)()
    except ReportPending as exc:
        return {**context, "unavailable": str(exc), "refresh_seconds": REFRESH_SECONDS}
    except ReportUnavailable as exc:
        return {**context, "unavailable": str(exc)}
    return {**context, "report": report, "unavailable": ""}


def percent(value: float | None, digits: int = 1) -> str:
    """A rate as a percentage ("-" when there is none)."""
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def points(value: float | None) -> str:
    """A difference of rates in percentage points, signed."""
    return "-" if value is None else f"{value * 100:+.1f} pts"


def number(value: float | int | None) -> str:
    """A count or an amount, readable ("-" when there is none)."""
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    return f"{int(value):,}"
