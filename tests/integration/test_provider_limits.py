"""The simulated providers refuse sends as real ones do — throttling above the configured
rate, failing during an outage — and no ladder dies of it: every refused rung is deferred by
the ladder itself and sent later, or ends with a reason. Both engines decide the same.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from functions.core.models import AuditRecord, Channel, Decision
from rung.engine import SimulationInput, SimulationResult
from rung.engine_fast import run_fast
from rung.engine_full import run_full
from rung.provider_limits import Outage
from tests.integration.test_engines_agree import decisions, write_accounts

START = datetime(2026, 12, 1, tzinfo=UTC)
# 10:00 to 12:00 Eastern on 2 December: the morning rungs of that day in the East and Centre.
OUTAGE = Outage.parse("sms:2026-12-02T15:00:00Z/PT2H")


def _sim(
    accounts_file: Path, *, sms_rate: int | None, outages: tuple[Outage, ...]
) -> SimulationInput:
    return SimulationInput(
        accounts_file=accounts_file,
        lender_id="demo",
        start=START,
        days=21,
        rates=((Channel.SMS, sms_rate), (Channel.EMAIL, 2)),
        outages=outages,
    )


def _peak(result: SimulationResult, channel: Channel) -> int:
    per_second = Counter(
        r.at_utc.replace(microsecond=0)
        for r in result.records
        if r.decision is Decision.SENT and r.channel is channel
    )
    return max(per_second.values(), default=0)


def _rung_outcomes(records: list[AuditRecord]) -> dict[tuple[str, int], list[AuditRecord]]:
    by_rung: dict[tuple[str, int], list[AuditRecord]] = {}
    for record in records:
        by_rung.setdefault((record.account_id, record.rung), []).append(record)
    return by_rung


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "accounts.csv"
    write_accounts(path, random.Random(20261202))
    return path


def test_sms_outage_defers_every_affected_sms_rung_and_leaves_email_alone(
    accounts_file: Path,
) -> None:
    # Given 200 accounts, SMS at 3/s, and the same run with a 2-hour SMS outage
    calm = run_fast(_sim(accounts_file, sms_rate=3, outages=()))
    stormy = run_fast(_sim(accounts_file, sms_rate=3, outages=(OUTAGE,)))

    # Then no ladder failed, and nothing went out over SMS during the outage
    assert calm.ladders_failed == stormy.ladders_failed == 0
    sms_sent = [
        r for r in stormy.records if r.channel is Channel.SMS and r.decision is Decision.SENT
    ]
    assert not [r for r in sms_sent if OUTAGE.start <= r.at_utc < OUTAGE.end]
    # ... every SMS rung the outage deferred was sent after it, or ended with a reason
    affected = 0
    for records in _rung_outcomes(stormy.records).values():
        final = records[-1]
        outage_hit = any(
            r.reason == "provider_unavailable" and OUTAGE.start <= r.at_utc < OUTAGE.end
            for r in records
        )
        if final.channel is not Channel.SMS or not outage_hit:
            continue
        affected += 1
        assert final.decision in {Decision.SENT, Decision.SUPPRESSED}
        if final.decision is Decision.SENT:
            assert final.at_utc >= OUTAGE.end
        else:
            assert final.reason  # e.g. expired_after_deferral, opted_out
    assert affected >= 8  # the outage really hit that morning's rungs

    # ... and email went out exactly as without the outage
    def emails(result: SimulationResult) -> list[tuple[object, ...]]:
        return [row for row in decisions(result) if row[2] is Channel.EMAIL]

    assert emails(stormy) == emails(calm)
    # ... with the providers' rates never exceeded
    assert _peak(stormy, Channel.SMS) <= 3 and _peak(stormy, Channel.EMAIL) <= 2


@pytest.mark.slow
def test_engines_agree_under_throttling_and_an_outage(tmp_path: Path) -> None:
    # Given 60 accounts, 1 SMS/s, 2 emails/s and a 2-hour SMS outage
    accounts_file = tmp_path / "accounts.csv"
    write_accounts(accounts_file, random.Random(20261203), count=60)
    sim = _sim(accounts_file, sms_rate=1, outages=(OUTAGE,))

    # When both engines run it
    fast = run_fast(sim)
    full = run_full(sim)

    # Then they refused, retried, deferred and sent the same rungs at the same instants
    reasons = Counter(r.reason for r in fast.records if r.decision is Decision.DEFERRED)
    assert reasons["provider_unavailable"] > 10
    assert decisions(fast) == decisions(full)
    assert fast.ladders_failed == full.ladders_failed == 0
    # ... and billed the same Step Functions transitions, retries and deferrals included
    assert fast.sfn_transitions == full.sfn_transitions
    assert _peak(full, Channel.SMS) == 1
