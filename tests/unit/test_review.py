"""The ops review queue's decisions: what a reviewer may record, and that nothing lifts a
legal status without a named person and a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from functions.bootstrap import Services, memory_services
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    ReviewItem,
    ReviewState,
    SuppressionSource,
)
from functions.core.review import ReviewRefused, outranks, resolve, review_id

AT = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
PHONE = "+14155550123"


def queued(status: AccountStatus = AccountStatus.ACTIVE, intent: str = "other") -> Services:
    services = memory_services()
    services.accounts.put_many(
        [
            Account(
                lender_id="demo",
                account_id="A-1",
                phone=PHONE,
                amount_due=Decimal("10.00"),
                currency="USD",
                due_date=date(2026, 11, 30),
                locale="en-US",
                status=status,
            )
        ]
    )
    services.reviews.open(
        ReviewItem(
            review_id="sms-1",
            at=AT,
            channel=Channel.SMS,
            address=PHONE,
            text="my lawyer will call",
            intent=intent,
            why="legal" if intent != "other" else "other",
            accounts=("demo#A-1",),
        )
    )
    return services


def status(services: Services) -> AccountStatus:
    account = services.accounts.get("demo", "A-1")
    assert account is not None
    return account.status


def test_resolve_as_legal_intent_sets_status_and_records_the_reviewer() -> None:
    services = queued()
    done = resolve(services, "sms-1", "attorney", "Ana Ops", "", AT + timedelta(hours=1))
    assert status(services) is AccountStatus.ATTORNEY
    assert (done.item.state, done.item.resolved_by, done.changed) == (
        ReviewState.RESOLVED,
        "Ana Ops",
        ("demo#A-1",),
    )
    assert services.reviews.pending() == []
    logged = services.decisions.history(Channel.SMS, PHONE)
    assert [(d.event, d.by) for d in logged] == [
        ("review_resolved", "Ana Ops"),
        ("status", "Ana Ops"),
    ]


def test_lift_needs_a_reason_and_a_name() -> None:
    services = queued(AccountStatus.ATTORNEY, "attorney")
    with pytest.raises(ReviewRefused, match="reason"):
        resolve(services, "sms-1", "lift", "Ana Ops", "  ", AT)
    with pytest.raises(ReviewRefused, match="--by"):
        resolve(services, "sms-1", "lift", "", "verified", AT)
    assert status(services) is AccountStatus.ATTORNEY
    resolve(services, "sms-1", "lift", "Ana Ops", "attorney letter withdrawn", AT)
    assert status(services) is AccountStatus.ACTIVE


def test_resolve_twice_is_refused() -> None:
    services = queued()
    resolve(services, "sms-1", "other", "Ana Ops", "", AT)
    with pytest.raises(ReviewRefused, match="resolved already by Ana Ops"):
        resolve(services, "sms-1", "complaint", "Bo", "", AT)


@pytest.mark.parametrize("resolved_as", ["opt_in", "promise_to_pay", "contact_preference", "x"])
def test_resolve_refuses_what_only_the_borrower_can_say(resolved_as: str) -> None:
    with pytest.raises(ReviewRefused, match="--as must be one of"):
        resolve(queued(), "sms-1", resolved_as, "Ana Ops", "", AT)


def test_resolve_as_opt_out_suppresses_the_sender() -> None:
    services = queued()
    resolve(services, "sms-1", "opt_out", "Ana Ops", "", AT)
    held = services.suppressions.get(Channel.SMS, PHONE)
    assert held is not None and held.source is SuppressionSource.REPLY
    assert "Ana Ops" in held.detail


def test_resolve_unknown_item_is_refused() -> None:
    with pytest.raises(ReviewRefused, match="no review item nope"):
        resolve(queued(), "nope", "other", "Ana Ops", "", AT)


def test_review_id_is_stable_per_message() -> None:
    assert review_id(Channel.SMS, "in-1") == review_id(Channel.SMS, "in-1")
    assert review_id(Channel.SMS, "in-1") != review_id(Channel.EMAIL, "in-1")


@pytest.mark.parametrize(
    ("current", "said", "kept"),
    [
        (AccountStatus.ACTIVE, AccountStatus.DISPUTED, True),
        (AccountStatus.PAYMENT_CLAIMED, AccountStatus.ATTORNEY, True),
        (AccountStatus.ATTORNEY, AccountStatus.DISPUTED, False),  # the attorney is not forgotten
        (AccountStatus.DISPUTED, AccountStatus.ATTORNEY, True),
        (AccountStatus.BANKRUPTCY, AccountStatus.CEASE, False),
        (AccountStatus.PAID, AccountStatus.DECEASED, False),  # a closed account stays closed
    ],
)
def test_a_reply_sets_a_legal_status_only_over_a_lesser_one(
    current: AccountStatus, said: AccountStatus, kept: bool
) -> None:
    assert outranks(said, current) is kept
