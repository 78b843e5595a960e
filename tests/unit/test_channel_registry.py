"""The channel registry (functions.core.channels) is the only place a channel's particulars
live: no module under functions/core compares against a channel or branches on its name."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.bootstrap import memory_services
from functions.core.borrower_replies import Reply
from functions.core.channels import CHANNELS, Channel, spec
from functions.core.clock import FixedClock
from functions.core.feedback import Feedback
from functions.core.lender_file import CONTACT_COLUMNS
from functions.core.models import Account
from functions.core.render import render_message
from functions.core.replies import load_reply_rules
from functions.core.templates import TemplateError, parse_template
from functions.settings import PROJECT_ROOT, Settings

CORE = Path(__file__).resolve().parents[2] / "functions" / "core"
NAMES = frozenset(c.value for c in Channel)


def _names_a_channel(node: ast.AST) -> bool:
    """`Channel.SMS`, or a literal channel name such as "email", anywhere inside `node`."""
    for inner in ast.walk(node):
        if (
            isinstance(inner, ast.Attribute)
            and isinstance(inner.value, ast.Name)
            and inner.value.id == "Channel"
            and inner.attr in Channel.__members__
        ):
            return True
        if isinstance(inner, ast.Constant) and inner.value in NAMES:
            return True
    return False


def channel_branches(source: str) -> list[int]:
    """Lines where code compares against a channel, or matches a case on one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(
            _names_a_channel(part) for part in (node.left, *node.comparators)
        ):
            found.append(node.lineno)
        if isinstance(node, ast.match_case) and _names_a_channel(node.pattern):
            found.append(node.pattern.lineno)
    return found


def test_no_core_module_branches_on_a_channel() -> None:
    offenders = {
        str(path.relative_to(CORE)): lines
        for path in sorted(CORE.rglob("*.py"))
        if (lines := channel_branches(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "if channel is Channel.SMS:\n    pass\n",
        "x = a if c == Channel.EMAIL else b\n",
        "ok = channel.value != 'sms'\n",
        "ok = channel in (Channel.PUSH, Channel.EMAIL)\n",
        "match channel:\n    case Channel.SMS:\n        pass\n",
        "match name:\n    case 'email':\n        pass\n",
    ],
)
def test_the_check_catches_every_kind_of_channel_branch(source: str) -> None:
    assert channel_branches(source) == [1 if "match" not in source else 2]


def test_the_check_lets_the_registry_be_read() -> None:
    source = "shape = spec(channel)\nif shape.body_rule is BodyRule.SEGMENTS:\n    pass\n"
    assert channel_branches(source) == []


def test_every_channel_has_a_spec_and_an_address_column_on_accounts() -> None:
    assert set(CHANNELS) == set(Channel)
    assert CONTACT_COLUMNS == ("phone", "email", "push_endpoint")
    for channel in Channel:
        assert spec(channel).channel is channel
        assert spec(channel).address_field in Account.model_fields


def test_an_account_address_is_read_from_the_registry() -> None:
    endpoint = "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-app/1"
    account = Account.model_validate(
        {
            "lender_id": "demo",
            "account_id": "A1",
            "phone": "+14155550123",
            "email": "Ana@Example.com",
            "push_endpoint": endpoint,
            "amount_due": "10",
            "currency": "USD",
            "due_date": "2026-12-01",
            "locale": "en-US",
        }
    )
    assert [account.address(c) for c in Channel] == ["+14155550123", "Ana@Example.com", endpoint]


@pytest.mark.parametrize(
    ("channel", "front", "reason"),
    [
        ("push", "", "push templates need a title"),
        ("push", 'subject: "s"\ntitle: "t"\n', "push templates have no subject"),
        ("sms", 'title: "t"\n', "sms templates have no title"),
    ],
)
def test_a_template_heading_follows_its_channel(channel: str, front: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        parse_template("t", channel, "en-US", f"---\npurpose: p\n{front}---\nHello\n")


def test_a_push_template_renders_its_title_and_plain_text() -> None:
    template = parse_template(
        "t", "push", "en-US", '---\npurpose: p\ntitle: "  Pay  today "\n---\n Hi  there \n'
    )
    assert (template.file, template.heading) == ("t/push.en-US.txt", "  Pay  today ")
    message = render_message(template, {})
    assert (message.subject, message.text, message.html, message.segments) == (
        "Pay today",
        "Hi  there",
        None,
        0,
    )


ENDPOINT = "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-finance/1"


@pytest.mark.parametrize(
    ("text", "push_suppressed", "sms_suppressed"),
    [
        ("please stop the notifications", True, False),
        ("STOP ALL", True, True),
        ("STOP", False, True),
    ],
)
def test_a_text_reply_can_stop_the_borrowers_app_notifications(
    text: str, push_suppressed: bool, sms_suppressed: bool
) -> None:
    # Given a borrower reachable by SMS and by app push
    at = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    services = memory_services(Settings(config_root=PROJECT_ROOT), clock=FixedClock(at))
    account = Account.model_validate(
        {
            "lender_id": "demo",
            "account_id": "A1",
            "phone": "+14155550123",
            "push_endpoint": ENDPOINT,
            "amount_due": "10",
            "currency": "USD",
            "due_date": "2026-12-01",
            "locale": "en-US",
            "cycle": "2026-12-01",
        }
    )
    services.accounts.put_many([account])
    feedback = Feedback(
        ports=services, rules=load_reply_rules(PROJECT_ROOT), config_root=PROJECT_ROOT
    )
    # When they text back
    reply = Reply(
        channel=Channel.SMS,
        sender="+14155550123",
        text=text,
        message_id="in-1",
        ours=("+18005550100",),
    )
    feedback.on_reply(reply, at=at, now=at)
    # Then the channels they named are suppressed, and only those
    push = services.suppressions.get(Channel.PUSH, ENDPOINT)
    sms = services.suppressions.get(Channel.SMS, "+14155550123")
    assert (push is not None, sms is not None) == (push_suppressed, sms_suppressed)
