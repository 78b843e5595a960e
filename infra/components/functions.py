"""Functions: five Lambdas from one code asset, each with its own least-privilege role."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from aws_cdk.aws_dynamodb import Table
from constructs import Construct

from functions.adapters.lender_store import LENDERS_PREFIX
from functions.core.lenders import load_lender
from functions.core.retention import load_retention
from functions.observability import METRICS_NAMESPACE
from functions.plan.stored import PLANS_PREFIX
from functions.settings import (
    FunctionSettings,
    OptoutSettings,
    PlanSettings,
    ScheduleSettings,
    SendSettings,
    UnsubscribeSettings,
)
from infra.bundling import lambda_code
from infra.components.ladder import executions_arn, state_machine_arn, state_machine_name
from infra.components.messaging import Messaging
from infra.components.nag import acknowledge, logical_id
from infra.components.storage import PAYMENTS_PREFIX, REJECTS_PREFIX, UPLOADS_PREFIX, Storage
from infra.paths import PROJECT_ROOT
from infra.stack_config import RungStackConfig

# Public SSM parameters published by Powertools: one per (architecture, runtime, release),
# valued with the exact layer version ARN of that release in the deploy region.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/x86_64/python{python}/{version}"
ASYNC_RETRIES = 2
# A rung held back by a paused channel looks again this often (each look is one
# Wait/Task/Choice loop): four a day, so a resumed channel sends within hours.
CHANNEL_PAUSE_RECHECK_HOURS = 6
# /tmp of the schedule function: an encrypted file plus its plaintext (a 1,000,000-row file is
# ~92 MiB), with room to spare.
SCHEDULE_TMP_MB = 2048
# The singleton Lambda CDK adds to write an S3 bucket's notification configuration.
BUCKET_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
XRAY_REASON = (
    "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions, "
    "so active tracing needs Resource *."
)


@dataclass(frozen=True)
class _Spec:
    handler: str
    description: str
    memory_mb: int
    timeout: Duration
    reserved_concurrency: int | None
    settings: type[FunctionSettings]  # the RUNG_* variables the function reads, all of them
    ephemeral_storage_mb: int = 512  # /tmp; Lambda's default


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RungStackConfig,
        storage: Storage,
        messaging: Messaging,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._storage = storage
        self._messaging = messaging
        self.roles: dict[str, iam.Role] = {}  # one per function, keyed by construct id
        stack = Stack.of(self)
        self._schedule_name = f"{stack.stack_name}-schedule"
        self._ladder_arn = state_machine_arn(stack)
        self._executions_arn = executions_arn(stack)
        self._code = lambda_code(config.lambda_python)
        self._runtime = lambda_.Runtime(
            f"python{config.lambda_python}", lambda_.RuntimeFamily.PYTHON
        )
        self.powertools_layer_parameter = POWERTOOLS_LAYER_PARAMETER.format(
            python=config.lambda_python, version=config.powertools_version
        )
        self._layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, self.powertools_layer_parameter),
        )
        self.unsubscribe_secret = secretsmanager.Secret(
            self,
            "UnsubscribeSigningKey",
            description="Rung: HMAC key that signs one-click unsubscribe links",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            # Deleting the key would silently break the opt-out link of every email already sent.
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.unsubscribe_secret,
            "AwsSolutions-SMG4",
            "Rotating the signing key would invalidate the unsubscribe links in every email "
            "already sent, breaking the opt-out those emails promise (docs/compliance.md, "
            "Opt-out and consent).",
        )

        # Our OpenPGP key for encrypted lender files: created with a random placeholder, which
        # `rung pgp-key install` replaces with a real key (encrypted files are refused until then).
        self.pgp_secret = secretsmanager.Secret(
            self,
            "PgpKey",
            description="Rung: OpenPGP secret key that decrypts lender files",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=32, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.pgp_secret,
            "AwsSolutions-SMG4",
            "An OpenPGP key cannot be rotated by Secrets Manager: lenders encrypt to its public "
            "half, so a new key is issued to them deliberately with `rung pgp-key`.",
        )

        self.unsubscribe = self._function(
            "Unsubscribe",
            _Spec(
                "functions.optout.unsubscribe.handler",
                "RFC 8058 one-click unsubscribe (public Function URL, HMAC-signed links)",
                256,
                Duration.seconds(10),
                config.reserved_concurrency.unsubscribe,
                UnsubscribeSettings,
            ),
        )
        # Public by design: mail clients POST here without credentials (RFC 8058); every request
        # must carry an HMAC token signed with the secret above, checked by the handler.
        self.unsubscribe_url = self.unsubscribe.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE
        )
        self.send = self._function(
            "Send",
            _Spec(
                "functions.send.handler.handler",
                "One rung of one ladder: gate, render, send, record, next_at",
                512,
                Duration.seconds(30),
                None,  # never capped: it carries SMS throughput (see README, Scaling)
                SendSettings,
            ),
        )
        self.schedule = self._function(
            "Schedule",
            _Spec(
                "functions.schedule.handler.handler",
                "Lender file or payments file uploaded: validate, upsert, start/stop ladders",
                1024,
                Duration.minutes(15),
                config.reserved_concurrency.schedule,
                ScheduleSettings,
                # An encrypted lender file and its plaintext both sit in /tmp while it is read.
                ephemeral_storage_mb=SCHEDULE_TMP_MB,
            ),
            on_failure=True,
            # A long file continues in a fresh invocation of this same function; a fixed name
            # lets its role name itself without a CloudFormation reference cycle.
            fixed_name=self._schedule_name,
        )
        self.optout = self._function(
            "Optout",
            _Spec(
                "functions.optout.handler.handler",
                "Inbound SMS/email replies and SES events: suppressions, status, stop ladder",
                256,
                Duration.seconds(30),
                config.reserved_concurrency.optout,
                OptoutSettings,
            ),
            on_failure=True,
        )
        self.plan = self._function(
            "Plan",
            _Spec(
                "functions.plan.handler.handler",
                "Lender file accepted: its capacity plan, stored under plans/ for the console",
                # Our choice, as the schedule function's: a file is read (and decrypted) the
                # same way, and 15 minutes plans a 1,000,000-row file with room to spare.
                1024,
                Duration.minutes(15),
                None,  # one invocation per accepted file: never more than intake runs
                PlanSettings,
                ephemeral_storage_mb=SCHEDULE_TMP_MB,
            ),
            on_failure=True,
        )
        self.schedule.add_environment("RUNG_PLAN_FUNCTION", self.plan.function_arn)
        self.send.add_environment("RUNG_UNSUBSCRIBE_URL", self.unsubscribe_url.url)
        # Send is what the ladder invokes; it never starts or stops one.
        for controller in (self.schedule, self.optout, self.unsubscribe):
            controller.add_environment("RUNG_STATE_MACHINE_ARN", self._ladder_arn)

        self._wire_schedule()
        self._wire_send()
        self._wire_optout()
        self._wire_unsubscribe()
        self._wire_plan()
        # The schedule and plan roles decrypt the bucket's objects already (lender files).
        self._allow_lenders("Schedule", self.schedule, decrypt=False)
        self._allow_lenders("Plan", self.plan, decrypt=False)
        for role_name, function in (
            ("Send", self.send),
            ("Optout", self.optout),
            ("Unsubscribe", self.unsubscribe),
        ):
            self._allow_lenders(role_name, function, decrypt=True)
        for role_name in ("Schedule", "Optout", "Unsubscribe"):
            acknowledge(
                self.roles[role_name],
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
                f"<AWS::AccountId>:execution:{state_machine_name(stack)}:*]",
                "Ladder executions are named per account at run time; the grant covers the "
                "executions of this one state machine only.",
            )

    # The code asset, runtime and Powertools layer every Rung function shares (the console's
    # included, infra/components/console.py).
    @property
    def code(self) -> lambda_.Code:
        return self._code

    @property
    def runtime(self) -> lambda_.Runtime:
        return self._runtime

    @property
    def layer(self) -> lambda_.ILayerVersion:
        return self._layer

    # ----------------------------------------------------------------------------- factory

    def _function(
        self, name: str, spec: _Spec, *, on_failure: bool = False, fixed_name: str | None = None
    ) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Rung {name.lower()} function: exactly what it needs, nothing else",
        )
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=self._config.retention.log_retention_days
        )
        log_group.grant_write(role)
        self.roles[name] = role
        function = lambda_.Function(
            self,
            name,
            function_name=fixed_name,
            runtime=self._runtime,
            architecture=lambda_.Architecture.X86_64,
            code=self._code,
            handler=spec.handler,
            description=spec.description,
            memory_size=spec.memory_mb,
            ephemeral_storage_size=Size.mebibytes(spec.ephemeral_storage_mb),
            timeout=spec.timeout,
            reserved_concurrent_executions=spec.reserved_concurrency,
            role=role,
            layers=[self._layer],
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=self._environment(spec.settings),
            on_failure=(
                destinations.SqsDestination(self._messaging.dead_letters) if on_failure else None
            ),
            retry_attempts=ASYNC_RETRIES if on_failure else None,
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", XRAY_REASON)
        if on_failure:
            for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Action::{action}]",
                    "CDK's grant for sending failed events to the KMS-encrypted dead-letter "
                    "queue; it is scoped to the messaging key only.",
                )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to python{self._config.lambda_python}, the runtime the Powertools layer "
            "and the bundled wheels are chosen and tested for; upgrading is one cdk.json "
            "value (lambda_python).",
        )
        return function

    def _environment(self, settings: type[FunctionSettings]) -> dict[str, str]:
        """The RUNG_* variables of the function's settings model (functions/settings.py) that
        the stack knows at this point, and Powertools' configuration. The function URL, the
        state machine and the alarms are added once they exist."""
        storage, messaging, config = self._storage, self._messaging, self._config
        variables = {
            "RUNG_ACCOUNTS_TABLE": storage.accounts.table_name,
            "RUNG_SUPPRESSIONS_TABLE": storage.suppressions.table_name,
            "RUNG_LEDGER_TABLE": storage.ledger.table_name,
            "RUNG_AUDIT_TABLE": storage.audit.table_name,
            "RUNG_TEMPLATES_TABLE": storage.templates.table_name,
            "RUNG_UPLOADS_TABLE": storage.uploads.table_name,
            "RUNG_INBOUND_TABLE": storage.inbound.table_name,
            "RUNG_REVIEWS_TABLE": storage.reviews.table_name,
            "RUNG_UPLOADS_BUCKET": storage.bucket.bucket_name,
            "RUNG_LENDERS_BUCKET": storage.bucket.bucket_name,
            "RUNG_REPORTS_PREFIX": REJECTS_PREFIX,
            "RUNG_SES_CONFIGURATION_SET": messaging.configuration_set.configuration_set_name,
            "RUNG_SMS_CONFIGURATION_SET": messaging.sms_configuration_set.ref,
            "RUNG_SMS_OPT_OUT_LIST": config.sms.opt_out_list,
            "RUNG_UNSUBSCRIBE_SECRET_ARN": self.unsubscribe_secret.secret_arn,
            "RUNG_PGP_SECRET_ARN": self.pgp_secret.secret_arn,
            # docs/compliance.md, Records and erasure: records of collection activity (ledger,
            # audit, uploads, reviews) are kept for the duty of config/retention.yaml.
            "RUNG_AUDIT_RETENTION_DAYS": str(load_retention(PROJECT_ROOT).records_days),
            "RUNG_ACCOUNT_RETENTION_DAYS": str(config.retention.data_days),
            # Pacing defaults; a lender's `send_rates` overrides them.
            "RUNG_SMS_PER_SECOND": str(config.send_rates.sms_per_second),
            "RUNG_EMAIL_PER_SECOND": str(config.send_rates.email_per_second),
            "RUNG_CHANNEL_PAUSE_RECHECK_HOURS": str(CHANNEL_PAUSE_RECHECK_HOURS),
        }
        return {
            **{name: value for name, value in variables.items() if name in settings.variables()},
            "POWERTOOLS_SERVICE_NAME": config.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
        }

    # ------------------------------------------------------------------------- permissions

    def _wire_schedule(self) -> None:
        storage, fn = self._storage, self.schedule
        bucket = storage.bucket
        for prefix in (UPLOADS_PREFIX, PAYMENTS_PREFIX):
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(fn),
                s3.NotificationKeyFilter(prefix=prefix),
            )
        # Reads lender files; reads back and rewrites its own reject report when a long file
        # continues in a second invocation.
        readable = (UPLOADS_PREFIX, PAYMENTS_PREFIX, REJECTS_PREFIX)
        _allow(fn, ["s3:GetObject"], [bucket.arn_for_objects(f"{p}*") for p in readable])
        _allow(fn, ["s3:PutObject"], [bucket.arn_for_objects(f"{REJECTS_PREFIX}*")])
        _allow(fn, ["kms:Decrypt", "kms:GenerateDataKey"], [storage.key.key_arn])
        _allow(fn, ["secretsmanager:GetSecretValue"], [self.pgp_secret.secret_arn])
        self._allow_receipts(fn)
        _allow(
            fn,
            ["dynamodb:GetItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"],
            [storage.accounts.table_arn],
        )
        _allow(fn, ["dynamodb:GetItem", "dynamodb:PutItem"], [storage.uploads.table_arn])
        _allow(fn, ["states:StartExecution"], [self._ladder_arn])
        _allow(fn, _STOP_LADDER, [self._executions_arn])
        _allow(
            fn,
            ["lambda:InvokeFunction"],
            [
                Stack.of(self).format_arn(
                    service="lambda",
                    resource="function",
                    resource_name=self._schedule_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
        for prefix in readable:
            acknowledge(
                self.roles["Schedule"],
                f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}*]",
                f"Object-level access is limited to the {prefix} prefix, the narrowest scope "
                "for files whose names the lender chooses.",
            )
        self._bucket_notifications_acknowledged()

    def _wire_plan(self) -> None:
        """What functions.plan.uploads does: read (and decrypt) the lender file the schedule
        function names, write its plan under plans/. The schedule function invokes it."""
        storage, fn = self._storage, self.plan
        bucket = storage.bucket
        _allow(self.schedule, ["lambda:InvokeFunction"], [fn.function_arn])
        _allow(fn, ["s3:GetObject"], [bucket.arn_for_objects(f"{UPLOADS_PREFIX}*")])
        _allow(fn, ["s3:PutObject"], [bucket.arn_for_objects(f"{PLANS_PREFIX}*")])
        _allow(fn, ["kms:Decrypt", "kms:GenerateDataKey"], [storage.key.key_arn])
        _allow(fn, ["secretsmanager:GetSecretValue"], [self.pgp_secret.secret_arn])
        for prefix, reason in (
            (UPLOADS_PREFIX, "lender files, whose names the lender chooses; read only"),
            (PLANS_PREFIX, "one plan per lender file, named after it; write only"),
        ):
            acknowledge(
                self.roles["Plan"],
                f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}*]",
                f"Object-level access is limited to the {prefix} prefix: {reason}.",
            )

    def _wire_send(self) -> None:
        """What functions.core.sending does: read the account, gate, claim, send, record."""
        storage, fn = self._storage, self.send
        # UpdateItem: the last rung marks the account COMPLETED (its retention clock starts).
        _allow(fn, ["dynamodb:GetItem", "dynamodb:UpdateItem"], [storage.accounts.table_arn])
        _allow(fn, ["dynamodb:GetItem"], [storage.suppressions.table_arn])
        _allow(
            fn,
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
            ],
            [storage.ledger.table_arn],
        )
        _allow(fn, ["dynamodb:Query"], [_index_arn(storage.ledger, "by_address")])
        _allow(fn, ["dynamodb:PutItem"], [storage.audit.table_arn])
        _allow(fn, ["dynamodb:Query"], [storage.templates.table_arn])
        # Every email carries a one-click unsubscribe link signed with this key.
        _allow(fn, ["secretsmanager:GetSecretValue"], [self.unsubscribe_secret.secret_arn])
        self._allow_messages(fn)
        self._allow_push(fn)

    def _allow_push(self, fn: lambda_.Function) -> None:
        """App push: SNS Publish to the endpoints of the configured platform applications only.
        A push endpoint the platform disabled becomes a suppression (PutItem)."""
        applications = self._config.push.platform_applications
        if not applications:
            return
        endpoints = [f"{arn.replace(':app/', ':endpoint/', 1)}/*" for arn in applications]
        _allow(fn, ["sns:Publish"], endpoints)
        _allow(fn, ["dynamodb:PutItem"], [self._storage.suppressions.table_arn])
        for endpoint in endpoints:
            acknowledge(
                self.roles["Send"],
                f"AwsSolutions-IAM5[Resource::{endpoint}]",
                "Borrowers' devices register endpoints under the platform application at any "
                "time; the send role may publish to that application's endpoints only.",
            )

    def _wire_optout(self) -> None:
        """What functions.core.borrower_replies and functions.core.provider_events do."""
        storage, messaging, fn = self._storage, self._messaging, self.optout
        for topic in (messaging.inbound_sms, messaging.ses_feedback, messaging.inbound_email):
            topic.add_subscription(
                subscriptions.LambdaSubscription(fn, dead_letter_queue=messaging.dead_letters)
            )
        _allow(
            fn,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            [storage.suppressions.table_arn],
        )
        _allow(fn, ["dynamodb:UpdateItem"], [storage.accounts.table_arn])
        _allow(
            fn,
            ["dynamodb:Query"],
            [_index_arn(storage.accounts, "by_phone"), _index_arn(storage.accounts, "by_email")],
        )
        _allow(fn, ["dynamodb:PutItem"], [storage.inbound.table_arn])
        # Delivery receipts (SMS events, SES deliveries and bounces) noted on the ledger entry.
        _allow(fn, ["dynamodb:Query"], [_index_arn(storage.ledger, "by_message")])
        _allow(fn, ["dynamodb:UpdateItem"], [storage.ledger.table_arn])
        _allow(fn, _STOP_LADDER, [self._executions_arn])
        self._allow_messages(fn)
        # START lifts End User Messaging's own opt-out of the number too.
        _allow(
            fn,
            ["sms-voice:DeleteOptedOutNumber"],
            [
                Stack.of(self).format_arn(
                    service="sms-voice",
                    resource="opt-out-list",
                    resource_name=self._config.sms.opt_out_list,
                )
            ],
        )
        # Replies read: every inbound decision appended to the audit table (inbound#… keys),
        # and the replies a person must look at opened in the review queue (conditional puts).
        _allow(fn, ["dynamodb:PutItem"], [storage.audit.table_arn, storage.reviews.table_arn])

    def _wire_unsubscribe(self) -> None:
        """One-click: suppress the address, stop ladders left with no open channel."""
        storage, fn = self._storage, self.unsubscribe
        _allow(fn, ["secretsmanager:GetSecretValue"], [self.unsubscribe_secret.secret_arn])
        _allow(fn, ["dynamodb:GetItem", "dynamodb:PutItem"], [storage.suppressions.table_arn])
        _allow(fn, ["dynamodb:Query"], [_index_arn(storage.accounts, "by_email")])
        # The unsubscribe is written to the append-only log of inbound decisions.
        _allow(fn, ["dynamodb:PutItem"], [storage.audit.table_arn])
        _allow(fn, _STOP_LADDER, [self._executions_arn])

    def _allow_lenders(self, role_name: str, fn: lambda_.Function, *, decrypt: bool) -> None:
        """Lender files pushed without a deploy (functions.adapters.lender_store): list and read
        the lenders/ prefix only, never write it (`rung lenders push` writes, as an operator)."""
        bucket = self._storage.bucket
        _allow(fn, ["s3:GetObject"], [bucket.arn_for_objects(f"{LENDERS_PREFIX}*")])
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": LENDERS_PREFIX}},
            )
        )
        if decrypt:
            _allow(fn, ["kms:Decrypt"], [self._storage.key.key_arn])
        acknowledge(
            self.roles[role_name],
            f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{LENDERS_PREFIX}*]",
            "Lender files are named by lender id, added at run time without a deploy; the "
            "grant is read-only and limited to the lenders/ prefix.",
        )

    def _allow_receipts(self, fn: lambda_.Function) -> None:
        """A receipt to the lender for every file: email through SES, to the lenders' receipt
        addresses only (ses:Recipients), so this role can never write to a borrower."""
        recipients = receipt_recipients(PROJECT_ROOT)
        if not recipients:
            return
        stack = Stack.of(self)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[
                    *(
                        stack.format_arn(service="ses", resource="identity", resource_name=i)
                        for i in self._config.email.identities
                    ),
                    stack.format_arn(
                        service="ses",
                        resource="configuration-set",
                        resource_name=self._messaging.configuration_set.configuration_set_name,
                    ),
                ],
                conditions={
                    "ForAllValues:StringEqualsIgnoreCase": {"ses:Recipients": recipients},
                    "Null": {"ses:Recipients": "false"},
                },
            )
        )

    def _allow_email(self, fn: lambda_.Function) -> None:
        """Email through SES v2 from the configured identities with Rung's configuration set
        (SES authorises a send on the identity and on the configuration set)."""
        stack = Stack.of(self)
        identities = [
            stack.format_arn(service="ses", resource="identity", resource_name=identity)
            for identity in self._config.email.identities
        ]
        configuration_set = stack.format_arn(
            service="ses",
            resource="configuration-set",
            resource_name=self._messaging.configuration_set.configuration_set_name,
        )
        _allow(fn, ["ses:SendEmail"], [*identities, configuration_set])

    def _allow_messages(self, fn: lambda_.Function) -> None:
        """SMS through End User Messaging (from the configured identities, with Rung's
        configuration set) and email through SES v2."""
        stack = Stack.of(self)
        self._allow_email(fn)
        originations = [
            _origination_arn(stack, resource)
            for resource in self._config.sms.origination_identities.values()
        ]
        _allow(
            fn,
            ["sms-voice:SendTextMessage"],
            [*originations, self._messaging.sms_configuration_set.attr_arn],
        )

    def _bucket_notifications_acknowledged(self) -> None:
        handler = Stack.of(self).node.try_find_child(BUCKET_NOTIFICATIONS_HANDLER)
        if handler is None:
            raise LookupError(f"CDK no longer creates {BUCKET_NOTIFICATIONS_HANDLER}")
        reason = (
            "CDK's own deploy-time handler that writes the bucket's notification "
            "configuration; it never runs with lender data."
        )
        for finding in (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "AwsSolutions-IAM5[Resource::*]",
        ):
            acknowledge(handler, finding, reason)


# SfnLadderControl.stop describes an execution before stopping it (only a RUNNING one stops).
_STOP_LADDER = ["states:DescribeExecution", "states:StopExecution"]


def _allow(fn: lambda_.Function, actions: list[str], resources: list[str]) -> None:
    fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))


def _index_arn(table: Table, index: str) -> str:
    return f"{table.table_arn}/index/{index}"


def _origination_arn(stack: Stack, resource: str) -> str:
    """An origination identity's ARN from cdk.json: a phone number id, a pool id or an ARN."""
    if resource.startswith("arn:"):
        return resource
    resource_type = "phone-number" if resource.startswith("phone-") else "pool"
    return stack.format_arn(service="sms-voice", resource=resource_type, resource_name=resource)


def receipt_recipients(config_root: Path) -> list[str]:
    """Every receipt address of every configured lender (config/lenders/*.yaml, validated)."""
    folder = config_root / "config" / "lenders"
    return sorted(
        {
            str(address)
            for path in folder.glob("*.yaml")
            for address in load_lender(config_root, path.stem).receipt_emails
        }
    )
