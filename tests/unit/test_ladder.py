"""Ladder definitions and the arithmetic of when each rung falls due."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from functions.core.errors import ConfigError
from functions.core.ladder import (
    Ladder,
    LadderState,
    execution_name,
    load_ladder,
    to_sfn_timestamp,
)
from functions.core.models import Channel
from functions.settings import PROJECT_ROOT

NEW_YORK = ZoneInfo("America/New_York")
DUE = date(2026, 11, 1)


@pytest.fixture
def ladder() -> Ladder:
    return load_ladder(PROJECT_ROOT, "default")


def test_default_ladder_has_six_rungs_alternating_channels(ladder: Ladder) -> None:
    assert [(r.day, r.channel) for r in ladder.rungs] == [
        (1, Channel.SMS),
        (3, Channel.EMAIL),
        (7, Channel.SMS),
        (14, Channel.EMAIL),
        (21, Channel.SMS),
        (30, Channel.EMAIL),
    ]
    assert ladder.ref == "default@1"


def test_due_at_is_local_time_on_the_dpd_day(ladder: Ladder) -> None:
    # Day 1 past a 1 November due date, 10:00 in New York: EST (UTC-5) after the DST change.
    assert ladder.due_at(0, DUE, NEW_YORK) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_due_at_follows_dst_not_a_fixed_offset(ladder: Ladder) -> None:
    # Due 2026-03-01; day 7 = 8 March (EST), day 14 = 15 March (EDT after 8 March 02:00).
    due = date(2026, 3, 1)
    assert ladder.due_at(2, due, NEW_YORK) == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
    assert ladder.due_at(3, due, NEW_YORK) == datetime(2026, 3, 15, 14, 0, tzinfo=UTC)


def test_expires_at_is_the_next_rungs_due_instant(ladder: Ladder) -> None:
    assert ladder.expires_at(0, DUE, NEW_YORK) == ladder.due_at(1, DUE, NEW_YORK)
    assert ladder.expires_at(len(ladder.rungs) - 1, DUE, NEW_YORK) is None


def test_ladder_rejects_days_out_of_order() -> None:
    with pytest.raises(ValidationError, match="strictly increase"):
        Ladder.model_validate(
            {
                "id": "x",
                "version": 1,
                "rungs": [
                    {"day": 3, "channel": "sms", "template": "a"},
                    {"day": 3, "channel": "email", "template": "b"},
                ],
            }
        )


def test_load_ladder_unknown_id_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown ladder 'nope'"):
        load_ladder(tmp_path, "nope")


def test_load_ladder_id_must_match_file_name(tmp_path: Path) -> None:
    (tmp_path / "ladders").mkdir()
    (tmp_path / "ladders" / "other.yaml").write_text(
        "id: default\nversion: 1\nrungs: [{day: 1, channel: sms, template: a}]\n"
    )
    with pytest.raises(ConfigError, match="declares id 'default'"):
        load_ladder(tmp_path, "other")


def test_execution_name_is_deterministic_short_and_distinct() -> None:
    name = execution_name("demo", "A-1", "2026-11-01")
    assert name == execution_name("demo", "A-1", "2026-11-01")
    assert name != execution_name("demo", "A-1", "2026-12-01")
    long = execution_name("demo", "x" * 200, "2026-11-01")
    assert len(long) <= 80
    assert all(c.isalnum() or c in "-_" for c in long)


def test_sfn_timestamp_is_utc_z_and_rounds_up() -> None:
    instant = datetime(2026, 11, 2, 10, 0, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert to_sfn_timestamp(instant) == "2026-11-02T02:00:01Z"


def test_ladder_state_requires_z_timestamps() -> None:
    with pytest.raises(ValidationError, match="end in 'Z'"):
        LadderState(
            lender_id="demo", account_id="A", cycle="c", rung=0, next_at="2026-11-02T02:00:00+00:00"
        )


def test_smoke_ladder_counts_minutes_from_the_ladder_start() -> None:
    # Given the smoke ladder, started 14:07:30 UTC (its due date and zone do not matter)
    smoke = load_ladder(PROJECT_ROOT, "smoke")
    started = datetime(2026, 12, 1, 14, 7, 30, tzinfo=UTC)
    # Then its rungs fall due that many minutes later, and the first expires at the second
    assert smoke.due_at(0, DUE, NEW_YORK, started) == started
    assert smoke.due_at(1, DUE, NEW_YORK, started) == datetime(2026, 12, 1, 14, 10, 30, tzinfo=UTC)
    assert smoke.expires_at(0, DUE, NEW_YORK, started) == smoke.due_at(1, DUE, NEW_YORK, started)


def test_minute_ladder_without_a_start_is_a_config_error() -> None:
    smoke = load_ladder(PROJECT_ROOT, "smoke")
    with pytest.raises(ConfigError, match="counts minutes from its start"):
        smoke.due_at(0, DUE, NEW_YORK)


@pytest.mark.parametrize(
    ("rungs", "message"),
    [
        ([{"day": 1, "minute": 5, "channel": "sms", "template": "t"}], "either `day`"),
        ([{"channel": "sms", "template": "t"}], "either `day`"),
        (
            [
                {"day": 1, "channel": "sms", "template": "t"},
                {"minute": 5, "channel": "email", "template": "t"},
            ],
            "every rung uses `minute`",
        ),
        (
            [
                {"minute": 5, "channel": "sms", "template": "t"},
                {"minute": 5, "channel": "email", "template": "t"},
            ],
            "strictly increase",
        ),
    ],
)
def test_ladder_rung_timing_is_days_or_minutes_never_both(
    rungs: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Ladder.model_validate({"id": "x", "version": 1, "rungs": rungs})


def test_ladder_state_carries_its_start_in_utc_z() -> None:
    state = LadderState(
        lender_id="smoke",
        account_id="a",
        cycle="c",
        rung=0,
        next_at="2026-12-01T14:07:30Z",
        started_at="2026-12-01T14:07:30Z",
    )
    assert state.started_instant == datetime(2026, 12, 1, 14, 7, 30, tzinfo=UTC)
    with pytest.raises(ValidationError):
        LadderState.model_validate(state.model_dump() | {"started_at": "2026-12-01T14:07:30+00:00"})
