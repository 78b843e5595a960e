"""What IAM checks for an AWS API call: the action and the resource(s) it is authorised on.

Each operation the functions may call is listed with the IAM action AWS's Service
Authorization Reference gives it and the resource type it is authorised against. An operation
not listed raises `UnmodelledCall`: a new call in the code must be added here, on purpose, so
that the local world never waves a call through unchecked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class UnmodelledCall(LookupError):
    """The local world does not know which IAM action/resource an operation needs."""


@dataclass(frozen=True)
class Call:
    action: str  # e.g. "dynamodb:Query"
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    # Condition keys the service sets on the request, e.g. ses:Recipients (multi-valued).
    context: tuple[tuple[str, str | tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class QueryPlace:
    """Where Athena reads and writes, with the caller's credentials, for a query in one
    workgroup: the workgroup's result location and each table's data location."""

    output: str  # s3://bucket/prefix/
    tables: Mapping[str, str]  # "database/table" → s3://bucket/prefix/ of its data


@dataclass(frozen=True)
class Where:
    """The account and region requests are made in, and how names become ARNs."""

    region: str
    account: str
    secret_arn: Callable[[str], str]  # a secret's name or ARN → its ARN
    email_identity: Callable[[str], str]  # a From address → the SES identity that sends it
    # An SMS origination identity as sent (number, id or ARN) → its End User Messaging ARN.
    sms_identity: Callable[[str], str]
    # Athena, for a world whose functions query: a workgroup → where its queries read and
    # write; a query execution id → the workgroup it ran in.
    query_place: Callable[[str], QueryPlace] | None = None
    query_workgroup: Callable[[str], str] | None = None


Resolve = Callable[[Mapping[str, Any], Where], list[Call]]


def calls_for(service: str, operation: str, params: Mapping[str, Any], where: Where) -> list[Call]:
    """Every (action, resource) IAM evaluates for one API call; all must be allowed."""
    resolve = _OPERATIONS.get((service, operation))
    if resolve is None:
        raise UnmodelledCall(
            f"{service}.{operation}: the local world does not know its IAM action and resource; "
            "add it to rung/access/requests.py"
        )
    return resolve(params, where)


# ------------------------------------------------------------------------------- DynamoDB


def _table_arn(where: Where, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{where.region}:{where.account}:table/{table}"


def _dynamodb(action: str) -> Resolve:
    def resolve(params: Mapping[str, Any], where: Where) -> list[Call]:
        arn = _table_arn(where, params["TableName"])
        if params.get("IndexName"):
            arn = f"{arn}/index/{params['IndexName']}"
        return [Call(f"dynamodb:{action}", arn)]

    return resolve


def _batch_write(params: Mapping[str, Any], where: Where) -> list[Call]:
    # BatchWriteItem is authorised per table as dynamodb:BatchWriteItem.
    return [
        Call("dynamodb:BatchWriteItem", _table_arn(where, table))
        for table in sorted(params["RequestItems"])
    ]


def _batch_get(params: Mapping[str, Any], where: Where) -> list[Call]:
    return [
        Call("dynamodb:BatchGetItem", _table_arn(where, table))
        for table in sorted(params["RequestItems"])
    ]


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _transact(params: Mapping[str, Any], where: Where) -> list[Call]:
    # Each item of a transaction is authorised as its own action on its own table.
    calls = []
    for item in params["TransactItems"]:
        ((kind, body),) = item.items()
        calls.append(
            Call(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(where, body["TableName"]))
        )
    return calls


# ------------------------------------------------------------------------------------- S3


def _object(action: str) -> Resolve:
    def resolve(params: Mapping[str, Any], where: Where) -> list[Call]:
        return [Call(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]

    return resolve


def _list_objects(params: Mapping[str, Any], where: Where) -> list[Call]:
    """Listing is s3:ListBucket on the bucket; the prefix listed is the s3:prefix key."""
    context = (("s3:prefix", str(params.get("Prefix", ""))),)
    return [Call("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", context)]


# ------------------------------------------------------------------------------------ SES


def _send_email(params: Mapping[str, Any], where: Where) -> list[Call]:
    """SES authorises SendEmail on the sending identity and on the configuration set used."""
    identity = params.get("FromEmailAddressIdentityArn") or (
        f"arn:aws:ses:{where.region}:{where.account}:identity/"
        f"{where.email_identity(params['FromEmailAddress'])}"
    )
    destination = params.get("Destination", {})
    recipients = tuple(
        address
        for field in ("ToAddresses", "CcAddresses", "BccAddresses")
        for address in destination.get(field, [])
    )
    context = (("ses:Recipients", recipients),)
    calls = [Call("ses:SendEmail", identity, context)]
    if params.get("ConfigurationSetName"):
        calls.append(
            Call(
                "ses:SendEmail",
                f"arn:aws:ses:{where.region}:{where.account}:configuration-set/"
                f"{params['ConfigurationSetName']}",
                context,
            )
        )
    return calls


# ------------------------------------------------------------------- End User Messaging SMS


def _sms_voice_arn(where: Where, resource_type: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:sms-voice:{where.region}:{where.account}:{resource_type}/{name}"


def _send_text(params: Mapping[str, Any], where: Where) -> list[Call]:
    """SendTextMessage is authorised on the origination identity (phone number, pool or sender
    ID) and on the configuration set named."""
    calls = []
    if params.get("OriginationIdentity"):
        calls.append(
            Call("sms-voice:SendTextMessage", where.sms_identity(params["OriginationIdentity"]))
        )
    if params.get("ConfigurationSetName"):
        calls.append(
            Call(
                "sms-voice:SendTextMessage",
                _sms_voice_arn(where, "configuration-set", params["ConfigurationSetName"]),
            )
        )
    return calls or [Call("sms-voice:SendTextMessage", "*")]


def _opted_out_number(action: str) -> Resolve:
    def resolve(params: Mapping[str, Any], where: Where) -> list[Call]:
        return [
            Call(
                f"sms-voice:{action}",
                _sms_voice_arn(where, "opt-out-list", params["OptOutListName"]),
            )
        ]

    return resolve


# ------------------------------------------------------------------------------------ SNS


def _publish(params: Mapping[str, Any], where: Where) -> list[Call]:
    """Publish is authorised on its target: a push endpoint's ARN (or a topic's)."""
    return [Call("sns:Publish", params.get("TargetArn") or params["TopicArn"])]


# ------------------------------------------------------------------ Step Functions, Lambda


def _states(action: str, key: str) -> Resolve:
    def resolve(params: Mapping[str, Any], where: Where) -> list[Call]:
        return [Call(f"states:{action}", params[key])]

    return resolve


def _invoke(params: Mapping[str, Any], where: Where) -> list[Call]:
    name = params["FunctionName"]
    arn = (
        name
        if name.startswith("arn:")
        else f"arn:aws:lambda:{where.region}:{where.account}:function:{name}"
    )
    return [Call("lambda:InvokeFunction", arn)]


def _secret(params: Mapping[str, Any], where: Where) -> list[Call]:
    return [Call("secretsmanager:GetSecretValue", where.secret_arn(params["SecretId"]))]


# ---------------------------------------------------------------------------------- Athena


def _athena_where(where: Where) -> tuple[Callable[[str], QueryPlace], Callable[[str], str]]:
    if where.query_place is None or where.query_workgroup is None:
        raise UnmodelledCall("athena: this local world does not say where queries read and write")
    return where.query_place, where.query_workgroup


def _workgroup_arn(where: Where, workgroup: str) -> str:
    return f"arn:aws:athena:{where.region}:{where.account}:workgroup/{workgroup}"


def _s3_location(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def _start_query(params: Mapping[str, Any], where: Where) -> list[Call]:
    """StartQueryExecution is authorised on the workgroup; Athena then reads the catalog and
    the data and writes the results with the caller's credentials (every table of the query's
    database, over-approximating the tables a query names)."""
    query_place, _ = _athena_where(where)
    workgroup = params.get("WorkGroup", "primary")
    place = query_place(workgroup)
    database = params["QueryExecutionContext"]["Database"]
    glue = f"arn:aws:glue:{where.region}:{where.account}"
    calls = [
        Call("athena:StartQueryExecution", _workgroup_arn(where, workgroup)),
        Call("glue:GetDatabase", f"{glue}:catalog"),
        Call("glue:GetDatabase", f"{glue}:database/{database}"),
    ]
    for table, location in sorted(place.tables.items()):
        if not table.startswith(f"{database}/"):
            continue
        for action in ("glue:GetTable", "glue:GetPartitions"):
            calls += [
                Call(action, f"{glue}:catalog"),
                Call(action, f"{glue}:database/{database}"),
                Call(action, f"{glue}:table/{table}"),
            ]
        bucket, prefix = _s3_location(location)
        calls += [
            Call("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"),
            Call("s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", prefix),)),
            Call("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}"),
        ]
    bucket, prefix = _s3_location(place.output)
    calls += [
        Call("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"),
        Call("s3:PutObject", f"arn:aws:s3:::{bucket}/{prefix}"),
    ]
    return calls


def _query_execution(params: Mapping[str, Any], where: Where) -> list[Call]:
    _, query_workgroup = _athena_where(where)
    workgroup = query_workgroup(params["QueryExecutionId"])
    return [Call("athena:GetQueryExecution", _workgroup_arn(where, workgroup))]


def _query_results(params: Mapping[str, Any], where: Where) -> list[Call]:
    """GetQueryResults is authorised on the workgroup; Athena reads the result object with the
    caller's credentials."""
    query_place, query_workgroup = _athena_where(where)
    workgroup = query_workgroup(params["QueryExecutionId"])
    bucket, prefix = _s3_location(query_place(workgroup).output)
    return [
        Call("athena:GetQueryResults", _workgroup_arn(where, workgroup)),
        Call("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}"),
    ]


_OPERATIONS: Mapping[tuple[str, str], Resolve] = {
    ("dynamodb", "GetItem"): _dynamodb("GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("DeleteItem"),
    ("dynamodb", "Query"): _dynamodb("Query"),
    ("dynamodb", "Scan"): _dynamodb("Scan"),
    ("dynamodb", "DescribeTable"): _dynamodb("DescribeTable"),
    ("dynamodb", "BatchWriteItem"): _batch_write,
    ("dynamodb", "BatchGetItem"): _batch_get,
    ("dynamodb", "TransactWriteItems"): _transact,
    ("dynamodb", "TransactGetItems"): _transact,
    # HeadObject is authorised as s3:GetObject.
    ("s3", "GetObject"): _object("GetObject"),
    ("s3", "HeadObject"): _object("GetObject"),
    ("s3", "PutObject"): _object("PutObject"),
    ("s3", "ListObjectsV2"): _list_objects,
    ("pinpoint-sms-voice-v2", "SendTextMessage"): _send_text,
    ("pinpoint-sms-voice-v2", "DeleteOptedOutNumber"): _opted_out_number("DeleteOptedOutNumber"),
    ("sesv2", "SendEmail"): _send_email,
    ("sns", "Publish"): _publish,
    ("stepfunctions", "StartExecution"): _states("StartExecution", "stateMachineArn"),
    ("stepfunctions", "StopExecution"): _states("StopExecution", "executionArn"),
    ("stepfunctions", "DescribeExecution"): _states("DescribeExecution", "executionArn"),
    ("stepfunctions", "RedriveExecution"): _states("RedriveExecution", "executionArn"),
    ("stepfunctions", "ListExecutions"): _states("ListExecutions", "stateMachineArn"),
    ("lambda", "Invoke"): _invoke,
    ("secretsmanager", "GetSecretValue"): _secret,
    ("athena", "StartQueryExecution"): _start_query,
    ("athena", "GetQueryExecution"): _query_execution,
    ("athena", "GetQueryResults"): _query_results,
}
