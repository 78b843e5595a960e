"""Messaging: inbound SMS / delivery events / inbound email topics, the SES and End User Messaging
SMS configuration sets, the SES receipt rule, and the dead-letter queue for inbound processing
that failed."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk import aws_smsvoice as smsvoice
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.components.nag import acknowledge
from infra.stack_config import EmailConfig

# Services that publish into Rung's encrypted topics / queue and so must use the messaging key:
# End User Messaging SMS (two-way SMS), SES (events and inbound mail), CloudWatch (alarms),
# SNS (redriving undeliverable messages into the dead-letter queue).
SMS_SERVICE = "sms-voice.amazonaws.com"
SES_SERVICE = "ses.amazonaws.com"
PUBLISHING_SERVICES = (SMS_SERVICE, SES_SERVICE, "cloudwatch.amazonaws.com", "sns.amazonaws.com")
DEAD_LETTER_RETENTION = Duration.days(14)  # SQS maximum: the longest window to replay from
# The final outcomes of a text, the receipts noted on its ledger entry. The intermediate events
# (TEXT_SENT, TEXT_PENDING, TEXT_QUEUED, TEXT_SUCCESSFUL) would only cost invocations and could
# overwrite a final status that arrived first.
SMS_RECEIPT_EVENTS = (
    "TEXT_DELIVERED",
    "TEXT_INVALID",
    "TEXT_INVALID_MESSAGE",
    "TEXT_UNREACHABLE",
    "TEXT_CARRIER_UNREACHABLE",
    "TEXT_BLOCKED",
    "TEXT_CARRIER_BLOCKED",
    "TEXT_SPAM",
    "TEXT_UNKNOWN",
    "TEXT_TTL_EXPIRED",
    "TEXT_PROTECT_BLOCKED",
)


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: EmailConfig) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.key = kms.Key(
            self,
            "MessagingKey",
            description="Rung: inbound SMS / email topics, SES feedback, alarms, dead letters",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AwsServicesPublishingToRung",
                principals=[iam.ServicePrincipal(service) for service in PUBLISHING_SERVICES],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.inbound_sms = self._topic("InboundSms", "Rung: two-way SMS replies", SMS_SERVICE)
        # Delivery events of both channels, by the SES and SMS configuration sets below.
        self.ses_feedback = self._topic(
            "SesFeedback",
            "Rung: delivery events (SES bounce, complaint, delivery, reject; SMS TEXT_*)",
            SES_SERVICE,
            SMS_SERVICE,
        )
        self.inbound_email = self._topic(
            "InboundEmail", "Rung: borrower email replies", SES_SERVICE
        )

        self.dead_letters = sqs.Queue(
            self,
            "FailedEvents",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination (Lambda on-failure and SNS "
            "subscription redrive); it has no further DLQ.",
        )

        self.configuration_set = ses.ConfigurationSet(
            self,
            "Email",
            reputation_metrics=True,
            sending_enabled=True,
            # docs/compliance.md (Opt-out and consent, Email reputation): permanent bounces and
            # complaints suppress that address.
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
        )
        self.configuration_set.add_event_destination(
            "Feedback",
            destination=ses.EventDestination.sns_topic(self.ses_feedback),
            events=[
                ses.EmailSendingEvent.BOUNCE,
                ses.EmailSendingEvent.COMPLAINT,
                ses.EmailSendingEvent.DELIVERY,
                ses.EmailSendingEvent.REJECT,
            ],
        )
        # End User Messaging SMS publishes TEXT_* events only for texts sent with a configuration
        # set that has an event destination: every text names this one (RUNG_SMS_CONFIGURATION_SET).
        self.sms_configuration_set = smsvoice.CfnConfigurationSet(
            self,
            "Sms",
            event_destinations=[
                smsvoice.CfnConfigurationSet.EventDestinationProperty(
                    event_destination_name="DeliveryEvents",
                    enabled=True,
                    matching_event_types=list(SMS_RECEIPT_EVENTS),
                    sns_destination=smsvoice.CfnConfigurationSet.SnsDestinationProperty(
                        topic_arn=self.ses_feedback.topic_arn
                    ),
                )
            ],
        )
        # End User Messaging checks that it may publish to the topic (its policy and key) when
        # the destination is created: after the topic's policy, not racing it.
        self.sms_configuration_set.node.add_dependency(self.ses_feedback)
        # SES allows one active receipt rule set per region and CloudFormation cannot activate
        # it: after deploying, run `aws ses set-active-receipt-rule-set --rule-set-name <name>`.
        self.receipt_rules = ses.ReceiptRuleSet(
            self,
            "InboundMail",
            rules=[
                ses.ReceiptRuleOptions(
                    recipients=email.inbound_recipients or None,
                    scan_enabled=True,
                    tls_policy=ses.TlsPolicy.REQUIRE,
                    actions=[
                        ses_actions.Sns(
                            topic=self.inbound_email, encoding=ses_actions.EmailEncoding.UTF8
                        )
                    ],
                )
            ],
        )
        # SES checks that it may publish to the topic when the rule is created: the rule
        # must come after the topic's policy, not race it on the first deploy.
        self.receipt_rules.node.add_dependency(self.inbound_email)

    def _topic(self, construct_id: str, display_name: str, *publishers: str) -> sns.Topic:
        topic = sns.Topic(
            self, construct_id, display_name=display_name, master_key=self.key, enforce_ssl=True
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServicePublishes",
                principals=[iam.ServicePrincipal(publisher) for publisher in publishers],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        return topic
