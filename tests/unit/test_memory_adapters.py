"""In-memory adapter details the contract suite does not cover (folder mode, test hooks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.adapters.memory import (
    MemoryLadderControl,
    MemoryLedger,
    MemoryObjectStore,
    MemorySms,
)
from functions.adapters.records import ObjectNotFound, utc_iso
from functions.core.errors import TransientSendError
from functions.core.models import Channel, LedgerEntry
from functions.core.ports import OutboundMessage

SMS = OutboundMessage(channel=Channel.SMS, to="+14155550123", body="Reminder", origination=None)


def test_memory_object_store_folder_mode_writes_real_files(tmp_path: Path) -> None:
    store = MemoryObjectStore(tmp_path)

    store.put("rejects/demo/march.csv", b"row,reason\n", "text/csv")

    assert (tmp_path / "rejects" / "demo" / "march.csv").read_bytes() == b"row,reason\n"
    with store.open("rejects/demo/march.csv") as stream:
        assert stream.read() == b"row,reason\n"
    assert store.content_types["rejects/demo/march.csv"] == "text/csv"
    with pytest.raises(ObjectNotFound):
        store.open("rejects/demo/none.csv")


def test_memory_object_store_refuses_keys_escaping_its_folder(tmp_path: Path) -> None:
    store = MemoryObjectStore(tmp_path / "world")

    with pytest.raises(ValueError, match="escapes"):
        store.put("../outside.csv", b"x", "text/csv")

    assert not (tmp_path / "outside.csv").exists()


def test_memory_sms_fail_next_fails_that_many_sends_then_recovers() -> None:
    sms = MemorySms()
    sms.fail_next(TransientSendError("throttled"), times=2)

    for _ in range(2):
        with pytest.raises(TransientSendError):
            sms.send(SMS)
    message_id = sms.send(SMS)

    assert sms.sent == [(message_id, SMS)]


def test_memory_ladder_control_finished_name_stays_used() -> None:
    ladders = MemoryLadderControl()
    state = json.dumps({"rung": 0})
    ladders.start("demo-A1-c1", state)

    ladders.finish("demo-A1-c1")

    assert ladders.running == set()
    assert ladders.start("demo-A1-c1", state) is False
    assert ladders.stop("demo-A1-c1", "paid") is False


def test_memory_ledger_refuses_naive_instants_like_dynamodb() -> None:
    entry = LedgerEntry(
        ladder_key="demo#A1#c1", rung=1, channel=Channel.SMS, attempted_at=datetime(2026, 3, 2)
    )

    with pytest.raises(ValueError, match="naive"):
        MemoryLedger().claim(entry)


def test_utc_iso_is_fixed_width_so_strings_sort_as_instants() -> None:
    whole = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)
    later = datetime(2026, 3, 2, 15, 0, 0, 500_000, tzinfo=UTC)

    assert utc_iso(whole) == "2026-03-02T15:00:00.000000+00:00"
    assert utc_iso(whole) < utc_iso(later)
