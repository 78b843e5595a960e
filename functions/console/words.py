"""Plain words for what Rung recorded: gate decisions, reply effects, suppression sources, and
which suppressions a person may lift from the console."""

from __future__ import annotations

from functions.core.models import AuditRecord, Decision, SuppressionSource

DECISIONS = {
    Decision.SENT: "Sent",
    Decision.DEFERRED: "Held for later",
    Decision.SUPPRESSED: "Not sent",
    Decision.UNCERTAIN: "Outcome unknown",
}

# Gate reasons (functions.core.policy and functions.core.sending); the part before ":" names
# the kind, what follows is the provider's or renderer's own words.
REASONS = {
    "opted_out": "the borrower opted out of this channel (or every channel) earlier",
    "template_not_approved": "no approved version of the template exists yet",
    "no_address": "the account has no address on this channel",
    "quiet_hours": "outside the hours the rules allow for the borrower's time zone",
    "holiday": "a public holiday where the borrower lives",
    "blackout_day": "a day the rules forbid contact",
    "blackout": "a day the rules forbid contact",
    "frequency_cap": "the limit on messages per period was reached",
    "capacity": "the provider's sending rate was full; tried again shortly",
    "contact_preference": "the borrower asked for other hours",
    "channel_excluded": "the borrower asked not to be contacted on this channel",
    "channel_paused": "the whole channel was paused by a person",
    "invalid_location": "the borrower's location in the file was inconsistent",
    "no_timezone": "the borrower's time zone could not be determined",
    "no_allowed_time": "no permitted sending time was left for this step",
    "status_payment_claimed": "the borrower said they paid; held while that is checked",
    "status_promise_to_pay": "the borrower promised to pay; held until the promised date",
    "expired_after_deferral": "held too long: the next step replaced it",
    "missed_before_upload": "its time had passed before the file arrived",
    "provider_unavailable": "the provider did not answer; tried again later",
    "service_unavailable": "a service did not answer; tried again later",
    "provider_outcome_unknown": "the provider's answer was lost; never re-sent automatically",
    "earlier_attempt_outcome_unknown": "an earlier attempt's outcome is unknown",
    "provider_rejected": "the provider refused the message",
    "render_failed": "the template could not be filled in for this account",
}

SOURCES = {
    SuppressionSource.REPLY: "the borrower replied STOP (or asked to stop)",
    SuppressionSource.UNSUBSCRIBE: "the borrower used the unsubscribe link",
    SuppressionSource.COMPLAINT: "the borrower marked a message as spam",
    SuppressionSource.BOUNCE: "the address does not exist (permanent bounce)",
    SuppressionSource.PROVIDER: "the provider says the address is gone",
    SuppressionSource.WRONG_NUMBER: "the person at this number said it is a wrong number",
    SuppressionSource.LENDER: "added by the lender's staff",
}

# Only a suppression a person added may be lifted by a person. An opt-out (a STOP reply, an
# unsubscribe, a spam complaint) is lifted only by the borrower's own opt-in (START); a dead
# address or a wrong number only by a new address in the lender's file.
LIFTABLE = frozenset({SuppressionSource.LENDER})

WHY_NOT_LIFTABLE = {
    SuppressionSource.REPLY: "only the borrower can lift an opt-out, by replying START",
    SuppressionSource.UNSUBSCRIBE: "only the borrower can lift an opt-out, by opting in again",
    SuppressionSource.COMPLAINT: "only the borrower can lift an opt-out, by opting in again",
    SuppressionSource.BOUNCE: "the lender must send a new address in its file",
    SuppressionSource.PROVIDER: "the lender must send a new address in its file",
    SuppressionSource.WRONG_NUMBER: "the lender must send the borrower's right number",
}


def reason_words(reason: str) -> str:
    """A gate reason as a sentence; unknown reasons are shown as written, not hidden."""
    if not reason:
        return ""
    kind, _, detail = reason.partition(":")
    if kind.startswith("status_") and kind not in REASONS:
        return f"the account's status is {kind.removeprefix('status_').replace('_', ' ')}"
    words = REASONS.get(kind, kind.replace("_", " "))
    return f"{words} ({detail})" if detail else words


def decision_words(record: AuditRecord) -> str:
    head = DECISIONS[record.decision]
    why = reason_words(record.reason)
    return f"{head}: {why}" if why else head
