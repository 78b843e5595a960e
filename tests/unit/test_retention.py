"""Retention configuration: every profile has a sourced duty, the records retention is the
longest served duty plus the margin, and a bad file is refused naming what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from functions.core.errors import ConfigError
from functions.core.profiles import load_profiles
from functions.core.retention import RETENTION_FILE, expires_at, load_retention
from functions.settings import PROJECT_ROOT, Settings

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_every_profile_has_a_sourced_duty() -> None:
    retention = load_retention(PROJECT_ROOT)
    profiles = set(load_profiles(PROJECT_ROOT).profiles)
    assert set(retention.profiles) == profiles
    assert all(duty.source for duty in retention.profiles.values())
    # Reg F 1006.100: three years after the last collection activity
    assert retention.duty("US").duty_days == 1096
    assert "1006.100" in retention.duty("US").source
    assert "PIPL" in retention.duty("CN").source


def test_records_are_kept_the_longest_served_duty_plus_the_margin() -> None:
    retention = load_retention(PROJECT_ROOT)
    assert retention.records_days == 1096 + retention.margin_days
    only_china = retention.model_copy(update={"serves": ("CN",)})
    assert only_china.records_days == 365 + retention.margin_days


def test_local_settings_use_the_records_retention() -> None:
    assert Settings().audit_retention_days == load_retention(PROJECT_ROOT).records_days


def test_expires_at_counts_days_from_the_last_activity() -> None:
    assert expires_at(T0, 10) == int((T0 + timedelta(days=10)).timestamp())
    with pytest.raises(ValueError, match="aware"):
        expires_at(T0.replace(tzinfo=None), 10)


def test_unknown_profile_duty_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="'XX'"):
        load_retention(PROJECT_ROOT).duty("XX")


def _config_copy(tmp_path: Path, change: dict[str, object]) -> Path:
    (tmp_path / "config").mkdir()
    raw = yaml.safe_load((PROJECT_ROOT / RETENTION_FILE).read_text(encoding="utf-8"))
    raw.update(change)
    (tmp_path / RETENTION_FILE).write_text(yaml.safe_dump(raw), encoding="utf-8")
    return tmp_path


def test_serving_a_profile_without_a_duty_is_refused(tmp_path: Path) -> None:
    root = _config_copy(tmp_path, {"serves": ["US", "ZZ"]})
    with pytest.raises(ConfigError, match="ZZ"):
        load_retention(root)


def test_a_table_without_a_reason_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((PROJECT_ROOT / RETENTION_FILE).read_text(encoding="utf-8"))
    tables = raw["tables"]
    tables["ledger"] = {"personal_data": True, "keep": "records", "reason": ""}
    root = _config_copy(tmp_path, {"tables": tables})
    with pytest.raises(ConfigError, match="reason"):
        load_retention(root)
