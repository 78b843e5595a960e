"""Observability: alarms on what must never go unnoticed, published to one encrypted topic."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from functions.observability import METRICS_NAMESPACE
from infra.stack_config import AlarmConfig

PERCENT = 100


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarms: AlarmConfig,
        service_name: str,
        key: kms.IKey,
        state_machine: sfn.StateMachine,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Alarms", display_name="Rung alarms", master_key=key, enforce_ssl=True
        )
        # The topic's own policy replaces SNS's default one, so CloudWatch must be let in for
        # this stack's alarms (the messaging key's policy lets it encrypt).
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{stack.stack_name}-*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if alarms.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarms.email))
        period = Duration.minutes(alarms.period_minutes)

        def rung_metric(name: str) -> cloudwatch.Metric:
            # Powertools adds the `service` dimension (POWERTOOLS_SERVICE_NAME) to every metric.
            return cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": service_name},
                statistic=cloudwatch.Stats.SUM,
                period=period,
            )

        def ses_rate(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SES",
                metric_name=name,
                statistic=cloudwatch.Stats.MAXIMUM,
                period=period,
            )

        self.alarms = {
            # An attempt whose outcome is unknown is never re-sent automatically: a human looks.
            "UncertainSends": (rung_metric("UncertainSends"), alarms.uncertain_sends),
            # A rung was suppressed because no approved template exists
            # (docs/design.md, Templates and approval).
            "TemplateNotApproved": (
                rung_metric("TemplateNotApproved"),
                alarms.template_not_approved,
            ),
            # A challenger's opt-out or complaint rate breached its guardrail: it takes no new
            # accounts (functions.core.experiments); someone should look at it.
            "ExperimentGuardrailBreached": (
                rung_metric("ExperimentGuardrailBreached"),
                alarms.experiment_guardrails_breached,
            ),
            "LadderExecutionsFailed": (
                state_machine.metric_failed(period=period, statistic=cloudwatch.Stats.SUM),
                alarms.executions_failed,
            ),
            "FailedEventsWaiting": (
                dead_letters.metric_approximate_number_of_messages_visible(
                    period=period, statistic=cloudwatch.Stats.MAXIMUM
                ),
                alarms.dead_letters,
            ),
            # docs/compliance.md, Email reputation: pause email before SES reviews (5 %) or pauses
            # (10 %) the account.
            "SesBounceRate": (
                ses_rate("Reputation.BounceRate"),
                alarms.ses_bounce_rate_percent / PERCENT,
            ),
            # docs/compliance.md, Email reputation: SES reviews at 0.1 % complaints and pauses
            # at 0.5 %.
            "SesComplaintRate": (
                ses_rate("Reputation.ComplaintRate"),
                alarms.ses_complaint_rate_percent / PERCENT,
            ),
        }
        stack_name = Stack.of(self).stack_name
        # docs/compliance.md, Email reputation: these two pause the email channel (the optout
        # function listens).
        self.email_pause_alarm_names = tuple(
            f"{stack_name}-{name}" for name in ("SesBounceRate", "SesComplaintRate")
        )
        for name, (metric, threshold) in self.alarms.items():
            alarm = metric.create_alarm(
                self,
                name,
                alarm_name=f"{stack_name}-{name}",
                alarm_description=f"Rung: {name} reached {threshold}",
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(actions.SnsAction(self.topic))
