"""The synthesized stack, mapped onto a local world's resources.

The local world creates what the template declares under its own names; this module binds
each logical id the roles refer to (tables, bucket, keys, queue, secret, topics, functions,
state machine) to the local resource, so that the template's statements can be evaluated
against the ARNs the handlers really call. Most bindings come from the functions'
environment: a variable the template sets to `{"Ref": X}` names X's local counterpart in the
local world's environment.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from moto.athena.models import athena_backends
from moto.glue.models import glue_backends
from moto.ses.models import ses_backends

from functions.settings import PROJECT_ROOT, Settings, variable_name
from rung.access.enforcer import AccessEnforcer
from rung.access.requests import QueryPlace, Where
from rung.access.roles import Principal, function_facts, principals
from rung.access.template import Physical, Resolver, Template

# Entry points, as the CDK stack registers them (one code asset, `functions.*`).
HANDLERS: Mapping[str, str] = {
    "schedule": "functions.schedule.handler.handler",
    "send": "functions.send.handler.handler",
    "optout": "functions.optout.handler.handler",
    "unsubscribe": "functions.optout.unsubscribe.handler",
    "plan": "functions.plan.handler.handler",
}


def environment_of(settings: Settings) -> dict[str, str]:
    """The RUNG_* variables that produce `settings` (as the stack sets them; a value that is
    None is left unset, which is how it reads as None)."""
    return {
        variable_name(name): str(value)
        for name, value in settings.model_dump().items()
        if value is not None
    }


@functools.cache
def _rung_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8"))[
        "context"
    ]["rung"]
    return context


def stack_name() -> str:
    """The stack's name from cdk.json (what `AWS::StackName` resolves to)."""
    return str(_rung_context()["stack_name"])


def sms_origination_identities() -> dict[str, str]:
    """cdk.json's SMS origination identities: as lenders name them → End User Messaging id."""
    return dict(_rung_context()["sms"]["origination_identities"])


def push_platform_applications() -> list[str]:
    """cdk.json's SNS platform applications (the lenders' apps, FCM and APNs)."""
    return list(_rung_context().get("push", {}).get("platform_applications", []))


def sms_identity_arn(identity: str, region: str, account: str) -> str:
    """The ARN End User Messaging authorises a send from `identity` on: a number is resolved
    to its phone number (or pool) id as cdk.json records it, as the service resolves it."""
    resource = sms_origination_identities().get(identity, identity)
    if resource.startswith("arn:"):
        return resource
    resource_type = "pool" if resource.startswith("pool-") else "phone-number"
    return f"arn:aws:sms-voice:{region}:{account}:{resource_type}/{resource}"


def sending_identity(from_address: str, region: str, account: str) -> str:
    """The SES identity that authorises a From address in moto: the address when it is
    verified itself, otherwise its domain (as SES chooses)."""
    _, address = parseaddr(from_address)
    verified = ses_backends[account][region].email_identities
    return address if address in verified else address.rsplit("@", 1)[-1]


def query_place(workgroup: str, region: str, account: str) -> QueryPlace:
    """Where Athena (moto's) reads and writes for `workgroup`: its result location, and the
    data location of every Glue table (moto's)."""
    group = athena_backends[account][region].work_groups[workgroup]
    output = group.configuration["ResultConfiguration"]["OutputLocation"]
    tables = {
        f"{database_name}/{table_name}": table.as_dict()["StorageDescriptor"]["Location"]
        for database_name, database in glue_backends[account][region].databases.items()
        for table_name, table in database.tables.items()
    }
    return QueryPlace(output=output, tables=tables)


def query_workgroup(query_id: str, region: str, account: str) -> str:
    """The workgroup a query execution (moto's) ran in."""
    execution = athena_backends[account][region].executions[query_id]
    return str(execution.workgroup.name if execution.workgroup else "primary")


@dataclass(frozen=True)
class TemplateNames:
    """Physical names the template fixes, which the local world must use too (the roles name
    them literally, e.g. `execution:Rung-ladder:*`)."""

    state_machine: str
    functions: Mapping[str, str]  # handler → fixed function name (only those the stack fixes)


@dataclass(frozen=True)
class Encryption:
    """The KMS keys, queues and encrypted bucket the template declares, by logical id."""

    keys: tuple[str, ...]
    queues: Mapping[str, str]  # queue → its key ("" for none)
    bucket_key: Mapping[str, str]  # environment variable naming a bucket → the bucket's key


@dataclass(frozen=True)
class LocalResources:
    """What the local world created, for binding."""

    region: str
    account: str
    stack_name: str
    environment: Mapping[str, str]  # RUNG_* as the local world sets them
    functions: Mapping[str, tuple[str, str]]  # handler → (name, ARN)
    state_machine_arn: str
    created: Mapping[str, Physical]  # logical id → local twin (keys, queues)


def template_names(template: Template) -> TemplateNames:
    resources = template["Resources"]
    machine = next(
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    )
    return TemplateNames(
        state_machine=str(machine["StateMachineName"]),
        functions={
            resource["Properties"]["Handler"]: resource["Properties"]["FunctionName"]
            for resource in resources.values()
            if resource["Type"] == "AWS::Lambda::Function"
            and isinstance(resource["Properties"].get("FunctionName"), str)
        },
    )


@dataclass(frozen=True)
class SmsSetup:
    """What the template configures for End User Messaging SMS."""

    event_types: frozenset[str]  # matched by the configuration set's SNS event destinations
    opt_out_list: str  # the list START lifts numbers from (RUNG_SMS_OPT_OUT_LIST)


def sms_setup(template: Template) -> SmsSetup:
    resources = template["Resources"].values()
    event_types = frozenset(
        event_type
        for resource in resources
        if resource["Type"] == "AWS::SMSVOICE::ConfigurationSet"
        for destination in resource["Properties"].get("EventDestinations", [])
        if destination.get("Enabled") and "SnsDestination" in destination
        for event_type in destination["MatchingEventTypes"]
    )
    opt_out_lists = {
        str(variables["RUNG_SMS_OPT_OUT_LIST"])
        for resource in resources
        if resource["Type"] == "AWS::Lambda::Function"
        for variables in [resource["Properties"].get("Environment", {}).get("Variables", {})]
        if "RUNG_SMS_OPT_OUT_LIST" in variables
    }
    (opt_out_list,) = opt_out_lists or {Settings().sms_opt_out_list}
    return SmsSetup(event_types=event_types, opt_out_list=opt_out_list)


def state_machine_logs(template: Template) -> bool:
    """Whether the state machine delivers its logs to CloudWatch (its role must allow it)."""
    return any(
        "LoggingConfiguration" in resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    )


def encryption(template: Template) -> Encryption:
    resources = template["Resources"]
    keys = tuple(key for key, value in resources.items() if value["Type"] == "AWS::KMS::Key")
    queues = {
        logical_id: _logical(value["Properties"].get("KmsMasterKeyId"))
        for logical_id, value in resources.items()
        if value["Type"] == "AWS::SQS::Queue"
    }
    bucket_key: dict[str, str] = {}
    for variable, reference in _environment_references(template).items():
        bucket = resources.get(reference[0])
        if bucket is None or bucket["Type"] != "AWS::S3::Bucket":
            continue
        rules = (
            bucket["Properties"]
            .get("BucketEncryption", {})
            .get("ServerSideEncryptionConfiguration", [])
        )
        for rule in rules:
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms":
                bucket_key[variable] = _logical(default.get("KMSMasterKeyID"))
    return Encryption(keys=keys, queues=queues, bucket_key=bucket_key)


def bind(template: Template, local: LocalResources) -> dict[str, Physical]:
    """Logical id → local physical resource, for everything the roles can name."""
    resources = template["Resources"]
    region, account = local.region, local.account
    physical: dict[str, Physical] = dict(local.created)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        local_function = local.functions.get(properties["Handler"])
        if local_function is None:
            continue
        name, arn = local_function
        physical[logical_id] = Physical(ref=name, attributes={"Arn": arn})
        log_group = properties.get("LoggingConfig", {}).get("LogGroup")
        if log_group:
            group = f"/aws/lambda/{name}"
            physical[log_group["Ref"]] = Physical(
                ref=group,
                attributes={"Arn": f"arn:aws:logs:{region}:{account}:log-group:{group}:*"},
            )
    for variable, (logical_id, attribute) in _environment_references(template).items():
        value = local.environment.get(variable)
        if value is None or logical_id not in resources:
            continue
        if attribute:
            existing = physical.get(logical_id, Physical(ref="", attributes={}))
            physical[logical_id] = Physical(
                ref=existing.ref, attributes={**existing.attributes, attribute: value}
            )
            continue
        physical[logical_id] = _by_type(resources[logical_id]["Type"], value, region, account)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            physical[logical_id] = Physical(
                ref=local.state_machine_arn,
                attributes={"Name": local.state_machine_arn.rsplit(":", 1)[-1]},
            )
    return physical


def enforcer(
    template: Template,
    local: LocalResources,
    where: Where,
    handlers: Mapping[str, str],  # principal name → handler
) -> AccessEnforcer:
    physical = bind(template, local)
    resolve = Resolver(
        region=local.region, account=local.account, stack_name=local.stack_name, physical=physical
    )
    found: dict[str, Principal] = principals(template, resolve, handlers)
    facts = {
        name: function_facts(template, principal.logical_id, resolve)
        for name, principal in found.items()
        if name in handlers
    }
    keys: dict[str, str] = {}
    crypto = encryption(template)
    for variable, key in crypto.bucket_key.items():
        if key in physical and variable in local.environment:
            keys[local.environment[variable]] = physical[key].attributes["Arn"]
    for queue, key in crypto.queues.items():
        if key and queue in physical and key in physical:
            keys[physical[queue].attributes["Arn"]] = physical[key].attributes["Arn"]
    return AccessEnforcer(
        principals=found,
        facts=facts,
        where=where,
        keys=keys,
        handlers={handler: name for name, handler in handlers.items()},
        stack_functions=frozenset(
            part for name, arn in local.functions.values() for part in (name, arn)
        ),
    )


def _environment_references(template: Template) -> dict[str, tuple[str, str]]:
    """RUNG_* variable → (logical id, attribute or "" for Ref), from every function."""
    references: dict[str, tuple[str, str]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for variable, value in variables.items():
            if isinstance(value, dict) and "Ref" in value:
                references[variable] = (value["Ref"], "")
            elif isinstance(value, dict) and "Fn::GetAtt" in value:
                logical_id, attribute = value["Fn::GetAtt"]
                references[variable] = (logical_id, attribute)
    return references


def _by_type(resource_type: str, ref: str, region: str, account: str) -> Physical:
    """A resource's attributes from its `Ref` value, as CloudFormation defines them per type."""
    if resource_type == "AWS::DynamoDB::Table":
        return Physical(ref, {"Arn": f"arn:aws:dynamodb:{region}:{account}:table/{ref}"})
    if resource_type == "AWS::S3::Bucket":
        return Physical(ref, {"Arn": f"arn:aws:s3:::{ref}"})
    if resource_type == "AWS::SNS::Topic":
        return Physical(ref, {"TopicArn": ref, "TopicName": ref.rsplit(":", 1)[-1]})
    if resource_type in (
        "AWS::SecretsManager::Secret",
        "AWS::SES::ConfigurationSet",
        "AWS::Athena::WorkGroup",
    ):
        return Physical(ref, {})
    if resource_type == "AWS::SMSVOICE::ConfigurationSet":
        return Physical(
            ref, {"Arn": f"arn:aws:sms-voice:{region}:{account}:configuration-set/{ref}"}
        )
    raise ValueError(f"the local world cannot bind a {resource_type} from its environment")


def _logical(reference: Any) -> str:
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            return str(reference["Fn::GetAtt"][0])
    return ""
