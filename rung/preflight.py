"""Before the first real send: is the account around the deployed stack ready?

CloudFormation cannot verify an SES domain, leave a sandbox, register a phone number or
activate a receipt rule set; these checks read (never write) what AWS reports about each and
say what is missing and how to fix it. Each check is a function over a client factory
(`clients("sesv2")` → a boto3 client or a test double), so every check runs against moto where
moto models the API and against a fake client where it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

Clients = Callable[[str], Any]
# What a call may raise when AWS refuses, is unreachable, or answers in a shape botocore
# cannot read (an endpoint that does not model the API).
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)

# Outputs the stack declares (infra/stack.py) that the deploy steps and `rung smoke` read.
REQUIRED_OUTPUTS = (
    "UploadsBucketName",
    "LadderStateMachineArn",
    "InboundSmsTopicArn",
    "DeliveryEventsTopicArn",
    "UnsubscribeUrl",
    "InboundMailRuleSetName",
    "AlarmTopicArn",
    "AccountsTableName",
    "LedgerTableName",
    "AuditTableName",
    "SuppressionsTableName",
)
# A new account's SMS spend limit is US$1 a month: enough for a smoke test, not for a ladder.
SANDBOX_SPEND_LIMIT_USD = 1


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what AWS reports
    fix: str = ""  # what to do about it (failures only)

    def as_json(self) -> dict[str, object]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Expectations:
    """What the deployed stack and the lender files say should exist."""

    stack: str
    email_identities: tuple[str, ...]  # cdk.json email.identities
    origination_identities: tuple[str, ...]  # every lender's sms_origination
    layer_parameter: str  # the Powertools layer's public SSM parameter
    alarm_email: str | None  # cdk.json alarms.email
    # cdk.json sms.origination_identities: number → the phone number (or pool) id the roles
    # may send from.
    origination_resources: Mapping[str, str] = field(default_factory=dict)


def run_checks(clients: Clients, expected: Expectations) -> list[Check]:
    """Every check, in the order of the deploy guide; one failing does not stop the others."""
    outputs_check, outputs = stack_outputs(clients, expected.stack)
    checks = [outputs_check]
    checks += [ses_identity(clients, identity) for identity in expected.email_identities]
    checks += [ses_production_access(clients), ses_account_suppression(clients)]
    checks.append(active_receipt_rule_set(clients, outputs.get("InboundMailRuleSetName")))
    checks += [sms_sandbox(clients), sms_spend_limit(clients)]
    checks += origination_identities(
        clients,
        expected.origination_identities,
        outputs.get("InboundSmsTopicArn"),
        expected.origination_resources,
    )
    checks.append(powertools_layer(clients, expected.layer_parameter))
    checks.append(alarm_subscription(clients, outputs.get("AlarmTopicArn"), expected.alarm_email))
    return checks


def _unreadable(name: str, exc: Exception, fix: str) -> Check:
    return Check(name, False, f"could not read it: {exc}", fix)


def stack_outputs(clients: Clients, stack: str) -> tuple[Check, dict[str, str]]:
    name = f"stack {stack} deployed with its outputs"
    fix = "deploy it: make deploy (after `npx aws-cdk@2 bootstrap` once per account and region)"
    try:
        stacks = clients("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix), {}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    status = stacks[0]["StackStatus"]
    if missing or not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        detail = f"status {status}" + (
            f"; missing outputs: {', '.join(missing)}" if missing else ""
        )
        return Check(name, False, detail, "deploy this version of the stack: make deploy"), outputs
    return Check(name, True, f"status {status}, {len(outputs)} outputs"), outputs


def ses_identity(clients: Clients, identity: str) -> Check:
    name = f"SES identity {identity} verified, DKIM signing"
    fix = (
        f"verify {identity} in SES and publish the DKIM CNAME records it gives you "
        f"(aws sesv2 create-email-identity --email-identity {identity}); "
        "add SPF and a DMARC record too (see README, Deploying)"
    )
    try:
        found = clients("sesv2").get_email_identity(EmailIdentity=identity)
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix)
    verified = bool(found.get("VerifiedForSendingStatus"))
    dkim = found.get("DkimAttributes", {}).get("Status", "NOT_STARTED")
    ok = verified and dkim == "SUCCESS"
    return Check(name, ok, f"verified for sending: {verified}, DKIM {dkim}", "" if ok else fix)


def _ses_account(clients: Clients) -> dict[str, Any]:
    account: dict[str, Any] = clients("sesv2").get_account()
    return account


def ses_production_access(clients: Clients) -> Check:
    name = "SES out of the sandbox"
    fix = (
        "request production access: SES console → Account dashboard → Request production "
        "access (or aws sesv2 put-account-details); in the sandbox SES sends only to verified "
        "addresses"
    )
    try:
        account = _ses_account(clients)
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix)
    production = bool(account.get("ProductionAccessEnabled"))
    sending = bool(account.get("SendingEnabled", True))
    detail = f"production access: {production}, sending enabled: {sending}"
    if not sending:
        return Check(
            name, False, detail, "SES has paused sending for this account: see the SES console"
        )
    return Check(name, production, detail, "" if production else fix)


def ses_account_suppression(clients: Clients) -> Check:
    name = "SES account-level suppression list for bounces and complaints"
    fix = "aws sesv2 put-account-suppression-attributes --suppressed-reasons BOUNCE COMPLAINT"
    try:
        account = _ses_account(clients)
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix)
    reasons = set(account.get("SuppressionAttributes", {}).get("SuppressedReasons", []))
    ok = {"BOUNCE", "COMPLAINT"} <= reasons
    return Check(name, ok, f"suppressed reasons: {sorted(reasons) or 'none'}", "" if ok else fix)


def active_receipt_rule_set(clients: Clients, stack_rule_set: str | None) -> Check:
    name = "the stack's receipt rule set is the active one (email replies)"
    if not stack_rule_set:
        return Check(name, False, "the stack has no InboundMailRuleSetName output", "make deploy")
    fix = (
        f"aws ses set-active-receipt-rule-set --rule-set-name {stack_rule_set} "
        "(one set is active per region: this replaces the active one; move any rules you "
        "still need into it first)"
    )
    try:
        active = clients("ses").describe_active_receipt_rule_set()
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix)
    current = active.get("Metadata", {}).get("Name")
    ok = current == stack_rule_set
    return Check(name, ok, f"active: {current or 'none'}", "" if ok else fix)


def sms_sandbox(clients: Clients) -> Check:
    name = "SMS out of the sandbox"
    fix = (
        "request production access for SMS: AWS End User Messaging SMS console → SMS "
        "sandbox → Move to production (a support case); in the sandbox only verified "
        "destination numbers receive texts"
    )
    try:
        attributes = clients("pinpoint-sms-voice-v2").describe_account_attributes()
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix)
    # End User Messaging SMS sends the texts, so its account tier is the sandbox that binds.
    tier = next(
        (a["Value"] for a in attributes["AccountAttributes"] if a["Name"] == "ACCOUNT_TIER"),
        "not reported",
    )
    ok = tier == "PRODUCTION"
    return Check(name, ok, f"account tier: {tier}", "" if ok else fix)


def sms_spend_limit(clients: Clients) -> Check:
    name = "SMS monthly spend limit above the sandbox's US$1"
    fix = (
        "ask for a higher limit (Service Quotas / support case), then raise it: aws "
        "pinpoint-sms-voice-v2 set-text-message-spend-limit-override --monthly-limit N; "
        "size it from `rung simulate` (summary.json: estimated cost)"
    )
    try:
        limits = clients("pinpoint-sms-voice-v2").describe_spend_limits()["SpendLimits"]
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix)
    text = next((s for s in limits if s["Name"] == "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"), None)
    if text is None:
        return Check(name, False, "no text-message spend limit reported", fix)
    enforced = int(text["EnforcedLimit"])
    ok = enforced > SANDBOX_SPEND_LIMIT_USD
    return Check(
        name, ok, f"US${enforced} a month (maximum US${text['MaxLimit']})", "" if ok else fix
    )


def origination_identities(
    clients: Clients,
    identities: Iterable[str],
    inbound_topic: str | None,
    granted: Mapping[str, str] | None = None,
) -> list[Check]:
    """Each lender's origination number: owned, active (registered), SMS, two-way to the stack,
    and (given cdk.json's `sms.origination_identities`) one the roles may send from."""
    wanted = list(identities)
    if not wanted:
        return [
            Check(
                "SMS origination identity",
                False,
                "no lender names an sms_origination",
                "buy a number (10DLC or toll-free in the US) and set sms_origination in "
                "config/lenders/<lender>.yaml",
            )
        ]
    try:
        numbers = clients("pinpoint-sms-voice-v2").describe_phone_numbers()["PhoneNumbers"]
    except AWS_ERRORS as exc:
        return [
            _unreadable(f"SMS origination {number}", exc, "see README, Deploying: SMS")
            for number in wanted
        ]
    by_number = {n["PhoneNumber"]: n for n in numbers}
    return [
        _origination(number, by_number.get(number), inbound_topic, granted) for number in wanted
    ]


def _origination(
    number: str,
    found: dict[str, Any] | None,
    inbound_topic: str | None,
    granted: Mapping[str, str] | None,
) -> Check:
    name = f"SMS origination {number} active, two-way to the stack"
    if found is None:
        return Check(
            name,
            False,
            "not a phone number of this account and region",
            "request it in AWS End User Messaging SMS (aws pinpoint-sms-voice-v2 "
            "request-phone-number) and register it: 10DLC brand and campaign, or toll-free "
            "verification",
        )
    status = found.get("Status", "?")
    problems = []
    if status != "ACTIVE":
        problems.append(
            f"status {status}: it sends only once its registration (10DLC campaign or "
            "toll-free verification) is approved"
        )
    if "SMS" not in found.get("NumberCapabilities", []):
        problems.append("it has no SMS capability: use a number that can text")
    # A simulator number (the smoke lender's) never hears from a borrower.
    simulator = found.get("NumberType") == "SIMULATOR"
    two_way = found.get("TwoWayEnabled") and found.get("TwoWayChannelArn") == inbound_topic
    if not simulator and not two_way:
        problems.append(
            f"two-way SMS must point at the stack's InboundSmsTopicArn: aws "
            f"pinpoint-sms-voice-v2 update-phone-number --phone-number-id "
            f"{found.get('PhoneNumberId', number)} --two-way-enabled --two-way-channel-arn "
            f"{inbound_topic or '<InboundSmsTopicArn>'}"
        )
    if granted is not None:
        problems += _granted(number, found, granted.get(number))
    detail = f"{found.get('NumberType', '?')} {status}, two-way: {bool(found.get('TwoWayEnabled'))}"
    return Check(name, not problems, detail, "; ".join(problems))


def _granted(number: str, found: dict[str, Any], resource: str | None) -> list[str]:
    """IAM authorises SendTextMessage on the number's ARN (its id): cdk.json must name it."""
    phone_id = found.get("PhoneNumberId", "?")
    if resource is None:
        return [
            f"cdk.json sms.origination_identities does not name it, so the roles may not send "
            f'from it: add "{number}": "{phone_id}" and deploy'
        ]
    if resource not in (phone_id, found.get("PhoneNumberArn"), found.get("PoolId")):
        return [
            f"cdk.json sms.origination_identities names {resource} for it, but its id is "
            f"{phone_id}: correct it and deploy"
        ]
    return []


def powertools_layer(clients: Clients, parameter: str) -> Check:
    name = "Powertools layer parameter exists in this region"
    try:
        value = clients("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return Check(
                name,
                False,
                f"{parameter} not found",
                "Powertools publishes no layer for this version, runtime or region: set "
                "powertools_version/lambda_python in cdk.json to a published pair (and pin "
                "the same aws-lambda-powertools in pyproject.toml), or deploy to another region",
            )
        return _unreadable(name, exc, "allow ssm:GetParameter on that parameter")
    except (BotoCoreError, ResponseParserError) as exc:
        return _unreadable(name, exc, "")
    return Check(name, True, f"{parameter} → {value}")


def alarm_subscription(clients: Clients, topic: str | None, alarm_email: str | None) -> Check:
    name = "someone receives the alarms (confirmed subscription)"
    if not topic:
        return Check(name, False, "the stack has no AlarmTopicArn output", "make deploy")
    fix_missing = (
        "set alarms.email in cdk.json and deploy again, or subscribe your paging tool: "
        f"aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint YOU"
    )
    try:
        subscriptions = clients("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    except AWS_ERRORS as exc:
        return _unreadable(name, exc, fix_missing)
    # The optout function's own subscription pauses email; it is not a person.
    people = [s for s in subscriptions if s["Protocol"] != "lambda"]
    pending = [s for s in people if s["SubscriptionArn"] == "PendingConfirmation"]
    confirmed = len(people) - len(pending)
    detail = f"{confirmed} confirmed, {len(pending)} pending"
    if confirmed:
        return Check(name, True, detail)
    if pending:
        return Check(
            name,
            False,
            detail,
            "open the 'AWS Notification - Subscription Confirmation' email sent to "
            f"{alarm_email or 'the subscribed address'} and follow its link",
        )
    return Check(name, False, "no subscription but the optout function", fix_missing)
