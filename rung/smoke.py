"""A smoke test of a real deployment, addressed only to AWS's own test destinations.

It uploads a five-row file for the `smoke` lender, whose ladder (`ladders/smoke.yaml`) texts
at once and emails three minutes later, to the SES mailbox simulator (delivered, bounce,
complaint) and End User Messaging's US destination simulator numbers (success, failure) —
nothing reaches a real person. It then polls the stack's tables until every expectation holds
or the time runs out: the account was accepted, the rung was SENT (ledger and audit agree),
the provider's receipt came back on the ledger, and the bounce and the complaint suppressed
their addresses. Every step is a function over a client factory, so the whole run is tested
against moto's local world.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from functions.adapters.dynamo import DynamoAccountStore, DynamoLedger, DynamoSuppressionStore
from functions.adapters.records import ladder_key
from functions.core.models import Channel, Decision, SuppressionSource
from rung.preflight import AWS_ERRORS, Check, Clients

LENDER = "smoke"
SMS_RUNG, EMAIL_RUNG = 0, 1  # ladders/smoke.yaml: minute 0 SMS, minute 3 email
# AWS End User Messaging SMS destination simulator numbers (US); reached only from a
# simulator origination number, never over a carrier network.
SMS_SIMULATOR_SUCCESS = "+14254147755"
SMS_SIMULATOR_FAILURE = "+14254147167"
SMS_SUCCESS_STATUSES = frozenset({"DELIVERED", "SUCCESSFUL"})
HEADER = (
    *("account_id", "phone", "email", "amount_due", "currency", "due_date"),
    *("first_name", "locale", "country", "state", "timezone"),
)
WASHINGTON = ("Smoke", "en-US", "US", "WA", "America/Los_Angeles")


@dataclass(frozen=True)
class SmokeBorrower:
    """One row of the smoke file and what the deployment must do with it."""

    name: str
    channel: Channel
    address: str
    receipt: Callable[[str], bool]  # is this ledger `delivery` status the expected receipt?
    receipt_wanted: str
    suppression: SuppressionSource | None = None


BORROWERS = (
    SmokeBorrower(
        "sms-delivered",
        Channel.SMS,
        SMS_SIMULATOR_SUCCESS,
        lambda status: status in SMS_SUCCESS_STATUSES,
        "a delivered SMS event",
    ),
    SmokeBorrower(
        "sms-failed",
        Channel.SMS,
        SMS_SIMULATOR_FAILURE,
        lambda status: bool(status) and status not in SMS_SUCCESS_STATUSES,
        "a failed SMS event",
    ),
    SmokeBorrower(
        "email-delivered",
        Channel.EMAIL,
        "success@simulator.amazonses.com",
        lambda status: status == "DELIVERED",
        "an SES Delivery event",
    ),
    SmokeBorrower(
        "email-bounce",
        Channel.EMAIL,
        "bounce@simulator.amazonses.com",
        lambda status: status == "BOUNCE_PERMANENT",
        "an SES permanent Bounce event",
        SuppressionSource.BOUNCE,
    ),
    SmokeBorrower(
        "email-complaint",
        Channel.EMAIL,
        "complaint@simulator.amazonses.com",
        lambda status: status in {"DELIVERED", "COMPLAINT"},
        "an SES Delivery or Complaint event",
        SuppressionSource.COMPLAINT,
    ),
)


@dataclass(frozen=True)
class Deployment:
    """Where the stack keeps what the smoke test writes and reads (its stack outputs)."""

    bucket: str
    accounts_table: str
    ledger_table: str
    audit_table: str
    suppressions_table: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, str]) -> Deployment:
        return cls(
            bucket=outputs["UploadsBucketName"],
            accounts_table=outputs["AccountsTableName"],
            ledger_table=outputs["LedgerTableName"],
            audit_table=outputs["AuditTableName"],
            suppressions_table=outputs["SuppressionsTableName"],
        )


@dataclass(frozen=True)
class SmokeRun:
    """One upload: its run id names the accounts, so every run starts fresh ladders."""

    at: datetime

    @property
    def run_id(self) -> str:
        return f"{self.at:%Y%m%dT%H%M%S}"

    @property
    def key(self) -> str:
        return f"uploads/{LENDER}/smoke-{self.run_id}.csv"

    @property
    def cycle(self) -> str:
        return self.at.date().isoformat()  # the due date, which is the ladder's cycle

    def account_id(self, borrower: SmokeBorrower) -> str:
        return f"smoke-{self.run_id}-{borrower.name}"

    def lender_file(self) -> bytes:
        """The borrowers in Washington (the simulator numbers' area code, Pacific time)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for borrower in BORROWERS:
            phone = borrower.address if borrower.channel is Channel.SMS else ""
            email = borrower.address if borrower.channel is Channel.EMAIL else ""
            writer.writerow(
                (self.account_id(borrower), phone, email, "1.00", "USD", self.cycle, *WASHINGTON)
            )
        return out.getvalue().encode("utf-8")


@dataclass
class Expectation:
    """A named condition polled until it holds; `detail` says what was last seen."""

    name: str
    probe: Callable[[], tuple[bool, str]]
    fix: str = ""
    ok: bool = False
    detail: str = "not checked"

    def poll(self) -> None:
        if self.ok:
            return
        try:
            self.ok, self.detail = self.probe()
        except AWS_ERRORS as exc:
            self.ok, self.detail = False, f"could not read it: {exc}"

    def check(self) -> Check:
        return Check(self.name, self.ok, self.detail, "" if self.ok else self.fix)


@dataclass
class Smoke:
    """The smoke test over one deployment; `now` and `sleep` are injected (virtual in tests)."""

    clients: Clients
    deployment: Deployment
    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    expectations: list[Expectation] = field(default_factory=list)

    def upload(self, run: SmokeRun) -> Check:
        name = f"upload s3://{self.deployment.bucket}/{run.key}"
        try:
            self.clients("s3").put_object(
                Bucket=self.deployment.bucket, Key=run.key, Body=run.lender_file()
            )
        except AWS_ERRORS as exc:
            return Check(name, False, f"refused: {exc}", "check the stack outputs and your role")
        return Check(name, True, f"{len(BORROWERS)} borrowers")

    def expect(self, run: SmokeRun) -> list[Expectation]:
        dynamodb = self.clients("dynamodb")
        accounts = DynamoAccountStore(self.deployment.accounts_table, client=dynamodb)
        ledger = DynamoLedger(self.deployment.ledger_table, client=dynamodb)
        suppressions = DynamoSuppressionStore(self.deployment.suppressions_table, client=dynamodb)
        expectations = []
        for borrower in BORROWERS:
            account_id = run.account_id(borrower)
            key = ladder_key(LENDER, account_id, run.cycle)
            rung = SMS_RUNG if borrower.channel is Channel.SMS else EMAIL_RUNG
            expectations += [
                Expectation(
                    f"{borrower.name}: accepted by the schedule function",
                    partial(_accepted, accounts, account_id),
                    "see the rejects/ report and the schedule function's logs",
                ),
                Expectation(
                    f"{borrower.name}: {borrower.channel.value} SENT (ledger and audit)",
                    partial(self._sent, ledger, key, rung, borrower.channel),
                    "see the audit record's reason; the send function's logs",
                ),
                Expectation(
                    f"{borrower.name}: receipt on the ledger ({borrower.receipt_wanted})",
                    partial(_receipt, ledger, key, rung, borrower),
                    _receipt_fix(borrower.channel),
                ),
            ]
            if borrower.suppression is not None:
                expectations.append(
                    Expectation(
                        f"{borrower.name}: address suppressed ({borrower.suppression.value})",
                        partial(_suppressed, suppressions, borrower),
                        "SES events reach the optout function through DeliveryEventsTopicArn: "
                        "see its logs and the FailedEvents queue",
                    )
                )
        return expectations

    def run(self, *, timeout: timedelta, interval: timedelta) -> list[Check]:
        """Upload, then poll every expectation until all hold or `timeout` passes."""
        run = SmokeRun(self.now())
        uploaded = self.upload(run)
        if not uploaded.ok:
            return [uploaded]
        expectations = self.expect(run)
        deadline = self.now() + timeout
        while True:
            for expectation in expectations:
                expectation.poll()
            if all(e.ok for e in expectations) or self.now() >= deadline:
                break
            self.sleep(interval.total_seconds())
        return [uploaded, *(e.check() for e in expectations)]

    def _sent(
        self, ledger: DynamoLedger, key: str, rung: int, channel: Channel
    ) -> tuple[bool, str]:
        entry = ledger.get(key, rung, channel)
        decisions = self._decisions(key, rung, channel)
        if entry is None:
            latest = decisions[-1] if decisions else "no decision yet"
            return False, f"no ledger entry; audit: {latest}"
        sent = entry.state is Decision.SENT and bool(entry.provider_message_id)
        audited = any(d.startswith(Decision.SENT.value) for d in decisions)
        detail = f"ledger {entry.state.value}, audit: {', '.join(decisions) or 'none'}"
        return sent and audited, detail

    def _decisions(self, key: str, rung: int, channel: Channel) -> list[str]:
        items = self.clients("dynamodb").query(
            TableName=self.deployment.audit_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": key}},
            ConsistentRead=True,
        )["Items"]
        return [
            f"{item['decision']['S']} {item.get('reason', {}).get('S', '')}".strip()
            for item in items
            if int(item["rung"]["N"]) == rung and item["channel"]["S"] == channel.value
        ]


def _accepted(accounts: DynamoAccountStore, account_id: str) -> tuple[bool, str]:
    account = accounts.get(LENDER, account_id)
    return (account is not None, f"status {account.status.value}" if account else "not stored")


def _receipt(
    ledger: DynamoLedger, key: str, rung: int, borrower: SmokeBorrower
) -> tuple[bool, str]:
    entry = ledger.get(key, rung, borrower.channel)
    status = entry.delivery if entry else ""
    return borrower.receipt(status), f"receipt: {status or 'none yet'}"


def _receipt_fix(channel: Channel) -> str:
    if channel is Channel.EMAIL:
        return (
            "SES publishes events through the stack's configuration set to "
            "DeliveryEventsTopicArn: check the lender's ses_configuration_set and the topic policy"
        )
    return (
        "SMS delivery events come only for messages sent with an AWS End User Messaging "
        "configuration set whose event destination is DeliveryEventsTopicArn (see README, "
        "Deploying: SMS delivery events)"
    )


def _suppressed(suppressions: DynamoSuppressionStore, borrower: SmokeBorrower) -> tuple[bool, str]:
    found = suppressions.get(borrower.channel, borrower.address)
    if found is None:
        return False, "no suppression"
    return found.source is borrower.suppression, f"suppressed by {found.source.value}"


def stack_outputs(clients: Clients, stack: str) -> dict[str, str]:
    described: Any = clients("cloudformation").describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])}
