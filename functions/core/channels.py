"""The channels Rung sends on, and everything that differs between them, in one registry.

Core code never asks "is this an SMS?": it looks the channel up here and reads what it needs —
where the address is, how a template file is named and split, how a body is measured, how a
borrower opts out, whether borrowers write back on it. Adding a channel is a `ChannelSpec`
here, an adapter for its provider (`functions.core.ports.MessageSender`), its templates and its
configuration (docs/decisions.md, One registry of channels).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"


class OptOut(StrEnum):
    """How a message on a channel tells the borrower to stop (docs/compliance.md, Opt-out)."""

    REPLY = "reply"  # a keyword replied to the sender (STOP); the profile names the phrases
    LINK = "link"  # a signed one-click unsubscribe link, in every part (RFC 8058)
    SETTINGS = "settings"  # the app's or the phone's notification settings, said in the body


class BodyRule(StrEnum):
    """How a rendered body is measured."""

    SEGMENTS = "segments"  # GSM-7 / UCS-2 segments (functions.core.segments)
    PARTS = "parts"  # an HTML part and a plain-text part, written by hand
    LENGTH = "length"  # characters, against `body_limit`


class PacingScope(StrEnum):
    """Whose rate a send counts against (functions.core.pacing)."""

    ORIGINATION = "origination"  # the lender's sending identity (an SMS number / sender id)
    PROVIDER = "provider"  # one provider account per deployment and region


@dataclass(frozen=True)
class ChannelSpec:
    channel: Channel
    # Where the address is: the lender file's column and the stored account's field.
    address_field: str
    # Addresses compared without case (email): suppressions and leases key on the folded form.
    address_folds_case: bool
    # Template files `{template_id}/{channel}.{locale}.{extension}`.
    extension: str
    # The front-matter field that is the message's heading (email subject, push title), or
    # None when the channel has no heading (SMS). Required when named.
    heading: str | None
    body_rule: BodyRule
    body_limit: int | None  # characters, for BodyRule.LENGTH
    heading_limit: int | None  # characters of the rendered heading
    optout: OptOut
    # Borrowers write back on this channel (a reply is read, confirmed on the same channel).
    replies: bool
    # The confirmation texts of config/replies.yaml that answer a reply on this channel: the
    # body's key and the heading's (None: no heading). None when borrowers cannot write back.
    confirmation_body: str | None
    confirmation_heading: str | None
    # A confirmation goes out from the address the borrower wrote to (an SMS number), not
    # from the lender's configured origination (an email From).
    answers_from_recipient: bool
    # What the borrower's reply counts as in metrics ("InboundSms").
    inbound_metric: str
    # The provider keeps its own opt-out list that a START must lift too (End User Messaging).
    provider_opt_outs: bool
    # LenderConfig field naming the identity the message is sent from, or None.
    origination_field: str | None
    # LenderConfig field naming the lender's own provider configuration set (the stack's
    # otherwise), or None when the channel's messages name none.
    configuration_set_field: str | None
    # Field of the lender's `send_rates` (and of the stack settings' default) giving messages
    # per second, or None: the channel is not paced.
    rate_field: str | None
    pacing: PacingScope
    # Provider name for pacing identities and reports.
    provider: str
    # The lender's unit price (`prices` in its configuration) for one message, or for one
    # segment on a segmented channel.
    price_field: str

    def lender_value(self, lender: object, field: str | None) -> str | None:
        """The lender configuration's value of a field this spec names (None if it names none)."""
        value = getattr(lender, field) if field else None
        return str(value) if value else None

    @property
    def unsubscribe_link(self) -> bool:
        return self.optout is OptOut.LINK

    def fold(self, address: str) -> str:
        """The form of `address` that suppressions, leases and lookups compare."""
        return address.lower() if self.address_folds_case else address


CHANNELS: dict[Channel, ChannelSpec] = {
    Channel.SMS: ChannelSpec(
        channel=Channel.SMS,
        address_field="phone",
        address_folds_case=False,
        extension="txt",
        heading=None,
        body_rule=BodyRule.SEGMENTS,
        body_limit=None,
        heading_limit=None,
        optout=OptOut.REPLY,
        replies=True,
        confirmation_body="sms",
        confirmation_heading=None,
        answers_from_recipient=True,
        inbound_metric="InboundSms",
        provider_opt_outs=True,
        origination_field="sms_origination",
        configuration_set_field=None,  # the SMS adapter names the stack's own
        rate_field="sms_per_second",
        pacing=PacingScope.ORIGINATION,
        provider="sms-voice",
        price_field="sms_segment",
    ),
    Channel.EMAIL: ChannelSpec(
        channel=Channel.EMAIL,
        address_field="email",
        address_folds_case=True,
        extension="html",
        heading="subject",
        body_rule=BodyRule.PARTS,
        body_limit=None,
        heading_limit=None,
        optout=OptOut.LINK,
        replies=True,
        confirmation_body="email_text",
        confirmation_heading="email_subject",
        answers_from_recipient=False,
        inbound_metric="InboundEmail",
        provider_opt_outs=False,
        origination_field="email_from",
        configuration_set_field="ses_configuration_set",
        rate_field="email_per_second",
        pacing=PacingScope.PROVIDER,
        provider="ses",
        price_field="email",
    ),
    # App push through SNS mobile push: the address is the SNS platform endpoint ARN the
    # lender's app registered for the borrower's device. Limits are what FCM and APNs show on a
    # lock screen without truncating (the payload itself may be 4 KB).
    Channel.PUSH: ChannelSpec(
        channel=Channel.PUSH,
        address_field="push_endpoint",
        address_folds_case=False,
        extension="txt",
        heading="title",
        body_rule=BodyRule.LENGTH,
        body_limit=240,
        heading_limit=65,
        optout=OptOut.SETTINGS,
        replies=False,
        confirmation_body=None,
        confirmation_heading=None,
        answers_from_recipient=False,
        inbound_metric="",
        provider_opt_outs=False,
        origination_field=None,
        configuration_set_field=None,
        # SNS publishes mobile push far faster than a ladder sends (thousands per second).
        rate_field=None,
        pacing=PacingScope.PROVIDER,
        provider="sns",
        price_field="push",
    ),
}


def spec(channel: Channel) -> ChannelSpec:
    return CHANNELS[channel]


def reply_channels() -> tuple[Channel, ...]:
    """Channels borrowers write back on."""
    return tuple(c for c, s in CHANNELS.items() if s.replies)
