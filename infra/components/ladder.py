"""Ladder: the Standard state machine defined by infra/statemachines/ladder.asl.json."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.components.nag import acknowledge
from infra.paths import LADDER_ASL
from infra.stack_config import RungStackConfig


def state_machine_name(stack: Stack) -> str:
    """A fixed name, so functions can hold the ARN without a CloudFormation reference: the
    unsubscribe function stops ladders, and send (which the ladder invokes) links to it."""
    return f"{stack.stack_name}-ladder"


def state_machine_arn(stack: Stack) -> str:
    return stack.format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(stack),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def executions_arn(stack: Stack) -> str:
    """Every execution of the ladder (each is named per account ladder at run time)."""
    return stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name(stack)}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class Ladder(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RungStackConfig,
        send: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        key = kms.Key(
            self, "LogsKey", description="Rung: ladder execution logs", enable_key_rotation=True
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsLadderLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            encryption_key=key,
            retention=config.retention.log_retention_days,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Rung ladder: may invoke the send function and nothing else",
        )
        # The ASL invokes the unqualified send function ARN only (no versions or aliases).
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[send.function_arn])
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name(stack),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(LADDER_ASL)),
            definition_substitutions={"SendFunctionArn": send.function_arn},
            role=role,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel[config.state_machine_log_level],
                # The state carries ids only, but failures may quote provider errors: keep
                # execution data out of the logs (docs/compliance.md, Personal data); the audit
                # table has the record.
                include_execution_data=False,
            ),
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:*LogDelivery*, DescribeLogGroups) and X-Ray "
            "writes have no resource-level permissions.",
        )
        if config.state_machine_log_level != "ALL":
            acknowledge(
                self.state_machine,
                "AwsSolutions-SF1",
                f"Logs {config.state_machine_log_level} events only: ALL would log about "
                "8 events per rung for up to a million ladders (CloudWatch ingestion cost of "
                "the same order as the transitions themselves); every rung decision is in "
                "the audit table.",
            )
