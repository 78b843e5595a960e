"""Gate invariants over random instants, locations, histories and profiles
(docs/design.md, Invariants).

Oracles here read wall clocks and count attempts directly, independently of quiet_hours.py
and caps.py: no SEND outside any candidate zone's window, every DEFER points at the earliest
allowed instant, and a ladder driven by the gate never exceeds a cap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.models import Account, Channel
from functions.core.policy import ContactHistory, GateInput, GateResult, Verdict, decide
from functions.core.profiles import Profile, load_profiles
from functions.settings import PROJECT_ROOT

BOOK = load_profiles(PROJECT_ROOT)
BLACKOUT_BOOK = BOOK.with_overrides(
    {
        name: {"blackout_weekdays": ["sunday"], "blackout_dates": ["2026-12-25"]}
        for name in BOOK.profiles
    }
)
PHONES = [
    "+12125550123",
    "+14155550123",
    "+13125550123",
    "+16025550123",
    "+18085550123",
    "+16175550123",
    "+12065550123",
    "+17095550123",
    "+8613800138000",
    "+442079460123",
    "+919812345678",
    "+9779812345678",
    "+61412345678",
]
PLACES = [
    (None, None),
    ("US", None),
    ("US", "CA"),
    ("US", "MA"),
    ("US", "WA"),
    ("US", "FL"),
    ("US", "IN"),
    ("CN", None),
    ("GB", None),
    ("IN", None),
]
LENDER_ZONES = [None, "America/Chicago", "Asia/Kolkata", "America/St_Johns", "Asia/Shanghai"]
START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2030, 12, 31, tzinfo=UTC)

instants = st.integers(int(START.timestamp()), int(END.timestamp())).map(
    lambda seconds: datetime.fromtimestamp(seconds, UTC)
)


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    country, state = draw(st.sampled_from(PLACES))
    return Account(
        lender_id="demo",
        account_id="A1",
        phone=draw(st.sampled_from(PHONES)),
        email="borrower@example.com",
        push_endpoint="arn:aws:sns:us-east-1:123456789012:endpoint/GCM/demo-app/0a1b2c3d",
        amount_due=Decimal("10"),
        currency="USD",
        due_date=date(2026, 1, 1),
        locale="en-US",
        country=country,
        state=state,
        timezone=draw(st.sampled_from(LENDER_ZONES)),
    )


def _library_calendars(profile: Profile) -> list[holidays.HolidayBase]:
    if profile.holidays is None:
        return []
    return _calendars(profile.holidays.calendar, profile.holidays.subdivisions)


@cache
def _calendars(country: str, subdivisions: tuple[str, ...]) -> list[holidays.HolidayBase]:
    return [
        holidays.country_holidays(country, subdiv=sub, years=range(2019, 2032))
        for sub in subdivisions or (None,)
    ]


def holiday_oracle(profile: Profile, day: date) -> str | None:
    """The holiday on `day` as the `holidays` library lists it, read here directly."""
    return next((c[day] for c in _library_calendars(profile) if day in c), None)


def worked_weekend(profile: Profile, day: date) -> bool:
    return any(day in c.weekend_workdays for c in _library_calendars(profile))


def wall_allowed(
    instant: datetime, zones: tuple[str, ...], profile: Profile, reply: bool = False
) -> bool:
    for name in zones:
        wall = instant.astimezone(ZoneInfo(name))
        day = wall.date()
        if holiday_oracle(profile, day) is not None:
            return False
        if wall.strftime("%A").lower() in profile.blackout_weekdays and not worked_weekend(
            profile, day
        ):
            return False
        if day in profile.blackout_dates:
            return False
        if not reply and not profile.window.start <= wall.time() < profile.window.end:
            return False
    return True


def caps_allow(
    instant: datetime,
    zones: tuple[str, ...],
    profile: Profile,
    channel: Channel,
    history: ContactHistory,
) -> bool:
    for cap in profile.caps:
        if channel not in cap.channels:
            continue
        attempts = getattr(history, cap.counts)
        if cap.period == "rolling":
            used = sum(1 for a in attempts if instant - timedelta(days=cap.days) < a)
            if used >= cap.max:
                return False
            continue
        for name in zones:
            today = instant.astimezone(ZoneInfo(name)).date()
            if sum(1 for a in attempts if a.astimezone(ZoneInfo(name)).date() == today) >= cap.max:
                return False
    return True


def histories(now: datetime) -> st.SearchStrategy[ContactHistory]:
    attempts = st.lists(
        st.integers(0, 9 * 86400).map(lambda s: now - timedelta(seconds=s)), max_size=4
    )
    return st.builds(
        ContactHistory,
        ladder_channel=attempts.map(tuple),
        ladder_all=attempts.map(tuple),
        address=attempts.map(tuple),
    )


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    account=accounts(),
    now=instants,
    channel=st.sampled_from(list(Channel)),
    reply=st.booleans(),
    book=st.sampled_from([BOOK, BLACKOUT_BOOK]),
)
def test_gate_send_and_defer_respect_every_zone_and_cap(
    data: st.DataObject,
    account: Account,
    now: datetime,
    channel: Channel,
    reply: bool,
    book: object,
) -> None:
    history = data.draw(histories(now))
    gate = GateInput(
        account=account,
        channel=channel,
        now=now,
        template_version="v1",
        history=history,
        is_reply=reply,
    )
    result: GateResult = decide(gate, book)  # type: ignore[arg-type]
    profile = book.profiles[result.profile]  # type: ignore[attr-defined]

    def ok(instant: datetime) -> bool:
        return wall_allowed(instant, result.zones, profile, reply) and caps_allow(
            instant, result.zones, profile, channel, history
        )

    if result.verdict is Verdict.SEND:
        assert result.zones and ok(now)
    elif result.verdict is Verdict.DEFER:
        assert result.until is not None and result.until > now
        assert ok(result.until)
        assert not ok(result.until - timedelta(seconds=1))
        # Earliest: no allowed whole minute between `now` and `until` (bounded sample)
        first = now.replace(second=0) + timedelta(minutes=1)
        steps = int((min(result.until, now + timedelta(days=1)) - first).total_seconds() // 60)
        assert not any(ok(first + timedelta(minutes=step)) for step in range(max(0, steps)))
        # And the gate agrees: at `until`, with nothing new sent, it says SEND
        again = decide(gate.model_copy(update={"now": result.until}), book)  # type: ignore[arg-type]
        assert again.verdict is Verdict.SEND
    else:
        assert result.reason in {"no_timezone", "no_allowed_time"}


@settings(max_examples=40, deadline=None)
@given(
    account=accounts(),
    start=instants,
    requests=st.lists(
        st.tuples(st.integers(0, 20 * 86400), st.sampled_from(list(Channel))),
        min_size=3,
        max_size=12,
    ),
)
def test_gate_driven_ladder_never_exceeds_caps(
    account: Account, start: datetime, requests: list[tuple[int, Channel]]
) -> None:
    # Given requests at random times on both channels, each deferred until the gate says SEND
    sent: list[tuple[datetime, Channel]] = []
    for offset, channel in sorted(requests):
        at = max(start + timedelta(seconds=offset), sent[-1][0] if sent else start)
        for _ in range(10):
            on_channel = tuple(t for t, c in sent if c is channel)
            history = ContactHistory(
                ladder_channel=on_channel, ladder_all=tuple(t for t, _ in sent), address=on_channel
            )
            result = decide(
                GateInput(
                    account=account, channel=channel, now=at, template_version="v1", history=history
                ),
                BOOK,
            )
            if result.verdict is not Verdict.DEFER:
                break
            assert result.until is not None
            at = result.until
        if result.verdict is Verdict.SEND:
            sent.append((at, channel))
    if not sent:
        return
    # Then every cap holds over the whole record, in every candidate zone
    profile = BOOK.profiles[result.profile]
    zones = result.zones
    for cap in profile.caps:
        for channel in cap.channels:
            counted = [t for t, c in sent if cap.counts == "ladder_all" or c is channel]
            mine = [t for t, c in sent if c is channel]
            for t in mine:
                if cap.period == "rolling":
                    since = t - timedelta(days=cap.days)
                    assert sum(1 for u in counted if since < u <= t) <= cap.max
                else:
                    for name in zones:
                        day = t.astimezone(ZoneInfo(name)).date()
                        assert (
                            sum(
                                1
                                for u in counted
                                if u <= t and u.astimezone(ZoneInfo(name)).date() == day
                            )
                            <= cap.max
                        )
    # And every send is inside the window of every zone
    assert all(wall_allowed(t, zones, profile) for t, _ in sent)
