"""Everything inbound, in one place for the handlers: a borrower's reply
(functions.core.borrower_replies) or a provider event (functions.core.provider_events),
each already normalised at the edge (functions.optout.aws_events).
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from functions.core.borrower_replies import BorrowerReplies, Reply
from functions.core.inbound_effects import FeedbackPorts, Outcome, ReplyState, redact
from functions.core.provider_events import (
    AlarmState,
    OtherEvent,
    ProviderEvent,
    ProviderEvents,
    Receipt,
    Refusal,
)

__all__ = ["Feedback", "FeedbackPorts", "Outcome", "ReplyState", "redact"]


class Feedback(BorrowerReplies, ProviderEvents):
    def handle(self, event: Reply | ProviderEvent, *, at: datetime, now: datetime) -> Outcome:
        """`at`: when the message was published (SNS Timestamp); `now`: processing time."""
        match event:
            case Reply():
                return self.on_reply(event, at=at, now=now)
            case Receipt():
                return self.on_receipt(event)
            case Refusal():
                return self.on_refusal(event)
            case AlarmState():
                return self.on_alarm(event, at=at)
            case OtherEvent():
                return self.on_other(event)
            case _:
                assert_never(event)
