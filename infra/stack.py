"""The Rung stack: one construct per capability, wired together."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.components.analytics import Analytics
from infra.components.console import Console
from infra.components.functions import Functions
from infra.components.ladder import Ladder
from infra.components.lender_access import LenderAccess
from infra.components.messaging import Messaging
from infra.components.observability import Observability
from infra.components.storage import Storage
from infra.stack_config import RungStackConfig


class RungStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: RungStackConfig) -> None:
        super().__init__(
            scope, construct_id, description="Rung: lawful overdue-payment reminder ladders"
        )
        self.storage = Storage(self, "Storage", retention=config.retention)
        self.messaging = Messaging(self, "Messaging", email=config.email)
        self.functions = Functions(
            self, "Functions", config=config, storage=self.storage, messaging=self.messaging
        )
        self.lender_access = LenderAccess(
            self,
            "LenderAccess",
            lenders=config.lender_access,
            sftp=config.sftp,
            storage=self.storage,
            retention=config.retention,
        )
        self.ladder = Ladder(self, "Ladder", config=config, send=self.functions.send)
        self.observability = Observability(
            self,
            "Observability",
            alarms=config.alarms,
            service_name=config.service_name,
            key=self.messaging.key,
            state_machine=self.ladder.state_machine,
            dead_letters=self.messaging.dead_letters,
        )
        # The email channel pauses itself on the SES reputation alarms
        # (docs/compliance.md, Email reputation).
        self.observability.topic.add_subscription(
            subscriptions.LambdaSubscription(
                self.functions.optout, dead_letter_queue=self.messaging.dead_letters
            )
        )
        self.functions.optout.add_environment(
            "RUNG_EMAIL_PAUSE_ALARMS", ",".join(self.observability.email_pause_alarm_names)
        )

        self.analytics = Analytics(
            self,
            "Analytics",
            config=config,
            storage=self.storage,
            dead_letters=self.messaging.dead_letters,
            powertools_layer_parameter=self.functions.powertools_layer_parameter,
        )
        # The ops console (README, The ops console in AWS): on unless cdk.json turns it off.
        self.console = (
            Console(
                self,
                "Console",
                config=config,
                storage=self.storage,
                functions=self.functions,
                analytics=self.analytics,
            )
            if config.console.enabled
            else None
        )

        CfnOutput(self, "UploadsBucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "LadderStateMachineArn", value=self.ladder.state_machine.state_machine_arn)
        CfnOutput(self, "InboundSmsTopicArn", value=self.messaging.inbound_sms.topic_arn)
        # SES and End User Messaging SMS events arrive here by the stack's configuration sets.
        CfnOutput(self, "DeliveryEventsTopicArn", value=self.messaging.ses_feedback.topic_arn)
        CfnOutput(self, "UnsubscribeUrl", value=self.functions.unsubscribe_url.url)
        # Read by `rung preflight` (what to activate, whom alarms reach) and `rung smoke`.
        CfnOutput(
            self, "InboundMailRuleSetName", value=self.messaging.receipt_rules.receipt_rule_set_name
        )
        CfnOutput(self, "AlarmTopicArn", value=self.observability.topic.topic_arn)
        # What to give each lender: the role to assume (with its external id) and the SFTP host.
        for lender_id, role in self.lender_access.upload_roles.items():
            CfnOutput(self, f"UploadRoleArn{_pascal(lender_id)}", value=role.role_arn)
        if self.lender_access.server is not None:
            CfnOutput(self, "SftpServerId", value=self.lender_access.server.attr_server_id)
        for name, table in (
            ("Accounts", self.storage.accounts),
            ("Ledger", self.storage.ledger),
            ("Audit", self.storage.audit),
            ("Suppressions", self.storage.suppressions),
            ("Reviews", self.storage.reviews),
        ):
            CfnOutput(self, f"{name}TableName", value=table.table_name)
        # Read by `rung kpis --athena`.
        CfnOutput(self, "AnalyticsWorkgroupName", value=self.analytics.workgroup.ref)
        CfnOutput(self, "AnalyticsDatabaseName", value=self.analytics.database_name)
        CfnOutput(self, "AnalyticsBucketName", value=self.analytics.bucket.bucket_name)
        # Read by `rung erase`: erasure pseudonyms are keyed with the unsubscribe-link key.
        CfnOutput(self, "UnsubscribeSecretArn", value=self.functions.unsubscribe_secret.secret_arn)


def _pascal(lender_id: str) -> str:
    """`acme-finance` → `AcmeFinance` (output names are alphanumeric)."""
    return "".join(part.capitalize() for part in lender_id.split("-"))
