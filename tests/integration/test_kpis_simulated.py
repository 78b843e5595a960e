"""`rung kpis` on a simulated 10 000-account run: every KPI equals an independent calculation.

Two runs of a generated accounts file (due dates 1–103 days before the start) through `rung
simulate` on the fast engine: one with a seeded payments file (some pay in full, some in two
parts, some after the cure window, most never) and a seeded replies file (STOP and complaints);
one where the response model draws the payments and STOP replies (`--response-model`). The
calculation below reads only what a lender holds — messages.csv, the accounts, payments and
replies files (for the second run, synthetic_responses.csv in their place), the lender's unit
prices — and none of Rung's analytics code or SQL.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from functions.core.lenders import load_lender
from functions.settings import PROJECT_ROOT
from rung.cli import main

# Runs only on the operator's machine, never in Lambda: `make test-runtime` leaves it out.
pytestmark = pytest.mark.operator_only

ACCOUNTS = 10_000
START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 40
END = START + timedelta(days=DAYS)
CURE_DAYS = 30  # config/kpis.yaml
BUCKETS = ((1, 30), (31, 60), (61, 90))  # config/kpis.yaml
STOP, COMPLAINT = "STOP", "this is harassment"


@dataclass
class Borrower:
    account_id: str
    phone: str
    email: str
    amount_due: Decimal
    due_date: date


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def write_inputs(folder: Path) -> tuple[list[Borrower], Path, Path, Path]:
    rng = random.Random(20261201)
    borrowers = []
    for i in range(ACCOUNTS):
        borrowers.append(
            Borrower(
                account_id=f"K{i:06d}",
                phone=f"+1206{2000000 + i:07d}",
                email=f"user{i}@example.com" if i % 2 else "",
                amount_due=Decimal(rng.randrange(1_000, 90_000)) / 100,
                due_date=START.date() - timedelta(days=rng.randint(1, 103)),
            )
        )
    accounts = folder / "accounts.csv"
    with accounts.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "account_id",
                "phone",
                "email",
                "amount_due",
                "currency",
                "due_date",
                "country",
                "state",
            ]
        )
        for b in borrowers:
            writer.writerow(
                [b.account_id, b.phone, b.email, b.amount_due, "USD", b.due_date, "US", "WA"]
            )

    def moment(low_days: float, high_days: float) -> datetime:
        return START + timedelta(seconds=int(rng.uniform(low_days, high_days) * 86_400))

    payments = folder / "payments.csv"
    replies = folder / "replies.csv"
    with (
        payments.open("w", encoding="utf-8", newline="") as pay,
        replies.open("w", encoding="utf-8", newline="") as reply,
    ):
        pay_writer, reply_writer = csv.writer(pay), csv.writer(reply)
        pay_writer.writerow(["account_id", "paid_at", "amount"])
        reply_writer.writerow(["at", "from", "channel", "text"])
        for b in borrowers:
            draw = rng.random()
            if draw < 0.30:  # in full, sometimes after the window or after the run
                pay_writer.writerow([b.account_id, iso(moment(0, 45)), b.amount_due])
            elif draw < 0.45:  # in two parts
                half = (b.amount_due / 2).quantize(Decimal("0.01"))
                pay_writer.writerow([b.account_id, iso(moment(0, 15)), half])
                pay_writer.writerow([b.account_id, iso(moment(15, 38)), b.amount_due - half])
            elif draw < 0.50:  # a part only
                pay_writer.writerow([b.account_id, iso(moment(0, 30)), Decimal("5.00")])
            said = rng.random()
            if said < 0.04:
                reply_writer.writerow([iso(moment(0, 25)), b.phone, "sms", STOP])
            elif said < 0.05:
                reply_writer.writerow([iso(moment(0, 25)), b.phone, "sms", COMPLAINT])
    return borrowers, accounts, payments, replies


def rows_of(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def expected_kpis(
    borrowers: list[Borrower], messages: Path, payments: Path, replies: Path
) -> dict[str, Any]:
    """The KPIs worked out in plain Python from what the lender holds."""
    prices = load_lender(PROJECT_ROOT, "demo").prices
    owed = {b.account_id: b.amount_due for b in borrowers}
    due = {b.account_id: b.due_date for b in borrowers}
    by_address = {b.phone: b.account_id for b in borrowers}
    by_address |= {b.email: b.account_id for b in borrowers if b.email}

    decisions = rows_of(messages, "utf-8-sig")
    start_at: dict[str, datetime] = {}
    sends: dict[str, list[tuple[datetime, int, str, str, str]]] = defaultdict(list)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for row in decisions:
        at, account = parse(row["at_utc"]), row["account_id"]
        start_at[account] = min(at, start_at.get(account, at))
        if row["decision"] == "SENT":
            sends[account].append(
                (at, int(row["rung"]), row["channel"], row["template_id"], row["template_version"])
            )
            cost[account] += (
                prices.sms_segment * int(row["segments"])
                if row["channel"] == "sms"
                else prices.email
            )

    paid = sorted(
        (parse(row["paid_at"]), row["account_id"], Decimal(row["amount"]))
        for row in rows_of(payments)
        if parse(row["paid_at"]) <= END
    )
    running: Counter[str] = Counter()
    cure_at: dict[str, datetime] = {}
    for at, account, amount in paid:
        running[account] += amount  # type: ignore[assignment]
        if account not in cure_at and running[account] >= owed[account]:
            cure_at[account] = at
    cured = {
        a
        for a in start_at
        if a in cure_at and cure_at[a] <= start_at[a] + timedelta(days=CURE_DAYS)
    }

    def last_touch(account: str, at: datetime) -> tuple[datetime, int, str, str, str] | None:
        before = [s for s in sends[account] if s[0] <= at]
        if not before:
            return None
        latest = max((s[0], s[1]) for s in before)
        return min(s for s in before if (s[0], s[1]) == latest)  # then the first channel

    payments_by: dict[str, Counter[Any]] = defaultdict(Counter)
    hours_by_rung: dict[int, list[float]] = defaultdict(list)
    for at, account, _ in paid:
        touch = last_touch(account, at)
        if touch is not None:
            payments_by["rung"][touch[1]] += 1
            payments_by["channel"][touch[2]] += 1
            payments_by["template"][touch[3:]] += 1
            hours_by_rung[touch[1]].append((at - touch[0]).total_seconds() / 3600)
    replied: dict[str, Counter[Any]] = {STOP: Counter(), COMPLAINT: Counter()}
    for row in rows_of(replies):
        account = by_address[row["from"]]
        touch = last_touch(account, max(parse(row["at"]), START))
        if touch is not None:
            replied[row["text"]][touch[3:]] += 1

    sent_rung = Counter(s[1] for ss in sends.values() for s in ss)
    sent_channel = Counter(s[2] for ss in sends.values() for s in ss)
    cost_channel: Counter[str] = Counter()
    for row in decisions:
        if row["decision"] == "SENT":
            cost_channel[row["channel"]] += (  # type: ignore[assignment]
                prices.sms_segment * int(row["segments"])
                if row["channel"] == "sms"
                else prices.email
            )
    sent_template = Counter(s[3:] for ss in sends.values() for s in ss)
    last_at = max([parse(r["at_utc"]) for r in decisions] + [at for at, _, _ in paid])
    roll = []
    for first, last in BUCKETS:
        members = [a for a in start_at if first <= (start_at[a].date() - due[a]).days <= last]
        observed = [a for a in members if (last_at.date() - due[a]).days > last]
        rolled = [
            a for a in observed if a not in cure_at or (cure_at[a].date() - due[a]).days > last
        ]
        if members:
            roll.append((first, last, len(members), len(observed), len(rolled)))
    cure_days = Counter((cure_at[a].date() - start_at[a].date()).days for a in cured)
    curve, total = [], 0
    for day in sorted(cure_days):
        total += cure_days[day]
        curve.append((day, total))
    contacts = sum(len(s) for s in sends.values())
    all_cost = sum(cost.values(), Decimal(0))
    return {
        "accounts": len(start_at),
        "cured": len(cured),
        "contacts": contacts,
        "cost": all_cost,
        "by_rung": {
            rung: (sent_rung[rung], payments_by["rung"][rung], hours_by_rung.get(rung))
            for rung in sent_rung
        },
        "by_channel": {
            channel: (sent_channel[channel], payments_by["channel"][channel], cost_channel[channel])
            for channel in sent_channel
        },
        "by_template": {
            key: (
                sent_template[key],
                replied[STOP][key],
                replied[COMPLAINT][key],
                payments_by["template"][key],
            )
            for key in sent_template
        },
        "roll_rate": roll,
        "cure_curve": curve,
        "cohorts": Counter(
            (s.date() - timedelta(days=s.weekday())).isoformat() for s in start_at.values()
        ),
    }


def simulate_and_compute_kpis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], accounts: Path, inputs: list[str]
) -> tuple[Path, dict[str, Any]]:
    """`rung simulate` for DAYS days on the fast engine, then `rung kpis` on its record."""
    out = tmp_path / "out"
    code = main(
        [
            "simulate",
            str(accounts),
            *inputs,
            "--start",
            iso(START),
            "--days",
            str(DAYS),
            "--out",
            str(out),
            "--engine",
            "fast",
            "--json",
        ]
    )
    assert code == 0
    capsys.readouterr()
    assert main(["kpis", str(out), "--json", "--out", str(tmp_path / "kpis.html")]) == 0
    return out, json.loads(capsys.readouterr().out)


def assert_kpis_equal(report: dict[str, Any], expected: dict[str, Any]) -> None:
    assert report["accounts"] == expected["accounts"] == ACCOUNTS
    assert report["cured"] == expected["cured"]
    assert 0 < report["cured"] < report["accounts"]
    assert report["cure_rate"] == pytest.approx(expected["cured"] / expected["accounts"])
    assert report["contacts"] == expected["contacts"]
    assert report["cost"] == pytest.approx(float(expected["cost"]))
    assert report["cost_per_cured"] == pytest.approx(float(expected["cost"]) / expected["cured"])

    by_rung = {row["rung"]: row for row in report["by_rung"]}
    assert set(by_rung) == set(expected["by_rung"])
    for rung, (sent, paid, hours) in expected["by_rung"].items():
        assert (by_rung[rung]["sent"], by_rung[rung]["payments"]) == (sent, paid)
        mean = sum(hours) / len(hours) if hours else None
        assert by_rung[rung]["mean_hours_to_pay"] == pytest.approx(mean)

    by_channel = {row["channel"]: row for row in report["by_channel"]}
    assert {c: (r["sent"], r["payments"]) for c, r in by_channel.items()} == {
        c: (sent, paid) for c, (sent, paid, _) in expected["by_channel"].items()
    }
    for channel, (_, _, spent) in expected["by_channel"].items():
        assert by_channel[channel]["cost"] == pytest.approx(float(spent))
        assert by_channel[channel]["delivery_rate"] is None  # a simulation has no receipts

    by_template = {
        (r["template_id"], r["template_version"]): (
            r["sent"],
            r["opt_outs"],
            r["complaints"],
            r["payments"],
        )
        for r in report["by_template"]
    }
    assert by_template == expected["by_template"]
    assert sum(v[1] for v in by_template.values()) > 0  # the opt-outs were attributed

    assert [
        (r["first_day"], r["last_day"], r["accounts"], r["observed"], r["rolled"])
        for r in report["roll_rate"]
    ] == expected["roll_rate"]
    assert [(r["day"], r["cured"]) for r in report["cure_curve"]] == expected["cure_curve"]
    assert {r["cohort"]: r["accounts"] for r in report["by_cohort"]} == expected["cohorts"]
    assert [r["variant"] for r in report["by_variant"]] == ["none"]


@pytest.mark.slow
def test_kpis_of_a_simulated_10000_account_run_equal_an_independent_calculation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a 10 000-account file, its payments and replies, simulated for 40 days
    borrowers, accounts, payments, replies = write_inputs(tmp_path)
    inputs = ["--payments", str(payments), "--replies", str(replies)]

    # When the KPIs are computed from the run's analytics record
    out, report = simulate_and_compute_kpis(tmp_path, capsys, accounts, inputs)

    # Then each equals the calculation from messages.csv and the input files
    assert_kpis_equal(report, expected_kpis(borrowers, out / "messages.csv", payments, replies))
    assert sum(r["complaints"] for r in report["by_template"]) > 0  # complaints attributed
    page = (tmp_path / "kpis.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "http" not in page.replace("http-equiv", "")


@pytest.mark.slow
def test_kpis_of_a_preview_with_a_response_model_equal_an_independent_calculation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the same 10 000 accounts, with the response model drawing payments and STOPs
    borrowers, accounts, _, _ = write_inputs(tmp_path)
    model = PROJECT_ROOT / "samples" / "response_model.yaml"
    inputs = ["--response-model", str(model), "--seed", "7"]

    # When the KPIs are computed from the preview's analytics record
    out, report = simulate_and_compute_kpis(tmp_path, capsys, accounts, inputs)

    # Then each equals the calculation from what the model drew, read as a lender's files: a
    # payment in full of the balance, a STOP from the address the message went to
    drawn = rows_of(out / "synthetic_responses.csv", "utf-8-sig")
    assert {row["synthetic"] for row in drawn} == {"1"}
    owed = {b.account_id: b for b in borrowers}
    payments, replies = tmp_path / "drawn_payments.csv", tmp_path / "drawn_replies.csv"
    with (
        payments.open("w", encoding="utf-8", newline="") as pay,
        replies.open("w", encoding="utf-8", newline="") as reply,
    ):
        pay_writer, reply_writer = csv.writer(pay), csv.writer(reply)
        pay_writer.writerow(["account_id", "paid_at", "amount"])
        reply_writer.writerow(["at", "from", "channel", "text"])
        for row in drawn:
            borrower = owed[row["account_id"]]
            if row["kind"] == "payment":
                pay_writer.writerow([row["account_id"], row["at_utc"], borrower.amount_due])
            else:
                address = borrower.phone if row["channel"] == "sms" else borrower.email
                reply_writer.writerow([row["at_utc"], address, row["channel"], STOP])
    assert_kpis_equal(report, expected_kpis(borrowers, out / "messages.csv", payments, replies))
