"""A receipt for every lender file: what was accepted, what was rejected and why, what started.

Sent by email to the lender's `receipt_emails` when a file is processed (or rejected whole), and
kept in the upload record (`receipt_to`, `receipt_error`). The reject report is reached by a
time-limited link; the reasons are counted per kind across every invocation of a long file.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import timedelta
from email.utils import parseaddr

from functions.core.channels import Channel
from functions.core.errors import PermanentSendError, TransientSendError, UncertainSendError
from functions.core.lenders import LenderConfig
from functions.core.models import UploadRecord
from functions.core.ports import MessageSender, ObjectStore, OutboundMessage

TOP_REASONS = 3
MAX_REASON_KINDS = 50  # distinct kinds kept in the record; the rest count as "other"
LINK_VALIDITY = timedelta(hours=12)
_NUMBER = re.compile(r"\d+")


def reason_kind(field: str, reason: str) -> str:
    """`phone: not a valid phone number in region US`; row numbers folded so kinds repeat."""
    return f"{field}: {_NUMBER.sub('N', reason)}"


def add_reasons(counts: dict[str, int], kinds: Counter[str]) -> dict[str, int]:
    total = Counter(counts)
    for kind, count in kinds.items():
        if kind in total or len(total) < MAX_REASON_KINDS:
            total[kind] += count
        else:
            total["other"] += count
    return dict(total)


def subject(record: UploadRecord, name: str) -> str:
    if record.rejected_whole:
        return f"Rung receipt: {name} was rejected whole"
    stopped = ", unreadable part-way" if record.file_error else ""
    return f"Rung receipt: {name}: {record.accepted} accepted, {record.rejected} rejected{stopped}"


def text(record: UploadRecord, name: str, link: str) -> str:
    lines = [f"File: {record.key}", f"Received: {record.received_at.isoformat()}"]
    if record.attempt > 1:
        lines.append(f"Attempt: {record.attempt}")
    if record.rejected_whole:
        lines.append(f"Rejected whole: {record.file_error}")
    else:
        if record.file_error:
            lines.append(f"Reading stopped (the rows before stand): {record.file_error}")
        lines += [
            f"Rows: {record.rows}",
            f"Accepted: {record.accepted}",
            f"Rejected: {record.rejected}",
            f"Reminder ladders started: {record.ladders_started}",
        ]
    top = Counter(record.reasons).most_common(TOP_REASONS)
    if top:
        lines.append("Most frequent reasons:")
        lines += [f"  {count} × {kind}" for kind, count in top]
    if link:
        lines.append(f"Reject report (link valid {int(LINK_VALIDITY.total_seconds() // 3600)} h):")
        lines.append(f"  {link}")
    return "\n".join([subject(record, name), "", *lines, ""])


def send_receipt(
    email: MessageSender,
    objects: ObjectStore,
    lender: LenderConfig,
    record: UploadRecord,
    name: str,
    configuration_set: str | None,
) -> UploadRecord:
    """Email the receipt to each of the lender's receipt addresses; the record says to whom it
    went, or why it did not. A failed receipt never undoes the processing it reports."""
    if not lender.receipt_emails:
        return record
    link = objects.link(record.report_key, LINK_VALIDITY) if record.report_key else ""
    body = text(record, name, link)
    sent: list[str] = []
    errors: list[str] = []
    for to in lender.receipt_emails:
        message = OutboundMessage(
            channel=Channel.EMAIL,
            to=to,
            body=body,
            subject=subject(record, name),
            html=f"<pre>{html.escape(body)}</pre>",
            origination=lender.email_from,
            configuration_set=lender.ses_configuration_set or configuration_set,
        )
        try:
            email.send(message)
            sent.append(to)
        except (TransientSendError, PermanentSendError, UncertainSendError) as failed:
            domain = parseaddr(to)[1].rsplit("@", 1)[-1]
            errors.append(f"to …@{domain}: {failed}")
    return record.model_copy(update={"receipt_to": tuple(sent), "receipt_error": "; ".join(errors)})
