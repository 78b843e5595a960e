"""The local world: Rung's AWS resources running in-process on moto, on a virtual clock.

`LocalWorld` declares what the CDK stack declares — the uploads bucket with its S3
notifications, the eight DynamoDB tables, the inbound SMS topic, the SES identity, the four
Lambda functions and the ladder state machine built from `infra/statemachines/ladder.asl.json`
— and runs the real ASL on moto's Step Functions interpreter, with the Lambda handlers run
in-process (`rung.moto_patches`) and every Wait on a `VirtualClock`. Texts go to Rung's own
model of AWS End User Messaging SMS (`rung.sms_voice`; moto has none), whose delivery events
reach the optout function through the stack's configuration set, as on AWS.

    with LocalWorld(start=datetime(2026, 3, 2, tzinfo=UTC)) as world:
        world.put_object("uploads/demo/march.csv", data)   # schedule λ → ladders start
        world.clock.run_until(world.clock.now() + timedelta(days=35))
        world.sent_sms()
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import logging
import os
import re
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TextIO, TypeVar
from unittest import mock

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.moto_api._internal import mock_random
from moto.ses.models import RawMessage, ses_backends
from moto.sns.models import sns_backends
from pydantic import BaseModel

from functions.adapters.dynamo import from_wire
from functions.bootstrap import Services, aws_services
from functions.core.clock import Clock
from functions.core.errors import ConfigError
from functions.core.lenders import load_lender
from functions.core.models import ERASURE_PREFIX, INBOUND_PREFIX, AuditRecord, LedgerEntry
from functions.settings import PROJECT_ROOT, Settings
from rung import moto_patches, sms_voice
from rung.access import stack as stack_access
from rung.access.enforcer import AccessEnforcer, Denial
from rung.access.requests import Where
from rung.access.stack import (
    HANDLERS,
    environment_of,
    push_platform_applications,
    sending_identity,
    sms_identity_arn,
    sms_origination_identities,
    sms_setup,
    stack_name,
)
from rung.access.template import Physical, Template, synthesized_template
from rung.lambda_logs import lambda_logs
from rung.moto_patches import HandlerError, InProcessLambda
from rung.sms_voice import EventDestination, SmsVoiceBackend
from rung.virtual_clock import VirtualClock

REGION = "us-east-1"
BUCKET = "rung-uploads-local"
SMS_CONFIGURATION_SET = "rung-local-sms"
ACCOUNT_ID = DEFAULT_ACCOUNT_ID
LADDER_ASL = PROJECT_ROOT / "infra" / "statemachines" / "ladder.asl.json"

# Table name → (partition key, sort key or None); fixed schemas shared with the CDK stack.
_TABLE_KEYS: Mapping[str, tuple[str, str | None]] = {
    "accounts": ("pk", None),
    "suppressions": ("pk", None),
    "ledger": ("pk", "sk"),
    "audit": ("pk", "sk"),
    "templates": ("pk", "sk"),
    "uploads": ("pk", None),
    "inbound": ("pk", None),
    "reviews": ("pk", None),
}
# Table → [(index name, hash key, range key or None)], projection ALL.
_TABLE_INDEXES: Mapping[str, tuple[tuple[str, str, str | None], ...]] = {
    "accounts": (("by_phone", "phone", None), ("by_email", "email", None)),
    "ledger": (
        ("by_address", "address", "attempted_at"),
        ("by_message", "provider_message_id", None),
    ),
}
_TABLE_TTL: Mapping[str, str] = {
    "accounts": "expires_at",
    "ledger": "expires_at",
    "audit": "expires_at",
    "uploads": "expires_at",
    "inbound": "expires_at",
    "reviews": "expires_at",
}

_SUBSTITUTION = re.compile(r"\$\{(!?)([A-Za-z0-9_.:]+)\}")


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """CloudFormation `Fn::Sub` semantics, which CDK's `definition_substitutions` compile to:
    `${Name}` is replaced, `${!Name}` is the literal `${Name}`, an unknown name is an error."""

    def replace(match: re.Match[str]) -> str:
        literal, name = match.group(1), match.group(2)
        if literal:
            return "${" + name + "}"
        if name not in values:
            raise ConfigError(f"state machine definition references unknown ${{{name}}}")
        return values[name]

    return _SUBSTITUTION.sub(replace, definition)


@dataclass(frozen=True)
class WorldResources:
    bucket: str
    inbound_topic_arn: str  # two-way SMS (End User Messaging) → optout λ
    ses_feedback_topic_arn: str  # SES bounce / complaint / delivery events → optout λ
    inbound_email_topic_arn: str  # SES receipt rule (borrower email replies) → optout λ
    state_machine_arn: str
    function_arns: Mapping[str, str]  # "schedule" | "send" | … | "plan" → ARN
    role_arn: str


@dataclass(frozen=True)
class SentSms:
    message_id: str
    to: str
    body: str


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    source: str
    to: tuple[str, ...]
    subject: str
    body: str  # the text part (or the only body SES was given)


ServicesFactory = Callable[[Settings, Clock], Services[Settings]]
Model = TypeVar("Model", bound=BaseModel)


class LocalWorld:
    """Context manager: moto started, resources created, patches applied; all undone on exit."""

    def __init__(
        self,
        start: datetime,
        *,
        lender_ids: tuple[str, ...] = ("demo",),
        config_root: Path = PROJECT_ROOT,
        services_factory: ServicesFactory = aws_services,
        stall_timeout: float = 120.0,
        seed: int = 0,
        log_level: str = "WARNING",
        unsubscribe_url: str = "https://unsubscribe.rung.invalid/",
        unsubscribe_key: bytes = b"rung-local-world-unsubscribe-signing-key",
        enforce_access: bool = True,
        template: Template | None = None,
        environment: Mapping[str, str] | None = None,
        log_stream: TextIO | None = None,
        pgp_key: str = "",
    ) -> None:
        """`enforce_access`: check every call a handler makes against its function's role in
        the synthesized stack (rung.access); a refused call fails the world on exit.
        `template`: the stack's template to take roles and names from (default: synthesized
        from this checkout). `environment`: more RUNG_* settings, as the stack would set them
        (e.g. pacing defaults). `log_level`, `log_stream`: where the handlers' Powertools log
        lines and Python warnings go (rung.lambda_logs; default stderr), as CloudWatch would
        take them on AWS. `pgp_key`: our ASCII-armored OpenPGP secret key, installed as
        `rung pgp-key install` does (otherwise the stack's random placeholder stays and
        encrypted files are rejected)."""
        self._pgp_key = pgp_key or secrets.token_urlsafe(24)
        self._pgp_secret_arn = ""
        self._enforce_access = enforce_access
        self._access: AccessEnforcer | None = None
        self._template = template
        self._environment = dict(environment or {})
        self._unsubscribe_url = unsubscribe_url
        self._unsubscribe_key = unsubscribe_key
        self._seed = seed
        self._log_level = log_level
        self._log_stream = log_stream
        self.clock = VirtualClock(start, stall_timeout=stall_timeout)
        self._lender_ids = lender_ids
        self._config_root = config_root
        self._services_factory = services_factory
        self._stack = ExitStack()
        self._lambdas = InProcessLambda(services=self._services)
        self._services_cache: Services[Settings] | None = None
        self._services_lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._world_resources: WorldResources | None = None
        self._settings: Settings | None = None
        self._role_arn = ""
        self._secret_arn = ""
        self._twins = _Twins(created={}, bucket_key={})
        self._sms_voice: SmsVoiceBackend | None = None
        self._sms_opt_out_list = ""

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> LocalWorld:
        try:
            self._stack.enter_context(_environment(_aws_environment(self._log_level)))
            # moto logs every failed state at ERROR with the whole parsed state machine; the
            # failures themselves stay visible in `handler_errors` and in execution statuses.
            self._stack.enter_context(_logger_level("moto.stepfunctions.parser", logging.CRITICAL))
            self._stack.enter_context(
                mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
            )
            moto_patches.install(self._stack, self.clock, self._lambdas)
            self._template = self._template or synthesized_template()
            self._world_resources = self._create_resources(self._template)
            self._stack.enter_context(_environment(self._rung_environment(self._world_resources)))
            self._settings = Settings()
            # Every variable of every function, spelled out as the stack spells it: each
            # handler's own settings model reads the same environment a deployed one would.
            self._stack.enter_context(_environment(environment_of(self._settings)))
            self._stack.enter_context(
                lambda_logs(
                    {handler.rpartition(".")[0] for handler in HANDLERS.values()},
                    level=self._log_level,
                    stream=self._log_stream,
                )
            )
            # End User Messaging answers at botocore's `before-send`, after the IAM check below
            # (which wraps `_make_api_call`), so a call the role refuses never reaches it.
            sms_voice.install(self._stack, self.sms_voice)
            self._lambdas.after = self.sms_voice.deliver_events
            if self._enforce_access:
                self._access = self._enforcer(self._template, self._world_resources)
                self._access.install(self._stack)
                self._lambdas.guard = self._access.invocation
            # moto draws ids (SNS/SES message ids…) from one Random. Seeded once the resources
            # exist (setting them up draws differently in a process's first world), a run's
            # ids are the same every time; the previous state comes back on exit.
            self._stack.callback(mock_random.setstate, mock_random.getstate())
            mock_random.seed(self._seed)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        try:
            self._stop_everything()
        finally:
            self._clients.clear()
            self._stack.close()
        if exc_type is None and self.denials:
            raise AccessDenials(self.denials)

    def _stop_everything(self) -> None:
        """Stop every execution still asleep, while moto still answers, so that no thread is
        left blocked on the clock (or wakes later and calls a handler outside the world)."""
        sfn = self.client("stepfunctions")
        for machine in sfn.list_state_machines()["stateMachines"]:
            self.stop_running("local world closed", machine["stateMachineArn"])

    # --- what handlers and callers use --------------------------------------------------

    @property
    def services(self) -> Services[Settings]:
        return self._services()

    @property
    def access(self) -> AccessEnforcer:
        """The IAM check of every handler's calls (only when the world enforces access)."""
        if self._access is None:
            raise RuntimeError("this LocalWorld does not enforce access")
        return self._access

    @property
    def denials(self) -> list[Denial]:
        """Calls a handler made that its role in the synthesized stack does not allow."""
        return list(self._access.denials) if self._access else []

    @property
    def sms_voice(self) -> SmsVoiceBackend:
        """The world's End User Messaging SMS: its numbers, opt-out lists, texts and events."""
        if self._sms_voice is None:
            raise RuntimeError("LocalWorld is not entered: use `with LocalWorld(...) as world`")
        return self._sms_voice

    @property
    def handler_errors(self) -> list[HandlerError]:
        """Exceptions raised by handlers; S3/SNS-triggered ones are otherwise swallowed."""
        return list(self._lambdas.errors)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # Any service by name: the typed stubs know only literal names.
            self._clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self._clients[service]

    def put_object(self, key: str, body: bytes) -> str:
        """Upload to the bucket (S3 notification → schedule λ, synchronously); returns the ETag."""
        response = self.client("s3").put_object(Bucket=self.resources.bucket, Key=key, Body=body)
        return str(response["ETag"]).strip('"')

    def publish_inbound_sms(self, message: str) -> None:
        """Publish a two-way SMS inbound message (JSON of docs/design.md, Provider events) to the
        inbound topic; the optout handler runs synchronously, at the clock's current instant."""
        self.client("sns").publish(TopicArn=self.resources.inbound_topic_arn, Message=message)

    def publish_inbound_email(self, notification: str) -> None:
        """Publish an SES receipt notification (`Received` JSON) to the inbound email topic."""
        self.client("sns").publish(
            TopicArn=self.resources.inbound_email_topic_arn, Message=notification
        )

    def sent_sms(self) -> list[SentSms]:
        """Every text End User Messaging accepted, in the order it was sent."""
        return [
            SentSms(message_id=message.message_id, to=message.to, body=message.body)
            for message in self.sms_voice.messages
        ]

    def sent_emails(self) -> list[SentEmail]:
        """Every email SES accepted, in the order it was sent (simple or raw MIME)."""
        return [_sent_email(message) for message in ses_backends[ACCOUNT_ID][REGION].sent_messages]

    def executions(self, state_machine_arn: str | None = None) -> list[dict[str, Any]]:
        """Every execution of the ladder (or another machine), by name: name, status, ARN."""
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        executions: list[dict[str, Any]] = []
        machine = state_machine_arn or self.resources.state_machine_arn
        for page in paginator.paginate(stateMachineArn=machine):
            executions.extend(page["executions"])
        return sorted(executions, key=lambda execution: execution["name"])

    def gate_records(self) -> list[AuditRecord]:
        """The gate's audit records; the audit table also holds inbound decisions (`inbound#…`)."""
        return self.scan(
            self.settings.audit_table, AuditRecord, skip_prefix=(INBOUND_PREFIX, ERASURE_PREFIX)
        )

    def decision_count(self) -> int:
        """How many gate decisions the audit table holds, counted in moto without reading them
        (a progress bar asks often)."""
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(self.settings.audit_table)
        return sum(
            len(items)
            for key, items in list(table.items.items())
            if not str(key.value).startswith((INBOUND_PREFIX, ERASURE_PREFIX))
        )

    def ledger_entries(self) -> list[LedgerEntry]:
        """The ledger's send attempts; the ledger table also holds send-slot counters (`slot#…`)
        and address leases (`lease#…`)."""
        return self.scan(self.settings.ledger_table, LedgerEntry, skip_prefix=("slot#", "lease#"))

    def scan(
        self, table_name: str, model: type[Model], *, skip_prefix: str | tuple[str, ...] = ""
    ) -> list[Model]:
        """Every item of a table as `model` (key attributes such as pk/sk are ignored), less
        those whose `pk` starts with `skip_prefix` (other kinds of record in the same table)."""
        items: list[Model] = []
        pages = (
            self.client("dynamodb")
            .get_paginator("scan")
            .paginate(TableName=table_name, ConsistentRead=True)
        )
        for page in pages:
            items.extend(
                model.model_validate(from_wire(item))
                for item in page["Items"]
                if not (skip_prefix and item["pk"]["S"].startswith(skip_prefix))
            )
        return items

    def stop_running(self, cause: str, state_machine_arn: str | None = None) -> int:
        """Stop every running ladder execution (the end of a simulated period)."""
        stopped = 0
        sfn = self.client("stepfunctions")
        for execution in self.executions(state_machine_arn):
            if execution["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution["executionArn"], cause=cause)
                stopped += 1
        self.clock.settle()
        return stopped

    def create_function(
        self, name: str, handler: str, environment: Mapping[str, str] | None = None
    ) -> str:
        """Register a Lambda function (dummy zip; the handler runs in-process); returns its ARN."""
        response = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self._role_arn,
            Handler=handler,
            Code={"ZipFile": _dummy_zip()},
            Timeout=60,
            MemorySize=512,
            Environment={"Variables": dict(environment or {})},
        )
        return str(response["FunctionArn"])

    def create_state_machine(
        self, name: str, definition: str, substitutions: Mapping[str, str]
    ) -> str:
        response = self.client("stepfunctions").create_state_machine(
            name=name,
            definition=substitute(definition, substitutions),
            roleArn=self._role_arn,
            type="STANDARD",
        )
        return str(response["stateMachineArn"])

    # --- internals ----------------------------------------------------------------------

    @property
    def resources(self) -> WorldResources:
        if self._world_resources is None:
            raise RuntimeError("LocalWorld is not entered: use `with LocalWorld(...) as world`")
        return self._world_resources

    @property
    def settings(self) -> Settings:
        """The functions' settings, as the RUNG_* variables of the world name its resources."""
        if self._settings is None:
            raise RuntimeError("LocalWorld is not entered: use `with LocalWorld(...) as world`")
        return self._settings

    def _services(self) -> Services[Settings]:
        with self._services_lock:
            if self._services_cache is None:
                self._services_cache = self._services_factory(self.settings, self.clock)
            return self._services_cache

    def _create_resources(self, template: Template) -> WorldResources:
        names = Settings()  # the default resource names; the stack may choose others
        fixed = stack_access.template_names(template)
        iam = self.client("iam")
        role_arn = iam.create_role(
            RoleName="rung-local",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {
                                "Service": ["lambda.amazonaws.com", "states.amazonaws.com"]
                            },
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        self._role_arn = role_arn
        self._create_tables(names)
        self._twins = self._create_encryption(template)
        for lender_id in self._lender_ids:
            self._verify_sender(lender_id)
        self.client("sesv2").create_configuration_set(ConfigurationSetName="rung-local")
        secret_arn = self.client("secretsmanager").create_secret(
            Name="rung-unsubscribe-key", SecretString=self._unsubscribe_key.decode("utf-8")
        )["ARN"]
        self._pgp_secret_arn = self.client("secretsmanager").create_secret(
            Name="rung-pgp-key", SecretString=self._pgp_key
        )["ARN"]
        function_arns = {
            role: self.create_function(fixed.functions.get(handler, f"rung-{role}"), handler)
            for role, handler in HANDLERS.items()
        }
        state_machine_arn = self.create_state_machine(
            fixed.state_machine,
            LADDER_ASL.read_text(encoding="utf-8"),
            {"SendFunctionArn": function_arns["send"]},
        )
        sns = self.client("sns")
        for application in push_platform_applications():
            # cdk.json's platform applications, as the lender's app team creates them.
            _, platform, name = application.rsplit(":", 1)[-1].split("/")
            sns.create_platform_application(
                Name=name, Platform=platform, Attributes={"PlatformCredential": "local"}
            )
        inbound_topic_arn = sns.create_topic(Name="rung-inbound-sms")["TopicArn"]
        ses_feedback_topic_arn = sns.create_topic(Name="rung-ses-feedback")["TopicArn"]
        inbound_email_topic_arn = sns.create_topic(Name="rung-inbound-email")["TopicArn"]
        for topic_arn in (inbound_topic_arn, ses_feedback_topic_arn, inbound_email_topic_arn):
            sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arns["optout"])
        s3 = self.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        bucket_key = self._twins.bucket_key.get("RUNG_UPLOADS_BUCKET")
        if bucket_key:
            s3.put_bucket_encryption(
                Bucket=BUCKET,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": bucket_key,
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "Id": f"schedule-{prefix.rstrip('/')}",
                        "LambdaFunctionArn": function_arns["schedule"],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                    for prefix in ("uploads/", "payments/")
                ]
            },
        )
        self._secret_arn = secret_arn
        self._sms_voice = self._create_sms_voice(template, ses_feedback_topic_arn)
        return WorldResources(
            bucket=BUCKET,
            inbound_topic_arn=inbound_topic_arn,
            ses_feedback_topic_arn=ses_feedback_topic_arn,
            inbound_email_topic_arn=inbound_email_topic_arn,
            state_machine_arn=state_machine_arn,
            function_arns=function_arns,
            role_arn=role_arn,
        )

    def _create_sms_voice(self, template: Template, delivery_topic_arn: str) -> SmsVoiceBackend:
        """The account's End User Messaging SMS as the deployer and the stack leave it: the
        numbers cdk.json names (on the stack's opt-out list) and the stack's configuration set,
        its event destination on the delivery-events topic with the template's event types."""
        setup = sms_setup(template)
        self._sms_opt_out_list = setup.opt_out_list
        backend = SmsVoiceBackend(
            account=ACCOUNT_ID,
            region=REGION,
            clock=self.clock.now,
            publish=lambda topic_arn, message: sns_backends[ACCOUNT_ID][REGION].publish(
                message, arn=topic_arn
            ),
        )
        for number, resource in sms_origination_identities().items():
            if number.startswith("+") and resource.startswith("phone-"):
                backend.add_phone_number(number, resource, opt_out_list=setup.opt_out_list)
        backend.add_configuration_set(
            SMS_CONFIGURATION_SET,
            [EventDestination("DeliveryEvents", setup.event_types, delivery_topic_arn)],
        )
        return backend

    def _create_tables(self, names: Settings) -> None:
        dynamodb = self.client("dynamodb")
        table_names = {
            "accounts": names.accounts_table,
            "suppressions": names.suppressions_table,
            "ledger": names.ledger_table,
            "audit": names.audit_table,
            "templates": names.templates_table,
            "uploads": names.uploads_table,
            "inbound": names.inbound_table,
            "reviews": names.reviews_table,
        }
        for table, table_name in table_names.items():
            hash_key, range_key = _TABLE_KEYS[table]
            indexes = _TABLE_INDEXES.get(table, ())
            attributes = {hash_key, *(key for key in (range_key,) if key)}
            for _, index_hash, index_range in indexes:
                attributes.update(key for key in (index_hash, index_range) if key)
            request: dict[str, Any] = {
                "TableName": table_name,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)
                ],
                "KeySchema": _key_schema(hash_key, range_key),
            }
            if indexes:
                request["GlobalSecondaryIndexes"] = [
                    {
                        "IndexName": index_name,
                        "KeySchema": _key_schema(index_hash, index_range),
                        "Projection": {"ProjectionType": "ALL"},
                    }
                    for index_name, index_hash, index_range in indexes
                ]
            dynamodb.create_table(**request)
            if table in _TABLE_TTL:
                dynamodb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": _TABLE_TTL[table]},
                )

    def _verify_sender(self, lender_id: str) -> None:
        """The lender's sending domain is verified, as the deploy guide has the deployer do
        (the roles grant ses:SendEmail on the domain identity)."""
        lender = load_lender(self._config_root, lender_id)
        _, address = parseaddr(lender.email_from)
        domain = address.rsplit("@", 1)[-1]
        identities = self.client("sesv2").list_email_identities()["EmailIdentities"]
        if domain not in {identity["IdentityName"] for identity in identities}:
            self.client("sesv2").create_email_identity(EmailIdentity=domain)

    def _create_encryption(self, template: Template) -> _Twins:
        """A local KMS key for each of the stack's keys and a queue for each of its queues, so
        that the roles' grants on them name real local resources."""
        declared = stack_access.encryption(template)
        kms, sqs = self.client("kms"), self.client("sqs")
        created: dict[str, Physical] = {}
        for logical_id in declared.keys:
            key = kms.create_key(Description=f"rung local twin of {logical_id}")["KeyMetadata"]
            created[logical_id] = Physical(ref=key["KeyId"], attributes={"Arn": key["Arn"]})
        for logical_id, key_id in declared.queues.items():
            attributes = {"KmsMasterKeyId": created[key_id].ref} if key_id else {}
            url = sqs.create_queue(QueueName=f"rung-{logical_id}", Attributes=attributes)[
                "QueueUrl"
            ]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            created[logical_id] = Physical(ref=url, attributes={"Arn": arn})
        bucket_key = {
            variable: created[key].attributes["Arn"]
            for variable, key in declared.bucket_key.items()
            if key in created
        }
        return _Twins(created=created, bucket_key=bucket_key)

    def _enforcer(self, template: Template, resources: WorldResources) -> AccessEnforcer:
        local = stack_access.LocalResources(
            region=REGION,
            account=ACCOUNT_ID,
            stack_name=stack_name(),
            environment=environment_of(self.settings),
            functions={
                HANDLERS[role]: (arn.rsplit(":", 1)[-1], arn)
                for role, arn in resources.function_arns.items()
            },
            state_machine_arn=resources.state_machine_arn,
            created=self._twins.created,
        )
        where = Where(
            region=REGION,
            account=ACCOUNT_ID,
            secret_arn=lambda secret: secret if secret.startswith("arn:") else self._secret_arn,
            email_identity=lambda address: sending_identity(address, REGION, ACCOUNT_ID),
            sms_identity=lambda identity: sms_identity_arn(identity, REGION, ACCOUNT_ID),
        )
        enforcer = stack_access.enforcer(template, local, where, HANDLERS)
        enforcer.state_machine_created(logging=stack_access.state_machine_logs(template))
        return enforcer

    def _rung_environment(self, resources: WorldResources) -> dict[str, str]:
        """The RUNG_* variables the CDK stack gives the functions (functions/settings.py)."""
        return {
            "RUNG_STATE_MACHINE_ARN": resources.state_machine_arn,
            "RUNG_UPLOADS_BUCKET": resources.bucket,
            "RUNG_LENDERS_BUCKET": resources.bucket,
            "RUNG_SES_CONFIGURATION_SET": "rung-local",
            "RUNG_SMS_CONFIGURATION_SET": SMS_CONFIGURATION_SET,
            "RUNG_SMS_OPT_OUT_LIST": self._sms_opt_out_list,
            "RUNG_UNSUBSCRIBE_URL": self._unsubscribe_url,
            "RUNG_UNSUBSCRIBE_SECRET_ARN": self._secret_arn,
            "RUNG_PGP_SECRET_ARN": self._pgp_secret_arn,
            "RUNG_PLAN_FUNCTION": resources.function_arns["plan"],
            "RUNG_CONFIG_ROOT": str(self._config_root),
            **self._environment,
        }


@dataclass(frozen=True)
class _Twins:
    created: Mapping[str, Physical]  # the stack's keys and queues, by logical id
    bucket_key: Mapping[str, str]  # environment variable naming a bucket → its key's ARN


class AccessDenials(RuntimeError):
    """Handlers made calls their roles in the synthesized stack do not allow."""

    def __init__(self, denials: list[Denial]) -> None:
        lines = "\n  ".join(str(denial) for denial in denials[:20])
        super().__init__(f"{len(denials)} call(s) refused by IAM:\n  {lines}")
        self.denials = denials


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _aws_environment(log_level: str) -> dict[str, str]:
    return {
        # Fake credentials: moto accepts any, and no real AWS account can ever be reached.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # moto's Step Functions Wait compares against a naive local now (timestamp.py:88).
        "TZ": "UTC",
        # Powertools outside Lambda: no X-Ray daemon, no CloudWatch to read EMF metrics, and
        # one INFO line per invocation would bury a simulation's output.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "RungLocal",
        "POWERTOOLS_SERVICE_NAME": "rung-local",
        "POWERTOOLS_LOG_LEVEL": log_level,
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (and the process time zone) for the world's lifetime."""
    try:
        with mock.patch.dict(os.environ, values):
            time.tzset()
            yield
    finally:
        time.tzset()


@contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _dummy_zip() -> bytes:
    # moto stores the code but never runs it: handlers run in-process (rung.moto_patches).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Rung local world: handlers run in-process.\n")
    return buffer.getvalue()


def _sent_email(message: Any) -> SentEmail:
    if isinstance(message, RawMessage):
        parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
        part = parsed.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        return SentEmail(
            message_id=message.id,
            source=message.source,
            to=tuple(message.destinations),
            subject=str(parsed["Subject"] or ""),
            body=body,
        )
    destinations = message.destinations
    to = tuple(destinations.get("ToAddresses", [])) if isinstance(destinations, dict) else ()
    return SentEmail(
        message_id=message.id,
        source=message.source,
        to=to,
        subject=message.subject,
        body=message.body,
    )
