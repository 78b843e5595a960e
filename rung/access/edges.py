"""Every place where one AWS service hands work to another in the stack, checked against the
resource policies of the synthesized template.

moto accepts any publish, notification or invocation; AWS accepts one only when the target's
resource policy (topic policy, queue policy, Lambda permission, KMS key policy) lets that
service principal in, for that source. Each `Edge` is one such hand-over, evaluated as AWS
would evaluate it, so that a stack which deploys but silently drops SMS receipts or alarms
fails a test instead.

The template is bound to made-up physical names in a made-up account: what matters is that
every reference resolves consistently, as CloudFormation resolves it at deploy time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rung.access.policy import Request, evaluate
from rung.access.roles import readable
from rung.access.template import Physical, Resolver, Template

REGION = "us-east-1"
ACCOUNT = "111122223333"
# Topics that AWS End User Messaging SMS publishes to, by the stack output that names them:
# two-way SMS replies, and the event destination for TEXT_* delivery events.
SMS_TOPIC_OUTPUTS = ("InboundSmsTopicArn", "DeliveryEventsTopicArn")
SMS_SERVICE = "sms-voice.amazonaws.com"


@dataclass(frozen=True)
class Edge:
    name: str  # e.g. "SES configuration set MessagingEmail → topic MessagingSesFeedback"
    problems: tuple[str, ...]  # empty when AWS would allow the hand-over

    @property
    def allowed(self) -> bool:
        return not self.problems


def edges(template: Template) -> list[Edge]:
    """Every integration edge of the stack, each with what would make AWS refuse it."""
    return list(_Edges(template).all())


class _Edges:
    def __init__(self, template: Template) -> None:
        self.resources: Mapping[str, Any] = template["Resources"]
        self.outputs: Mapping[str, Any] = template.get("Outputs", {})
        physical = {
            logical_id: _deployed(logical_id, resource)
            for logical_id, resource in self.resources.items()
        }
        self.resolve = Resolver(
            region=REGION, account=ACCOUNT, stack_name="Rung", physical=physical
        )

    def all(self) -> Iterator[Edge]:
        yield from self._ses_event_destinations()
        yield from self._ses_receipt_rules()
        yield from self._sms_topics()
        yield from self._alarm_actions()
        yield from self._bucket_notifications()
        yield from self._subscriptions()
        yield from self._failure_destinations()
        yield from self._state_machine_tasks()

    # --- the edges ----------------------------------------------------------------------

    def _ses_event_destinations(self) -> Iterator[Edge]:
        for logical_id, resource in self._of_type("AWS::SES::ConfigurationSetEventDestination"):
            properties = resource["Properties"]
            topic = properties["EventDestination"].get("SnsDestination", {}).get("TopicARN")
            if topic is None:
                continue
            configuration_set = self.resolve(properties["ConfigurationSetName"])
            source = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}"
            yield self._publish(
                f"SES events of {readable(logical_id)}", "ses.amazonaws.com", topic, source
            )
            yield self._depends_on_topic_policy(logical_id, topic)

    def _ses_receipt_rules(self) -> Iterator[Edge]:
        for logical_id, resource in self._of_type("AWS::SES::ReceiptRule"):
            properties = resource["Properties"]
            rule_set = self.resolve(properties["RuleSetName"])
            source = (
                f"arn:aws:ses:{REGION}:{ACCOUNT}:receipt-rule-set/{rule_set}:receipt-rule/"
                f"{readable(logical_id)}"
            )
            for action in properties["Rule"].get("Actions", []):
                topic = action.get("SNSAction", {}).get("TopicArn")
                if topic is None:
                    continue
                yield self._publish(
                    f"SES receipt rule {readable(logical_id)}", "ses.amazonaws.com", topic, source
                )
                yield self._depends_on_topic_policy(logical_id, topic)

    def _sms_topics(self) -> Iterator[Edge]:
        for output in SMS_TOPIC_OUTPUTS:
            if output not in self.outputs:
                yield Edge(f"SMS events → output {output}", (f"the stack has no {output} output",))
                continue
            topic = self.outputs[output]["Value"]
            yield self._publish(f"End User Messaging SMS ({output})", SMS_SERVICE, topic, "")

    def _alarm_actions(self) -> Iterator[Edge]:
        for logical_id, resource in self._of_type("AWS::CloudWatch::Alarm"):
            properties = resource["Properties"]
            alarm = self.resolve({"Fn::GetAtt": [logical_id, "Arn"]})
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
                for topic in properties.get(key, []):
                    yield self._publish(
                        f"alarm {readable(logical_id)} ({key})",
                        "cloudwatch.amazonaws.com",
                        topic,
                        alarm,
                    )

    def _bucket_notifications(self) -> Iterator[Edge]:
        for logical_id, resource in self._of_type("Custom::S3BucketNotifications"):
            properties = resource["Properties"]
            bucket = {"Fn::GetAtt": [properties["BucketName"]["Ref"], "Arn"]}
            configurations = properties["NotificationConfiguration"]
            for configuration in configurations.get("LambdaFunctionConfigurations", []):
                yield self._invoke(
                    f"S3 notification of {readable(logical_id)}",
                    "s3.amazonaws.com",
                    configuration["LambdaFunctionArn"],
                    self.resolve(bucket),
                )

    def _subscriptions(self) -> Iterator[Edge]:
        for logical_id, resource in self._of_type("AWS::SNS::Subscription"):
            properties = resource["Properties"]
            topic = self.resolve(properties["TopicArn"])
            name = f"subscription {readable(logical_id)}"
            if properties["Protocol"] == "lambda":
                yield self._invoke(name, "sns.amazonaws.com", properties["Endpoint"], topic)
            redrive = properties.get("RedrivePolicy", {}).get("deadLetterTargetArn")
            if redrive is not None:
                yield self._send_to_queue(
                    f"{name} dead letters", "sns.amazonaws.com", redrive, topic
                )

    def _failure_destinations(self) -> Iterator[Edge]:
        for _, resource in self._of_type("AWS::Lambda::EventInvokeConfig"):
            properties = resource["Properties"]
            destination = properties.get("DestinationConfig", {}).get("OnFailure")
            if destination is None:
                continue
            function = properties["FunctionName"]["Ref"]
            role = self.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
            queue_id = destination["Destination"]["Fn::GetAtt"][0]
            queue = self.resolve(destination["Destination"])
            name = f"on-failure destination of {readable(function)}"
            problems = []
            if not self._role_allows(role, "sqs:SendMessage", queue):
                problems.append(f"role {readable(role)} may not sqs:SendMessage to the queue")
            key = self.resources[queue_id]["Properties"].get("KmsMasterKeyId")
            if key is not None:
                key_arn = self.resolve({"Fn::GetAtt": [key["Fn::GetAtt"][0], "Arn"]})
                if not self._role_allows(role, "kms:GenerateDataKey", key_arn):
                    problems.append(f"role {readable(role)} may not use the queue's key")
                if not self._key_trusts_iam(key["Fn::GetAtt"][0]):
                    problems.append("the queue's key policy does not let IAM policies grant it")
            yield Edge(name, tuple(problems))

    def _state_machine_tasks(self) -> Iterator[Edge]:
        for logical_id, resource in self._of_type("AWS::StepFunctions::StateMachine"):
            properties = resource["Properties"]
            role = properties["RoleArn"]["Fn::GetAtt"][0]
            for name, value in properties.get("DefinitionSubstitutions", {}).items():
                target = self.resolve(value)
                if ":function:" not in str(target):
                    continue
                allowed = self._role_allows(role, "lambda:InvokeFunction", target)
                yield Edge(
                    f"state machine {readable(logical_id)} → function ${{{name}}}",
                    () if allowed else (f"role {readable(role)} may not invoke it",),
                )

    # --- evaluation ---------------------------------------------------------------------

    def _publish(self, name: str, service: str, topic_ref: Any, source_arn: str) -> Edge:
        topic = self.resolve(topic_ref)
        topic_id = self._logical_id_of(topic_ref)
        context = {"aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true"}
        if source_arn:
            context["aws:SourceArn"] = source_arn
        request = Request("sns:Publish", topic, principal=service, context=context)
        problems = []
        statements = self._topic_policy(topic_id)
        if not evaluate(statements, request).allowed:
            problems.append(
                f"the topic policy of {readable(topic_id)} does not let {service} publish"
            )
        key = self.resources[topic_id]["Properties"].get("KmsMasterKeyId")
        if key is not None:
            problems.extend(self._key_problems(key, service, context, readable(topic_id)))
        return Edge(f"{name} → topic {readable(topic_id)}", tuple(problems))

    def _send_to_queue(self, name: str, service: str, queue_ref: Any, source_arn: str) -> Edge:
        queue = self.resolve(queue_ref)
        queue_id = self._logical_id_of(queue_ref)
        context = {
            "aws:SourceAccount": ACCOUNT,
            "aws:SourceArn": source_arn,
            "aws:SecureTransport": "true",
        }
        request = Request("sqs:SendMessage", queue, principal=service, context=context)
        statements = [
            statement
            for _, resource in self._of_type("AWS::SQS::QueuePolicy")
            if any(self._logical_id_of(q) == queue_id for q in resource["Properties"]["Queues"])
            for statement in self._statements(resource["Properties"]["PolicyDocument"])
        ]
        problems = []
        if not evaluate(statements, request).allowed:
            problems.append(f"the queue policy of {readable(queue_id)} does not let {service} in")
        key = self.resources[queue_id]["Properties"].get("KmsMasterKeyId")
        if key is not None:
            problems.extend(self._key_problems(key, service, context, readable(queue_id)))
        return Edge(f"{name} → queue {readable(queue_id)}", tuple(problems))

    def _invoke(self, name: str, service: str, function_ref: Any, source_arn: str) -> Edge:
        function = self.resolve(function_ref)
        function_id = self._logical_id_of(function_ref)
        statements = []
        for _, resource in self._of_type("AWS::Lambda::Permission"):
            permission = resource["Properties"]
            if self._logical_id_of(permission["FunctionName"]) != function_id:
                continue
            condition: dict[str, dict[str, Any]] = {}
            if "SourceArn" in permission:
                condition["ArnLike"] = {"AWS:SourceArn": self.resolve(permission["SourceArn"])}
            if "SourceAccount" in permission:
                condition["StringEquals"] = {
                    "AWS:SourceAccount": self.resolve(permission["SourceAccount"])
                }
            principal = permission["Principal"]
            statements.append(
                {
                    "Effect": "Allow",
                    "Principal": "*" if principal == "*" else {"Service": principal},
                    "Action": permission["Action"],
                    "Resource": function,
                    "Condition": condition,
                }
            )
        request = Request(
            "lambda:InvokeFunction",
            function,
            principal=service,
            context={"aws:SourceArn": source_arn, "aws:SourceAccount": ACCOUNT},
        )
        allowed = evaluate(statements, request).allowed
        return Edge(
            f"{name} → function {readable(function_id)}",
            () if allowed else (f"no Lambda permission lets {service} invoke it from there",),
        )

    def _key_problems(
        self, key_ref: Any, service: str, context: Mapping[str, str], what: str
    ) -> list[str]:
        key_id = self._logical_id_of(key_ref)
        key_arn = self.resolve({"Fn::GetAtt": [key_id, "Arn"]})
        statements = self._statements(self.resources[key_id]["Properties"]["KeyPolicy"])
        problems = []
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            request = Request(action, key_arn, principal=service, context=context)
            if not evaluate(statements, request).allowed:
                problems.append(
                    f"the key policy of {readable(key_id)} (encrypting {what}) does not let "
                    f"{service} {action}"
                )
        return problems

    def _key_trusts_iam(self, key_id: str) -> bool:
        root = f"arn:aws:iam::{ACCOUNT}:root"
        statements = self._statements(self.resources[key_id]["Properties"]["KeyPolicy"])
        return evaluate(statements, Request("kms:GenerateDataKey", "*", principal=root)).allowed

    def _role_allows(self, role: str, action: str, resource: str) -> bool:
        statements = [
            statement
            for _, policy in self._of_type("AWS::IAM::Policy")
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in self._statements(policy["Properties"]["PolicyDocument"])
        ]
        return evaluate(statements, Request(action, resource)).allowed

    def _depends_on_topic_policy(self, logical_id: str, topic_ref: Any) -> Edge:
        """SES checks that it may publish when the rule or destination is created: created
        before the topic policy, the first deploy fails (or races)."""
        topic_id = self._logical_id_of(topic_ref)
        depends = self.resources[logical_id].get("DependsOn", [])
        depends = depends if isinstance(depends, list) else [depends]
        policies = {
            policy_id
            for policy_id, resource in self._of_type("AWS::SNS::TopicPolicy")
            if any(self._logical_id_of(t) == topic_id for t in resource["Properties"]["Topics"])
        }
        ok = bool(policies) and policies <= set(depends)
        return Edge(
            f"{readable(logical_id)} is created after the policy of topic {readable(topic_id)}",
            () if ok else ("it does not depend on the topic policy (a first-deploy race)",),
        )

    def _topic_policy(self, topic_id: str) -> list[Mapping[str, Any]]:
        return [
            statement
            for _, resource in self._of_type("AWS::SNS::TopicPolicy")
            if any(self._logical_id_of(t) == topic_id for t in resource["Properties"]["Topics"])
            for statement in self._statements(resource["Properties"]["PolicyDocument"])
        ]

    def _statements(self, document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        statements = self.resolve(document)["Statement"]
        return statements if isinstance(statements, list) else [statements]

    def _of_type(self, resource_type: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == resource_type:
                yield logical_id, resource

    @staticmethod
    def _logical_id_of(reference: Any) -> str:
        if isinstance(reference, dict):
            if "Ref" in reference:
                return str(reference["Ref"])
            if "Fn::GetAtt" in reference:
                return str(reference["Fn::GetAtt"][0])
        raise ValueError(f"expected a Ref or Fn::GetAtt, not {reference!r}")


def _deployed(logical_id: str, resource: Mapping[str, Any]) -> Physical:
    """A consistent made-up physical identity per resource, as CloudFormation would assign."""
    kind = resource["Type"]
    name = str(resource.get("Properties", {}).get("FunctionName") or logical_id)
    prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT}"
    if kind == "AWS::SNS::Topic":
        arn = f"{prefix.format('sns')}:{logical_id}"
        return Physical(arn, {"TopicArn": arn, "TopicName": logical_id})
    if kind == "AWS::SQS::Queue":
        return Physical(
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{logical_id}",
            {"Arn": f"{prefix.format('sqs')}:{logical_id}", "QueueName": logical_id},
        )
    if kind == "AWS::KMS::Key":
        return Physical(logical_id, {"Arn": f"{prefix.format('kms')}:key/{logical_id}"})
    if kind == "AWS::Lambda::Function":
        return Physical(name, {"Arn": f"{prefix.format('lambda')}:function:{name}"})
    if kind == "AWS::S3::Bucket":
        bucket = logical_id.lower()
        return Physical(bucket, {"Arn": f"arn:aws:s3:::{bucket}"})
    if kind == "AWS::CloudWatch::Alarm":
        alarm = str(resource["Properties"].get("AlarmName") or logical_id)
        return Physical(alarm, {"Arn": f"{prefix.format('cloudwatch')}:alarm:{alarm}"})
    return Physical(logical_id, {"Arn": f"{prefix.format('cloudformation')}:{logical_id}"})
