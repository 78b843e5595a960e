"""The compliance gate, rule by rule (docs/compliance.md; order documented in policy.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from functions.core.errors import ConfigError
from functions.core.lenders import LenderConfig
from functions.core.models import (
    Account,
    AccountStatus,
    Channel,
    Suppression,
    SuppressionScope,
    SuppressionSource,
)
from functions.core.policy import ContactHistory, GateInput, Verdict, decide
from functions.core.profiles import load_profiles
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
NY_PHONE = "+12125550123"  # area code 212: America/New_York
NOON_NY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # Wed 12:00 EDT


def account(**changes: object) -> Account:
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": "A1",
        "phone": NY_PHONE,
        "email": "borrower@example.com",
        "amount_due": Decimal("120.50"),
        "currency": "USD",
        "due_date": date(2026, 6, 1),
        "locale": "en-US",
        "country": "US",
        "state": "NY",
    }
    fields.update(changes)
    return Account.model_validate(fields)


def gate(**changes: object) -> GateInput:
    fields: dict[str, object] = {
        "account": account(),
        "channel": Channel.SMS,
        "now": NOON_NY,
        "template_version": "v1",
    }
    fields.update(changes)
    return GateInput.model_validate(fields)


def suppression(scope: SuppressionScope, channel: Channel, address: str) -> Suppression:
    return Suppression(
        channel=channel,
        address=address,
        scope=scope,
        source=SuppressionSource.REPLY,
        at=NOON_NY - timedelta(days=1),
    )


def test_decide_sends_inside_window_and_explains_itself() -> None:
    result = decide(gate(), BOOK)
    assert result.verdict is Verdict.SEND
    assert result.rule == "allowed"
    assert result.profile == "US"
    assert result.profile_version == BOOK.version and result.profile_version.startswith("2026.")
    assert result.zones == ("America/New_York",)
    assert result.local_time == "2026-06-10T12:00:00-04:00"


@pytest.mark.parametrize(
    "status",
    [
        AccountStatus.PAID,
        AccountStatus.DISPUTED,
        AccountStatus.CEASE,
        AccountStatus.BANKRUPTCY,
        AccountStatus.ATTORNEY,
        AccountStatus.DECEASED,
        AccountStatus.COMPLETED,
    ],
)
def test_decide_blocking_status_suppresses(status: AccountStatus) -> None:
    # Even in quiet hours, with no template and opted out: status is checked first
    result = decide(
        gate(
            account=account(status=status), template_version=None, now=NOON_NY + timedelta(hours=12)
        ),
        BOOK,
    )
    assert (result.verdict, result.rule) == (Verdict.SUPPRESS, "account_status")
    assert result.reason == f"status_{status.value.lower()}"


def test_decide_payment_claim_defers_until_hold_ends() -> None:
    # Given a payment claimed yesterday at noon New York and a 5-day hold
    claimed = NOON_NY - timedelta(days=1)
    result = decide(
        gate(
            account=account(status=AccountStatus.PAYMENT_CLAIMED, status_changed_at=claimed),
            payment_claim_hold_days=5,
        ),
        BOOK,
    )
    # Then the rung waits until the hold ends (inside the window, so exactly then)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.DEFER,
        "account_status",
        "payment_claim_hold",
    )
    assert result.until == claimed + timedelta(days=5)


def test_decide_payment_claim_hold_end_in_quiet_hours_lands_in_window() -> None:
    claimed = datetime(2026, 6, 9, 3, 0, tzinfo=UTC)  # 23:00 EDT: the hold ends in quiet hours
    result = decide(
        gate(account=account(status=AccountStatus.PAYMENT_CLAIMED, status_changed_at=claimed)), BOOK
    )
    assert result.verdict is Verdict.DEFER
    assert result.until == datetime(2026, 6, 14, 12, 0, tzinfo=UTC)  # next 08:00 EDT


def test_decide_payment_claim_after_hold_resumes_ladder() -> None:
    claimed = NOON_NY - timedelta(days=6)
    result = decide(
        gate(account=account(status=AccountStatus.PAYMENT_CLAIMED, status_changed_at=claimed)), BOOK
    )
    assert result.verdict is Verdict.SEND


def test_decide_payment_claim_without_time_fails_closed() -> None:
    result = decide(gate(account=account(status=AccountStatus.PAYMENT_CLAIMED)), BOOK)
    assert (result.verdict, result.reason) == (Verdict.SUPPRESS, "status_payment_claimed")


def test_decide_no_address_suppresses() -> None:
    result = decide(gate(channel=Channel.EMAIL, account=account(email=None)), BOOK)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.SUPPRESS,
        "contact",
        "no_address",
    )


@pytest.mark.parametrize(
    ("held", "channel", "blocked"),
    [
        (suppression(SuppressionScope.ADDRESS, Channel.SMS, NY_PHONE), Channel.SMS, True),
        (suppression(SuppressionScope.ADDRESS, Channel.SMS, "+12125550199"), Channel.SMS, False),
        (suppression(SuppressionScope.ADDRESS, Channel.SMS, NY_PHONE), Channel.EMAIL, False),
        (
            suppression(SuppressionScope.ADDRESS, Channel.EMAIL, "Borrower@Example.com"),
            Channel.EMAIL,
            True,
        ),
        (suppression(SuppressionScope.CHANNEL, Channel.SMS, "+12125550199"), Channel.SMS, True),
        (suppression(SuppressionScope.CHANNEL, Channel.SMS, NY_PHONE), Channel.EMAIL, False),
        (suppression(SuppressionScope.ALL, Channel.SMS, NY_PHONE), Channel.EMAIL, True),
    ],
)
def test_decide_suppression_scopes(held: Suppression, channel: Channel, blocked: bool) -> None:
    result = decide(gate(channel=channel, suppressions=(held,)), BOOK)
    if blocked:
        assert (result.verdict, result.rule, result.reason) == (
            Verdict.SUPPRESS,
            "suppression",
            "opted_out",
        )
        assert held.scope.value in result.detail
    else:
        assert result.verdict is Verdict.SEND


def test_decide_unapproved_template_suppresses() -> None:
    result = decide(gate(template_version=None), BOOK)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.SUPPRESS,
        "template_approval",
        "template_not_approved",
    )


def test_decide_no_zone_fails_closed() -> None:
    # Given an international freephone number (+800: no zone in phonenumbers' metadata),
    # no address and no lender zone
    result = decide(gate(account=account(phone="+80012345678", country=None, state=None)), BOOK)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.SUPPRESS,
        "timezone",
        "no_timezone",
    )
    assert result.profile == "DEFAULT"


def test_decide_invalid_lender_zone_fails_closed() -> None:
    result = decide(gate(account=account(timezone="Mars/Base")), BOOK)
    assert (result.verdict, result.reason) == (Verdict.SUPPRESS, "invalid_location")


def test_decide_quiet_hours_defers_to_next_morning() -> None:
    late = datetime(2026, 6, 11, 1, 30, tzinfo=UTC)  # 21:30 EDT
    result = decide(gate(now=late), BOOK)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.DEFER,
        "quiet_hours",
        "quiet_hours",
    )
    assert result.until == datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
    assert result.zone == "America/New_York"
    assert result.local_time == "2026-06-10T21:30:00-04:00"
    assert result.until_local == "2026-06-11T08:00:00-04:00"


def test_decide_cfpb_intersection_defers_to_eleven_eastern() -> None:
    # Eastern area code, Pacific address: 09:00 ET is 06:00 PT — wait until 11:00 ET
    nine_et = datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
    result = decide(gate(account=account(state="CA"), now=nine_et), BOOK)
    assert result.verdict is Verdict.DEFER
    assert result.zone == "America/Los_Angeles"
    assert result.until == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


def test_decide_reply_waives_quiet_hours_only() -> None:
    late = datetime(2026, 6, 11, 3, 0, tzinfo=UTC)  # 23:00 EDT
    assert decide(gate(now=late, is_reply=True), BOOK).verdict is Verdict.SEND
    # …but not the caps: one SMS already today (local day) still blocks
    earlier = ContactHistory(ladder_channel=(late - timedelta(hours=2),))
    capped = decide(gate(now=late, is_reply=True, history=earlier), BOOK)
    assert (capped.verdict, capped.rule) == (Verdict.DEFER, "frequency_cap")
    # …nor the suppressions
    stop = suppression(SuppressionScope.ADDRESS, Channel.SMS, NY_PHONE)
    assert (
        decide(gate(now=late, is_reply=True, suppressions=(stop,)), BOOK).verdict
        is Verdict.SUPPRESS
    )


def test_decide_blackout_day_defers_past_it() -> None:
    book = BOOK.with_overrides({"US": {"blackout_weekdays": ["sunday"]}})
    sunday_noon = datetime(2026, 6, 14, 16, 0, tzinfo=UTC)
    result = decide(gate(now=sunday_noon), book)
    assert (result.verdict, result.rule, result.reason) == (
        Verdict.DEFER,
        "blackout",
        "blackout_day",
    )
    assert result.until == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # Monday 08:00 EDT
    assert result.profile_version != BOOK.version


def test_decide_us_daily_cap_defers_to_next_local_morning() -> None:
    # Given one SMS this morning (New York) on this ladder
    history = ContactHistory(ladder_channel=(NOON_NY - timedelta(hours=3),))
    result = decide(gate(history=history), BOOK)
    # Then the next SMS waits for the next local day, and then for 08:00
    assert (result.verdict, result.reason) == (Verdict.DEFER, "cap_channel_per_day")
    assert result.until == datetime(2026, 6, 11, 12, 0, tzinfo=UTC)
    # And an email is still allowed today (the cap is per channel)
    email = decide(
        gate(channel=Channel.EMAIL, history=ContactHistory(ladder_all=history.ladder_channel)), BOOK
    )
    assert email.verdict is Verdict.SEND


def test_decide_us_rolling_cap_frees_seven_days_after_oldest() -> None:
    sent = tuple(NOON_NY - timedelta(days=d) for d in (6, 4, 2))
    result = decide(gate(history=ContactHistory(ladder_all=sent)), BOOK)
    assert (result.verdict, result.reason) == (Verdict.DEFER, "cap_ladder_per_7_days")
    assert result.until == sent[0] + timedelta(days=7)


def test_decide_address_cap_counts_other_accounts() -> None:
    history = ContactHistory(address=(NOON_NY - timedelta(hours=1),))
    result = decide(gate(history=history), BOOK)
    assert (result.verdict, result.reason) == (Verdict.DEFER, "cap_address_per_day")


def test_decide_massachusetts_two_texts_per_seven_days() -> None:
    # Given two texts in the past 7 days on this debt, in Massachusetts
    ma = account(phone="+16175550123", state="MA")
    texts = (NOON_NY - timedelta(days=5), NOON_NY - timedelta(days=2))
    result = decide(
        gate(account=ma, history=ContactHistory(ladder_channel=texts, ladder_all=texts)), BOOK
    )
    assert (result.profile, result.verdict, result.reason) == (
        "US-MA",
        Verdict.DEFER,
        "cap_texts_per_7_days",
    )
    assert result.until == texts[0] + timedelta(days=7)
    # And the same history does not block an email (MA counts calls and texts)
    email = decide(
        gate(account=ma, channel=Channel.EMAIL, history=ContactHistory(ladder_all=texts)), BOOK
    )
    assert email.verdict is Verdict.SEND


def test_decide_washington_three_communications_per_week() -> None:
    wa = account(phone="+12065550123", state="WA")
    at = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)  # 12:00 PDT
    sent = tuple(at - timedelta(days=d) for d in (6, 4, 1))
    result = decide(gate(account=wa, now=at, history=ContactHistory(ladder_all=sent)), BOOK)
    assert (result.profile, result.verdict, result.reason) == (
        "US-WA",
        Verdict.DEFER,
        "cap_ladder_per_7_days",
    )
    two = decide(gate(account=wa, now=at, history=ContactHistory(ladder_all=sent[1:])), BOOK)
    assert two.verdict is Verdict.SEND


def test_decide_cap_deferral_lands_inside_window() -> None:
    # Given a rolling cap that frees at 23:00 New York: the fixed point moves to 08:00
    night = datetime(2026, 6, 4, 3, 0, tzinfo=UTC)  # 23:00 EDT on 3 June
    sent = (night, night + timedelta(days=2), night + timedelta(days=4))
    now = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
    result = decide(gate(now=now, history=ContactHistory(ladder_all=sent)), BOOK)
    assert result.verdict is Verdict.DEFER
    assert result.until == datetime(2026, 6, 11, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("country", "state", "phone", "expected"),
    [
        ("US", None, NY_PHONE, "US"),
        ("US", "MA", "+16175550123", "US-MA"),
        ("us", "wa", "+12065550123", "US-WA"),
        ("CN", None, "+8613800138000", "CN"),
        ("GB", None, "+442079460123", "GB"),
        (None, None, "+8613800138000", "CN"),  # no address country: the phone's region
        ("FR", None, "+33612345678", "DEFAULT"),  # unknown jurisdiction: strictest
    ],
)
def test_profile_for_account(
    country: str | None, state: str | None, phone: str, expected: str
) -> None:
    assert BOOK.profile_for(account(country=country, state=state, phone=phone)).name == expected


def test_profiles_default_is_strictest() -> None:
    default = BOOK.profiles[BOOK.default]
    for profile in BOOK.profiles.values():
        assert default.looser_than(profile) == [], profile.name


def test_overrides_stricter_are_accepted() -> None:
    book = BOOK.with_overrides(
        {
            "US": {
                "window": {"start": "09:00", "end": "20:00"},
                "caps": {"ladder_per_7_days": {"max": 2}},
            }
        }
    )
    us = book.profiles["US"]
    assert (us.window.start.hour, us.window.end.hour) == (9, 20)
    assert {cap.name: cap.max for cap in us.caps}["ladder_per_7_days"] == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"US": {"window": {"start": "07:30", "end": "21:00"}}}, "wider"),
        ({"US": {"window": {"start": "08:00", "end": "22:00"}}}, "wider"),
        ({"US": {"caps": {"channel_per_day": {"max": 2}}}}, "max 2 > 1"),
        ({"US": {"caps": {"ladder_per_7_days": {"days": 3}}}}, "days 3 < 7"),
        ({"US": {"caps": {"no_such_cap": {"max": 1}}}}, "unknown cap"),
        ({"US": {"quiet": True}}, "quiet"),
        ({"XX": {}}, "no such profile"),
    ],
)
def test_overrides_looser_or_unknown_are_rejected(
    override: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        BOOK.with_overrides(override)


def test_for_lender_applies_lender_overrides() -> None:
    lender = LenderConfig(
        lender_id="strict",
        company_name="S",
        support_phone="1",
        support_email="s@example.com",
        email_from="s@example.com",
        profile_overrides={"US": {"blackout_weekdays": ["sunday"]}},
    )
    book = BOOK.for_lender(lender)
    assert book.profiles["US"].blackout_weekdays == ("sunday",)
    assert BOOK.profiles["US"].blackout_weekdays == ()


def test_gate_input_rejects_naive_now() -> None:
    with pytest.raises(ValidationError, match="no time zone"):
        gate(now=datetime(2026, 6, 10, 12, 0))
