"""`report.html`: one self-contained page a compliance officer can read
(docs/user-stories.md, stories 11 and 13).

No network: inline CSS, SVG charts whose geometry is computed here and drawn by the Jinja2
template (autoescaped — bodies and names come from lender files), and a Content-Security-Policy
that forbids loading anything at all. The per-account timeline is capped so the page stays
small for large files; messages.csv holds every decision.

It reads on a phone (390 px: nothing cut off, no sideways scroll), says why reminders were held
back and not sent, lists the input rows not taken, the replies and the payments, explains a
legal status, and filters the timeline by account, status, reason, channel and state with a
small inline script that also exports one account's timeline as CSV (no network either).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from functions.core.feedback import redact
from functions.core.masking import mask_address
from functions.core.models import Account, AuditRecord, Channel, Decision
from functions.core.payments_file import PaymentRow as Payment
from functions.core.preferences import describe
from rung.engine import SimulationResult

TEMPLATE_NAME = "report_template.html.j2"
PAGE_LOCALE = "en_US"
# Caps that keep the page small (≈ 1 MB at most) for 10 000-account files.
TIMELINE_ACCOUNTS = 200
# Replies and payments listed on the page (our choice: a page a browser opens at once); the
# page says how many there were.
ROWS_LISTED = 500
BODY_PREVIEW_CHARS = 140

# Gate reasons in plain words for non-engineers; an unknown code is shown as written.
REASON_TEXT = {
    "opted_out": "Borrower asked us to stop",
    "erased": "Borrower's data was erased: never contacted again",
    "template_not_approved": "Message text not approved yet",
    "payment_claimed": "Borrower says they paid (on hold)",
    "status_payment_claimed": "Borrower says they paid (on hold)",
    "payment_claim_hold": "Paused while we check the borrower's payment",
    "status_promise_to_pay": "Borrower promised to pay (on hold)",
    "promise_to_pay_hold": "Paused until the day the borrower promised to pay",
    "channel_excluded": "Borrower asked not to be contacted this way",
    "preferred_hours": "Outside the hours the borrower asked for",
    "no_address": "No phone number or email for this channel",
    "status_paid": "Account is paid",
    "status_disputed": "Borrower disputes the debt",
    "status_cease": "Borrower asked for no contact at all",
    "status_bankruptcy": "Borrower is in bankruptcy",
    "status_attorney": "Borrower is represented by a lawyer",
    "status_deceased": "Borrower is deceased",
    "status_completed": "Reminders already finished",
    "missed_before_upload": "Reminder day had passed when the file arrived",
    "expired_after_deferral": "Held back until the next reminder replaced it",
    "quiet_hours": "Too early or too late for the borrower",
    "blackout_day": "Day when no reminders are sent (e.g. Sunday)",
    "holiday": "Public holiday at the borrower's location",
    "no_timezone": "Borrower's time zone is unknown",
    "invalid_location": "Borrower's location in the file is invalid",
    "no_allowed_time": "No allowed time to contact the borrower",
    "provider_unavailable": "Provider throttled or down: tried again later",
    "service_unavailable": "Lambda or Step Functions unavailable: tried again later",
    "capacity": "Sender's rate full: waiting for a reserved send slot",
    "render_failed": "Message could not be filled in",
    "provider_rejected": "The SMS/email provider refused it",
    "provider_outcome_unknown": "Unknown whether it was delivered",
    "earlier_attempt_outcome_unknown": "Earlier attempt's delivery unknown",
}
DECISION_TEXT = {
    Decision.SENT.value: "Sent",
    Decision.DEFERRED.value: "Held back for later",
    Decision.SUPPRESSED.value: "Not sent",
    Decision.UNCERTAIN.value: "Delivery unknown",
}
# What an account's status means for its reminders, for the statuses that stop or hold them.
STATUS_TEXT = {
    "DISPUTED": "The borrower disputes the debt. Every reminder is held back until the lender "
    "records that the debt was verified (ops: rung replies resolve … --as lift).",
    "CEASE": "The borrower asked for no contact at all: no reminder goes out on any channel.",
    "BANKRUPTCY": "The borrower is in bankruptcy: collection reminders stop.",
    "ATTORNEY": "The borrower is represented by a lawyer: reminders to the borrower stop.",
    "DECEASED": "The borrower has died: reminders stop.",
    "PAID": "The account is paid: reminders stop.",
    "PAYMENT_CLAIMED": "The borrower says they paid: reminders are on hold for the lender's "
    "hold days while the payment is checked.",
    "PROMISE_TO_PAY": "The borrower promised to pay on a day: reminders are on hold until "
    "then, plus a grace period.",
}
# How each reply was read, in words.
INTENT_TEXT = {
    "opt_out": "Asked us to stop",
    "opt_in": "Asked to receive reminders again",
    "help": "Asked for help",
    "payment_claim": "Says they paid",
    "promise_to_pay": "Promised to pay",
    "attorney": "Has a lawyer",
    "bankruptcy": "In bankruptcy",
    "dispute": "Disputes the debt",
    "cease": "Asked for no contact at all",
    "deceased": "Borrower has died",
    "complaint": "Complaint",
    "contact_preference": "Said when or how to contact them",
    "other": "Not understood: for ops to read",
}
INVARIANT_TEXT = {
    "sends_in_quiet_hours": "Messages sent at night (quiet hours)",
    "sends_on_blackout_days": "Messages sent on a holiday or other blackout day",
    "sends_after_opt_out": "Messages sent after the borrower opted out",
    "double_sends": "Same reminder sent twice",
}


# Frequency caps are named in the profiles (`cap_sms_per_local_day`, …): one text for all.
CAP_PREFIX = "cap_"
CAP_TEXT = "Contact limit for the period reached"


def rung_number(record: AuditRecord) -> int:
    """AuditRecord.rung is the 0-based ladder index (LadderState.rung); people read 1-based."""
    return record.rung + 1


def reason_text(code: str) -> str:
    """Plain words for a gate reason; `provider_rejected:InvalidNumber` reads by its prefix."""
    prefix = code.split(":", 1)[0]
    if prefix.startswith(CAP_PREFIX):
        return CAP_TEXT
    return REASON_TEXT.get(prefix, code.replace("_", " ").capitalize() if code else "")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str = ""


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rects: list[Rect]
    texts: list[Text]
    gridlines: list[float]  # y positions
    shades: list[Rect] = field(default_factory=list)  # drawn behind the bars


PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 44.0, 8.0, 10.0, 28.0


def nice_step(peak: float, ticks: int = 4) -> int:
    """Gridline step of the form 1, 2 or 5 × 10^k giving about `ticks` lines up to `peak`."""
    raw = max(peak, 1) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return max(1, int(step))


def _axes(width: int, height: int, peak: int) -> tuple[float, list[Text], list[float], float]:
    """Scale (px per unit), y-axis labels and gridline positions for counts 0..peak."""
    step = nice_step(peak)
    top = step * math.ceil(max(peak, 1) / step)
    plot_height = height - PLOT_TOP - PLOT_BOTTOM
    scale = plot_height / top
    labels, lines = [], []
    for value in range(0, top + 1, step):
        y = height - PLOT_BOTTOM - value * scale
        lines.append(y)
        labels.append(Text(PLOT_LEFT - 6, y + 4, format_decimal(value, locale=PAGE_LOCALE), "end"))
    return scale, labels, lines, plot_height


@dataclass
class SentCounts:
    """What the charts draw, counted from the SENT records in one pass: per UTC day and
    channel, per channel and UTC minute, per local hour. Counts of parts of a run add up."""

    by_day: Counter[tuple[date, Channel]] = field(default_factory=Counter)
    by_minute: Counter[tuple[Channel, datetime]] = field(default_factory=Counter)
    by_hour: Counter[int] = field(default_factory=Counter)

    @classmethod
    def of(cls, records: Iterable[AuditRecord]) -> SentCounts:
        counts = cls()
        for record in records:
            counts.add(record)
        return counts

    def add(self, record: AuditRecord) -> None:
        if record.decision is not Decision.SENT:
            return
        at = record.at_utc.astimezone(UTC)
        self.by_day[(at.date(), record.channel)] += 1
        self.by_minute[(record.channel, at.replace(second=0, microsecond=0))] += 1
        hour = local_hour(record)
        if hour is not None:
            self.by_hour[hour] += 1

    def merge(self, other: SentCounts) -> None:
        self.by_day.update(other.by_day)
        self.by_minute.update(other.by_minute)
        self.by_hour.update(other.by_hour)


def daily_chart(
    sent: SentCounts, start: datetime, days: int, width: int = 960, height: int = 260
) -> Chart:
    """Stacked bars of SENT messages per UTC day and channel over the simulated period."""
    first = start.astimezone(UTC).date()
    dates = [first + timedelta(days=offset) for offset in range(max(days, 1))]
    counts: dict[date, Counter[Channel]] = defaultdict(Counter)
    for (day, channel), count in sent.by_day.items():
        counts[day][channel] += count
    peak = max((sum(counts[day].values()) for day in dates), default=0)
    scale, texts, lines, _ = _axes(width, height, peak)
    slot = (width - PLOT_LEFT - PLOT_RIGHT) / len(dates)
    label_every = max(1, math.ceil(len(dates) / 16))
    rects: list[Rect] = []
    for index, day in enumerate(dates):
        x = PLOT_LEFT + index * slot + slot * 0.15
        base = height - PLOT_BOTTOM
        for channel in Channel:
            value = counts[day][channel]
            if value:
                bar = value * scale
                base -= bar
                rects.append(
                    Rect(
                        x,
                        base,
                        slot * 0.7,
                        bar,
                        f"bar-{channel.value}",
                        f"{day.isoformat()}: {value} {channel.value.upper()}",
                    )
                )
        if index % label_every == 0:
            texts.append(Text(x + slot * 0.35, height - 8, day.strftime("%d %b")))
    return Chart(width, height, rects, texts, lines)


def busiest_minute_chart(
    sent: SentCounts,
    start: datetime,
    days: int,
    capacity_per_second: Mapping[str, int | None],
    width: int = 960,
    height: int = 260,
) -> Chart:
    """For each UTC day and channel, the most messages SENT within one minute, beside the
    channel's capacity per minute (its rate × 60) drawn as a line: a bar at the line means the
    sends were paced right up to what the provider allows; above it, they would be throttled."""
    first = start.astimezone(UTC).date()
    dates = [first + timedelta(days=offset) for offset in range(max(days, 1))]
    busiest: dict[tuple[date, Channel], int] = defaultdict(int)
    for (channel, minute), count in sent.by_minute.items():
        key = (minute.date(), channel)
        busiest[key] = max(busiest[key], count)
    capacity = {
        channel: rate * 60
        for channel in Channel
        if (rate := capacity_per_second.get(channel.value)) is not None
    }
    peak = max([*busiest.values(), *capacity.values(), 1])
    scale, texts, lines, _ = _axes(width, height, peak)
    slot = (width - PLOT_LEFT - PLOT_RIGHT) / len(dates)
    bar = slot * 0.35
    label_every = max(1, math.ceil(len(dates) / 16))
    bottom = height - PLOT_BOTTOM
    rects: list[Rect] = []
    for index, day in enumerate(dates):
        x = PLOT_LEFT + index * slot + slot * 0.15
        for offset, channel in enumerate(Channel):
            value = busiest.get((day, channel), 0)
            if value:
                rects.append(
                    Rect(
                        x + offset * bar,
                        bottom - value * scale,
                        bar,
                        value * scale,
                        f"bar-{channel.value}",
                        f"{day.isoformat()}: at most {value} {channel.value.upper()} in one minute",
                    )
                )
        if index % label_every == 0:
            texts.append(Text(x + slot * 0.35, height - 8, day.strftime("%d %b")))
    for channel, limit in capacity.items():
        rects.append(
            Rect(
                PLOT_LEFT,
                bottom - limit * scale - 1,
                width - PLOT_LEFT - PLOT_RIGHT,
                2,
                f"capacity-{channel.value}",
                f"{channel.value.upper()} capacity: {limit} per minute",
            )
        )
    return Chart(width, height, rects, texts, lines)


def local_hour(record: AuditRecord) -> int | None:
    """The hour of day where the message was decided (the gate's local time), if recorded."""
    if not record.at_local:
        return None
    return datetime.fromisoformat(record.at_local).hour


def in_window(hour: int, window: tuple[time, time]) -> bool:
    """Is the whole hour [hour:00, hour+1:00) inside the allowed local window?"""
    opens, closes = window
    start_minute = hour * 60
    end_minute = start_minute + 60
    return opens.hour * 60 + opens.minute <= start_minute and end_minute <= (
        closes.hour * 60 + closes.minute
    )


def hour_chart(
    sent: SentCounts,
    allowed_window: tuple[time, time] | None,
    width: int = 960,
    height: int = 220,
) -> Chart:
    """Histogram of SENT messages by local hour (0–23), quiet hours shaded."""
    hours = sent.by_hour
    scale, texts, lines, plot_height = _axes(width, height, max(hours.values(), default=0))
    slot = (width - PLOT_LEFT - PLOT_RIGHT) / 24
    quiet = [
        hour
        for hour in range(24)
        if allowed_window is not None and not in_window(hour, allowed_window)
    ]
    shades = [
        Rect(
            PLOT_LEFT + first * slot,
            PLOT_TOP,
            (last + 1 - first) * slot,
            plot_height,
            "quiet",
            f"quiet hours {first:02d}:00–{(last + 1) % 24:02d}:00",
        )
        for first, last in _runs(quiet)
    ]
    rects: list[Rect] = []
    for hour in range(24):
        x = PLOT_LEFT + hour * slot
        if hours[hour]:
            bar = hours[hour] * scale
            rects.append(
                Rect(
                    x + slot * 0.15,
                    height - PLOT_BOTTOM - bar,
                    slot * 0.7,
                    bar,
                    "bar-sent",
                    f"{hour:02d}:00–{hour:02d}:59: {hours[hour]} sent",
                )
            )
        if hour % 2 == 0:
            texts.append(Text(x + slot / 2, height - 8, f"{hour:02d}"))
    return Chart(width, height, rects, texts, lines, shades)


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    """Consecutive hours as (first, last) runs: one shaded block per quiet stretch."""
    runs: list[tuple[int, int]] = []
    for hour in hours:
        if runs and runs[-1][1] == hour - 1:
            runs[-1] = (runs[-1][0], hour)
        else:
            runs.append((hour, hour))
    return runs


@dataclass(frozen=True)
class ReasonBar:
    code: str
    text: str
    count: int
    percent: float


def reason_bars(by_reason: dict[str, int]) -> list[ReasonBar]:
    peak = max(by_reason.values(), default=0)
    return [
        ReasonBar(code, reason_text(code), count, 100 * count / peak if peak else 0)
        for code, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    ]


@dataclass(frozen=True)
class TimelineRow:
    when: str
    offset: str
    rung: int
    channel: str
    decision: str
    decision_text: str
    reason: str
    reason_text: str
    preview: str


@dataclass(frozen=True)
class AccountTimeline:
    account_id: str
    contacts: str
    status: str
    counts: dict[str, int]
    rows: list[TimelineRow]
    preferences: tuple[str, ...] = ()  # contact preferences, with source and time
    status_text: str = ""
    state: str = ""  # where the borrower lives: US state, else country ("" unknown)

    @property
    def channels(self) -> list[str]:
        return sorted({row.channel for row in self.rows})

    @property
    def reasons(self) -> list[str]:
        return sorted({row.reason.split(":", 1)[0] for row in self.rows if row.reason})


@dataclass(frozen=True)
class ReplyRow:
    at: str
    channel: str
    sender: str  # masked
    intent: str
    intent_text: str
    text: str  # phone numbers and emails in it masked


@dataclass(frozen=True)
class PaymentRow:
    account_id: str
    paid_at: str
    amount: str
    status: str  # the account's status at the end of the run ("" unknown account)


def preview(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= BODY_PREVIEW_CHARS else flat[: BODY_PREVIEW_CHARS - 1] + "…"


def _when(record: AuditRecord) -> tuple[str, str]:
    instant = (
        datetime.fromisoformat(record.at_local)
        if record.at_local
        else record.at_utc.astimezone(UTC)
    )
    offset = instant.strftime("%z")
    return instant.strftime("%Y-%m-%d %H:%M"), f"UTC{offset[:3]}:{offset[3:]}"


def timelines(result: SimulationResult, limit: int = TIMELINE_ACCOUNTS) -> list[AccountTimeline]:
    """The first `limit` accounts (file order) with every decision for them, in time order."""
    first = result.accounts[:limit]
    by_account: dict[tuple[str, str], list[AuditRecord]] = {
        (account.lender_id, account.account_id): [] for account in first
    }
    for record in result.records:
        kept = by_account.get((record.lender_id, record.account_id))
        if kept is not None:
            kept.append(record)
    shown: list[AccountTimeline] = []
    for account in first:
        records = sorted(
            by_account[(account.lender_id, account.account_id)], key=lambda r: r.at_utc
        )
        rows = []
        for record in records:
            when, offset = _when(record)
            rows.append(
                TimelineRow(
                    when,
                    offset,
                    rung_number(record),
                    record.channel.value.upper(),
                    record.decision.value,
                    DECISION_TEXT[record.decision.value],
                    record.reason,
                    reason_text(record.reason),
                    preview(record.body),
                )
            )
        shown.append(
            AccountTimeline(
                account.account_id,
                _contacts(account),
                account.status.value,
                _decision_counts(records),
                rows,
                tuple(describe(p) for p in account.contact_preferences),
                STATUS_TEXT.get(account.status.value, ""),
                account.state or account.country or "",
            )
        )
    return shown


def reply_rows(result: SimulationResult) -> list[ReplyRow]:
    """Every scripted reply, when it arrived and how it was read; addresses masked."""
    return [
        ReplyRow(
            utc_z_minutes(reply.at),
            reply.channel.value.upper(),
            mask_address(reply.sender) or "",
            intent,
            INTENT_TEXT.get(intent, intent.replace("_", " ").capitalize()),
            preview(redact(reply.text)),
        )
        for reply, intent in result.replies
    ]


def payment_rows(result: SimulationResult, payments: Sequence[Payment]) -> list[PaymentRow]:
    status = {account.account_id: account.status.value for account in result.accounts}
    return [
        PaymentRow(
            payment.account_id,
            utc_z_minutes(payment.paid_at),
            str(payment.amount),
            status.get(payment.account_id, ""),
        )
        for payment in payments
    ]


def utc_z_minutes(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def held_back_summary(by_reason: Mapping[str, int], shown: int = 2) -> str:
    """The card's line under "Held back for later": the commonest reasons, in words."""
    ranked = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    words = [f"{reason_text(code).lower()} ({count})" for code, count in ranked[:shown]]
    if len(ranked) > shown:
        words.append(f"{len(ranked) - shown} more reason(s) below")
    return "; ".join(words) or "none"


def _decision_counts(records: list[AuditRecord]) -> dict[str, int]:
    counts = Counter(record.decision.value for record in records)
    return {
        decision.value: counts[decision.value] for decision in Decision if counts[decision.value]
    }


def _contacts(account: Account) -> str:
    return " · ".join(
        masked for channel in Channel if (masked := mask_address(account.address(channel)))
    )


def _filter_options(shown: list[AccountTimeline]) -> dict[str, list[tuple[str, str]]]:
    """(value, label) choices for the timeline's filters, from what the shown accounts hold."""
    return {
        "status": [(v, v.replace("_", " ").lower()) for v in sorted({a.status for a in shown})],
        "reason": [
            (code, reason_text(code)) for code in sorted({r for a in shown for r in a.reasons})
        ],
        "channel": [(c, c) for c in sorted({c for a in shown for c in a.channels})],
        "state": [(v, v) for v in sorted({a.state for a in shown if a.state})],
    }


def money(amount: float | str, currency: str) -> str:
    """Cost in the price list's currency: cents from one unit up, fractions of a cent below."""
    value = Decimal(str(amount))
    pattern = "¤#,##0.00" if abs(value) >= 1 else "¤#,##0.00##"
    return format_currency(
        value, currency, format=pattern, locale=PAGE_LOCALE, currency_digits=False
    )


def unit_price(amount: str, currency: str) -> str:
    """Unit prices are fractions of a cent (US$0.000025 per transition): keep every digit."""
    return format_currency(
        Decimal(amount),
        currency,
        format="¤#,##0.00########",
        locale=PAGE_LOCALE,
        currency_digits=False,
    )


def number(value: int) -> str:
    return format_decimal(value, locale=PAGE_LOCALE)


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=True,  # every value from a lender file or a reply is escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["money"] = money
    environment.filters["unit_price"] = unit_price
    environment.filters["number"] = number
    return environment


@dataclass
class ReportView:
    """What the page shows beyond summary.json: the chart counts, the first accounts'
    timelines, the replies and the payments — small whatever the run's size (the timelines
    are limited to `TIMELINE_ACCOUNTS`; the page says how many accounts there were)."""

    sent: SentCounts
    shown: list[AccountTimeline]
    replies: list[ReplyRow]
    payments: list[PaymentRow]
    accounts_total: int

    @classmethod
    def of(cls, result: SimulationResult, payments: Sequence[Payment] = ()) -> ReportView:
        return cls(
            SentCounts.of(result.records),
            timelines(result),
            reply_rows(result),
            payment_rows(result, payments),
            len(result.accounts),
        )


def render_report(
    summary: dict[str, Any],
    result: SimulationResult,
    *,
    start: datetime,
    days: int,
    allowed_window: tuple[time, time] | None = None,
    payments: Sequence[Payment] = (),
) -> str:
    """The whole page of one run held in memory (`render_page` draws any view)."""
    view = ReportView.of(result, payments)
    return render_page(summary, view, start=start, days=days, allowed_window=allowed_window)


def render_page(
    summary: dict[str, Any],
    view: ReportView,
    *,
    start: datetime,
    days: int,
    allowed_window: tuple[time, time] | None = None,
) -> str:
    """The whole page as a string (UTF-8 when written); payments are listed with each
    account's final status."""
    shown = view.shown
    return (
        _environment()
        .get_template(TEMPLATE_NAME)
        .render(
            s=summary,
            start=start.astimezone(UTC),
            end=(start + timedelta(days=days)).astimezone(UTC),
            days=days,
            daily=daily_chart(view.sent, start, days),
            minutes=busiest_minute_chart(
                view.sent, start, days, summary.get("capacity_per_second", {})
            ),
            hours=hour_chart(view.sent, allowed_window),
            allowed_window=allowed_window,
            reasons=reason_bars(summary["suppressed"]["by_reason"]),
            deferral_reasons=reason_bars(summary["deferred"]["by_reason"]),
            held_back=held_back_summary(summary["deferred"]["by_reason"]),
            rejected=summary.get("rejected_rows", {"total": 0, "listed": []}),
            replies=view.replies,
            payments=view.payments,
            filters=_filter_options(shown),
            invariant_text=INVARIANT_TEXT,
            timelines=shown,
            accounts_total=view.accounts_total,
            rows_listed=ROWS_LISTED,
            reason_text=reason_text,
        )
    )
