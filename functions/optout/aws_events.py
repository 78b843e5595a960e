"""The messages the optout function receives, as AWS sends them (docs/design.md, Provider events),
and their normalisation into Rung's own shapes at the edge: a borrower's `Reply`, a delivery
`Receipt`, an address `Refusal` (bounce, complaint), an `AlarmState`, or an `OtherEvent` only
counted. Nothing past `normalise` sees an AWS wire format.

One SNS Lambda event carries records; each record's `Message` is a JSON string holding one
of: a two-way SMS inbound message, an SES notification (`notificationType`, or `eventType`
when published by a configuration set), or an SMS delivery event. Unknown extra fields are
ignored; a shape we do not know is an error naming the record (never silently dropped).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from email.utils import parseaddr
from functools import cache
from html.parser import HTMLParser
from typing import Annotated, Literal, assert_never

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from functions.core.borrower_replies import Reply
from functions.core.errors import RungError
from functions.core.models import Channel, SuppressionSource
from functions.core.provider_events import AlarmState, OtherEvent, ProviderEvent, Receipt, Refusal
from functions.core.replies import ReplyRules, strip_quoted


class InboundRejected(RungError):
    """One SNS record could not be read. The message names the record and the fields, never
    their values (they may hold phone numbers or email addresses)."""

    def __init__(self, record_id: str, reason: str) -> None:
        super().__init__(f"record {record_id}: {reason}")
        self.record_id = record_id
        self.reason = reason


def describe(exc: ValidationError) -> str:
    """A ValidationError without the input values (no PII in logs:
    docs/compliance.md, Personal data)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'message'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


class _Aws(BaseModel):
    # Each model's validator is built when it first validates: an invocation builds only
    # those of the messages it receives (an SMS receipt needs none of SES's), not all at import.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


# --- SNS envelope -----------------------------------------------------------------------------


class SnsMessage(_Aws):
    MessageId: str
    TopicArn: str = ""
    Message: str
    Timestamp: datetime  # when SNS accepted the message: our best "when the borrower wrote"


class SnsRecord(_Aws):
    EventSource: Literal["aws:sns"] = "aws:sns"
    Sns: SnsMessage


class SnsEnvelope(_Aws):
    Records: tuple[SnsRecord, ...] = Field(min_length=1)


# --- Two-way SMS ------------------------------------------------------------------------------


def _e164(value: str) -> str:
    import phonenumbers  # only two-way SMS reads a number: not receipts, bounces or alarms

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not an E.164 number ({exc})") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


E164 = Annotated[str, AfterValidator(_e164)]


class InboundSms(_Aws):
    originationNumber: E164  # the borrower
    destinationNumber: str  # ours (number or short code), kept as sent
    messageKeyword: str = ""
    messageBody: str
    inboundMessageId: str = Field(min_length=1)
    previousPublishedMessageId: str | None = None  # absent when we never wrote to them


# --- SMS delivery events (End User Messaging SMS event destination) ---------------------------


class SmsDeliveryEvent(_Aws):
    eventType: str = Field(pattern=r"^TEXT_[A-Z_]+$")
    messageId: str
    messageStatus: str = ""
    destinationPhoneNumber: str = ""
    isFinal: bool = False


# --- SES --------------------------------------------------------------------------------------


class SesCommonHeaders(_Aws):
    from_: tuple[str, ...] = Field(default=(), alias="from")
    subject: str = ""
    messageId: str = ""


class SesMail(_Aws):
    messageId: str
    timestamp: datetime
    source: str = ""
    destination: tuple[str, ...] = ()
    commonHeaders: SesCommonHeaders | None = None


class SesRecipient(_Aws):
    emailAddress: str


class SesBounce(_Aws):
    bounceType: Literal["Permanent", "Transient", "Undetermined"]
    bounceSubType: str = ""
    bouncedRecipients: tuple[SesRecipient, ...] = Field(min_length=1)
    timestamp: datetime


class SesComplaint(_Aws):
    complainedRecipients: tuple[SesRecipient, ...] = Field(min_length=1)
    timestamp: datetime
    complaintFeedbackType: str = ""


class SesDelivery(_Aws):
    recipients: tuple[str, ...] = ()
    timestamp: datetime


class SesVerdict(_Aws):
    status: str


class SesReceipt(_Aws):
    recipients: tuple[str, ...] = ()
    spfVerdict: SesVerdict | None = None
    dkimVerdict: SesVerdict | None = None
    dmarcVerdict: SesVerdict | None = None
    virusVerdict: SesVerdict | None = None


class SesBounceNotification(_Aws):
    notificationType: Literal["Bounce"]
    bounce: SesBounce
    mail: SesMail


class SesComplaintNotification(_Aws):
    notificationType: Literal["Complaint"]
    complaint: SesComplaint
    mail: SesMail


class SesDeliveryNotification(_Aws):
    notificationType: Literal["Delivery"]
    delivery: SesDelivery
    mail: SesMail


class SesReceivedNotification(_Aws):
    notificationType: Literal["Received"]
    mail: SesMail
    receipt: SesReceipt
    content: str = Field(min_length=1)  # the raw MIME (SNS action of the receipt rule)

    @property
    def authenticated(self) -> bool:
        """DMARC passed: SPF or DKIM passed *aligned with the From domain*. SPF or DKIM alone
        pass for whichever domain sent or signed — an attacker's own domain, under a From that
        names a borrower — and SES reports no alignment for them, so only DMARC can tell. A
        domain without a DMARC record (GRAY) is not authenticated."""
        verdict = self.receipt.dmarcVerdict
        return verdict is not None and verdict.status == "PASS"


class SesOtherEvent(_Aws):
    """Events we only count: opens, clicks, sends, delays, the SNS subscription notice."""

    notificationType: Literal[
        "Send",
        "Reject",
        "Open",
        "Click",
        "DeliveryDelay",
        "Rendering Failure",
        "Subscription",
        "AmazonSnsSubscriptionSucceeded",
    ]


SesNotification = Annotated[
    SesBounceNotification
    | SesComplaintNotification
    | SesDeliveryNotification
    | SesReceivedNotification
    | SesOtherEvent,
    Field(discriminator="notificationType"),
]


class CloudWatchAlarm(_Aws):
    """A CloudWatch alarm state change, as CloudWatch publishes it to an SNS topic."""

    AlarmName: str
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str = ""


InboundMessage = InboundSms | SmsDeliveryEvent | SesNotification | CloudWatchAlarm


@cache
def _ses() -> TypeAdapter[SesNotification]:
    return TypeAdapter(SesNotification)


def parse_sns_message(record: SnsRecord) -> InboundMessage:
    """The JSON inside one SNS record, as its model. Raises InboundRejected."""
    record_id = record.Sns.MessageId
    try:
        data = json.loads(record.Sns.Message)
    except json.JSONDecodeError as exc:
        raise InboundRejected(record_id, f"Message is not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise InboundRejected(record_id, "Message is not a JSON object")
    try:
        if "inboundMessageId" in data:
            return InboundSms.model_validate(data)
        if "AlarmName" in data:
            return CloudWatchAlarm.model_validate(data)
        event_type = data.get("eventType")
        if isinstance(event_type, str) and event_type.startswith("TEXT_"):
            return SmsDeliveryEvent.model_validate(data)
        if "notificationType" not in data and isinstance(event_type, str):
            # Configuration-set event publishing names the kind `eventType`.
            data = {**data, "notificationType": event_type}
        if "notificationType" in data:
            return _ses().validate_python(data)
    except ValidationError as exc:
        raise InboundRejected(record_id, describe(exc)) from exc
    raise InboundRejected(
        record_id, "neither a two-way SMS, an SES notification, an SMS event nor an alarm"
    )


# --- Inbound email body -----------------------------------------------------------------------


class ReceivedEmail(BaseModel):
    """The parts of an inbound email reply the intent reader needs."""

    model_config = ConfigDict(frozen=True)

    message_id: str  # SES messageId: the dedupe key
    sender: str  # lower-case address of From
    recipients: tuple[str, ...]
    subject: str
    text: str  # the text/plain body (or the text of the HTML body), quoted history included
    header_message_id: str  # Message-ID header, for In-Reply-To
    authenticated: bool


class _HtmlText(HTMLParser):
    """Text of an HTML body: script/style dropped, block elements become line breaks."""

    _SKIP = frozenset({"script", "style", "head", "title"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "blockquote", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "blockquote":
            self.parts.append("> ")  # quoted history in HTML mail: strip_quoted drops it

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "\n".join(line.strip() for line in "".join(parser.parts).splitlines())


def read_received(notification: SesReceivedNotification) -> ReceivedEmail:
    """Parse the raw MIME of an inbound reply (stdlib `email`, policy.default)."""
    message = Parser(policy=policy.default).parsestr(notification.content)
    if not isinstance(message, EmailMessage):  # policy.default always builds EmailMessage
        raise InboundRejected(notification.mail.messageId, "content is not an email message")
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if isinstance(body, EmailMessage):
        content = body.get_content()
        text = html_to_text(content) if body.get_content_subtype() == "html" else content
    headers = notification.mail.commonHeaders
    from_header = str(message.get("From", "")) or (
        headers.from_[0] if headers and headers.from_ else notification.mail.source
    )
    sender = parseaddr(from_header)[1].lower()
    if not sender:
        raise InboundRejected(notification.mail.messageId, "email has no sender address")
    recipients = notification.receipt.recipients or notification.mail.destination
    return ReceivedEmail(
        message_id=notification.mail.messageId,
        sender=sender,
        recipients=tuple(parseaddr(r)[1].lower() for r in recipients),
        subject=str(message.get("Subject", "")),
        text=text,
        header_message_id=str(message.get("Message-ID", "")),
        authenticated=notification.authenticated,
    )


# --- Normalisation ----------------------------------------------------------------------------

_SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)


def sms_reply(sms: InboundSms) -> Reply:
    """A two-way SMS as the borrower's reply."""
    return Reply(
        channel=Channel.SMS,
        sender=sms.originationNumber,
        text=sms.messageBody,
        message_id=sms.inboundMessageId,
        ours=(sms.destinationNumber,),
    )


def email_reply(mail: ReceivedEmail, rules: ReplyRules) -> Reply:
    """An inbound email as the borrower's reply: quoted history and Re:/Fwd: prefixes dropped."""
    return Reply(
        channel=Channel.EMAIL,
        sender=mail.sender,
        text=strip_quoted(mail.text, rules),
        message_id=mail.message_id,
        ours=mail.recipients,
        authenticated=mail.authenticated,
        subject=_SUBJECT_PREFIX.sub("", mail.subject).strip(),
        header_message_id=mail.header_message_id,
    )


def normalise(message: InboundMessage, *, at: datetime, rules: ReplyRules) -> Reply | ProviderEvent:
    """One AWS message as Rung's own shape. `at`: when SNS accepted it."""
    match message:
        case InboundSms():
            return sms_reply(message)
        case SesReceivedNotification():
            return email_reply(read_received(message), rules)
        case SesBounceNotification():
            bounce = message.bounce
            return Refusal(
                channel=Channel.EMAIL,
                addresses=tuple(r.emailAddress for r in bounce.bouncedRecipients),
                source=SuppressionSource.BOUNCE,
                permanent=bounce.bounceType == "Permanent",
                kind=bounce.bounceType,
                detail=bounce.bounceSubType,
                at=bounce.timestamp,
                provider_message_id=message.mail.messageId,
                status=f"BOUNCE_{bounce.bounceType.upper()}",
            )
        case SesComplaintNotification():
            complaint = message.complaint
            return Refusal(
                channel=Channel.EMAIL,
                addresses=tuple(r.emailAddress for r in complaint.complainedRecipients),
                source=SuppressionSource.COMPLAINT,
                permanent=True,
                kind="",
                detail=complaint.complaintFeedbackType,
                at=complaint.timestamp,
                provider_message_id=message.mail.messageId,
                status="COMPLAINT",
            )
        case SesDeliveryNotification():
            return Receipt(
                channel=Channel.EMAIL,
                provider_message_id=message.mail.messageId,
                status="DELIVERED",
                at=message.delivery.timestamp,
                addresses=message.delivery.recipients,
                event="delivery",
                metric="EmailDelivered",
            )
        case SmsDeliveryEvent():
            # Receipts can take 72 h (docs/design.md, Provider events): noted on the ledger,
            # never waited on.
            return Receipt(
                channel=Channel.SMS,
                provider_message_id=message.messageId,
                status=message.messageStatus or message.eventType,
                at=at,
                addresses=(message.destinationPhoneNumber,),
                event="sms_delivery_event",
                metric="SmsDeliveryEvent",
                note=f"{message.eventType} {message.messageStatus}".strip(),
            )
        case CloudWatchAlarm():
            return AlarmState(name=message.AlarmName, state=message.NewStateValue)
        case SesOtherEvent():
            return OtherEvent(
                event="ses_event", note=message.notificationType, metric="SesOtherEvent"
            )
        case _:
            assert_never(message)
