"""The response model: its probabilities compose as documented, its draws are seeded per
contact, and a bad model is refused naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from scipy.stats import binomtest

from functions.core.models import Account, AuditRecord, Channel, Decision
from functions.settings import PROJECT_ROOT
from rung.response_model import ResponseModel, load_response_model, respond

AT = datetime(2026, 12, 1, 18, tzinfo=UTC)
MODEL = ResponseModel.model_validate(
    {
        "pay": {
            "base": 0.1,
            "by_rung": {2: 0.5},
            "by_channel": {"email": 0.8},
            "by_segment": {"pilot": 1.5},
            "by_variant": {"b": 2.0},
        },
        "time_to_pay": {"median_hours": 24, "sigma": 0.5},
        "opt_out": {"by_channel": {"sms": 0.05}, "within_hours": 6},
    }
)


def _account(account_id: str = "A-1", **changes: object) -> Account:
    fields: dict[str, object] = {
        "lender_id": "demo",
        "account_id": account_id,
        "phone": "+12065550134",
        "amount_due": Decimal("10"),
        "currency": "USD",
        "due_date": date(2026, 11, 28),
        "locale": "en-US",
        "cycle": "2026-11-28",
    }
    return Account.model_validate(fields | changes)


def _sent(account: Account, rung: int = 0, channel: Channel = Channel.SMS) -> AuditRecord:
    return AuditRecord(
        lender_id=account.lender_id,
        account_id=account.account_id,
        cycle=account.cycle,
        rung=rung,
        channel=channel,
        decision=Decision.SENT,
        at_utc=AT,
    )


def test_the_pay_probability_multiplies_the_factors_of_rung_channel_segment_variant() -> None:
    account = _account(segment="pilot", variant="b")
    assert MODEL.pay_probability(_sent(account, 1, Channel.EMAIL), account) == pytest.approx(
        0.1 * 0.5 * 0.8 * 1.5 * 2.0
    )
    # Keys not listed are a factor of 1
    assert MODEL.pay_probability(_sent(_account()), _account()) == pytest.approx(0.1)


def test_the_same_contact_draws_the_same_response_and_another_seed_may_not() -> None:
    account = _account()
    first = [respond(MODEL, 7, _sent(_account(f"A-{i}")), _account(f"A-{i}")) for i in range(200)]
    again = [respond(MODEL, 7, _sent(_account(f"A-{i}")), _account(f"A-{i}")) for i in range(200)]
    other = [respond(MODEL, 8, _sent(_account(f"A-{i}")), _account(f"A-{i}")) for i in range(200)]
    assert first == again != other
    assert respond(MODEL, 7, _sent(account), account) == first[1]


def test_draws_follow_the_model_probabilities_and_times() -> None:
    n = 4000
    drawn = [respond(MODEL, 1, _sent(_account(f"A-{i}")), _account(f"A-{i}")) for i in range(n)]
    payers = [r.pays_at for r in drawn if r.pays_at is not None]
    assert binomtest(len(payers), n, 0.1).pvalue > 0.001
    hours = sorted((at - AT).total_seconds() / 3600 for at in payers)
    assert hours[len(hours) // 2] == pytest.approx(24, rel=0.15)  # the median
    opt_outs = [r.opts_out_at for r in drawn if r.opts_out_at is not None]
    assert binomtest(len(opt_outs), n, 0.05).pvalue > 0.001
    assert all(AT <= at <= AT + timedelta(hours=6) for at in opt_outs)


def test_no_one_opts_out_on_a_channel_the_model_gives_no_probability() -> None:
    drawn = [
        respond(MODEL, 1, _sent(_account(f"A-{i}"), channel=Channel.EMAIL), _account(f"A-{i}"))
        for i in range(500)
    ]
    assert all(r.opts_out_at is None for r in drawn)


def test_a_model_cannot_make_borrowers_reply_on_push(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "pay: {base: 0.1}\ntime_to_pay: {median_hours: 1, sigma: 1}\n"
        "opt_out: {by_channel: {push: 0.1}, within_hours: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"m.yaml: opt_out.by_channel: .*do not reply on push"):
        load_response_model(path)


def test_the_sample_model_loads() -> None:
    model = load_response_model(PROJECT_ROOT / "samples" / "response_model.yaml")
    assert 0 < model.pay.base < 1
