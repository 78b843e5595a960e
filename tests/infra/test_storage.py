"""Storage: the uploads bucket and the eight tables follow their fixed schemas."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.retention import load_retention
from infra.paths import PROJECT_ROOT
from infra.stack_config import CONTEXT_KEY, RungStackConfig, cdk_json_context
from tests.infra.conftest import Synthesized, as_list, logical_id

CONFIG = RungStackConfig.from_context(cdk_json_context()[CONTEXT_KEY])


def test_uploads_bucket_encrypted_versioned_private_and_logged(synthesized: Synthesized) -> None:
    # Given the synthesised stack / When we read the uploads bucket
    storage = synthesized.stack.storage
    bucket = synthesized.resource(storage.bucket)["Properties"]
    # Then it is KMS-encrypted with Rung's key, versioned, private and access-logged
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [logical_id(storage.key), "Arn"]},
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": logical_id(storage.access_logs)
    }


def test_uploads_bucket_lifecycle_applies_configured_retention(synthesized: Synthesized) -> None:
    # Given the retention (docs/compliance.md, Personal data) configured in cdk.json
    bucket = synthesized.resource(synthesized.stack.storage.bucket)["Properties"]
    # When we read the lifecycle rules / Then current and old versions both expire
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["retention"]["ExpirationInDays"] == CONFIG.retention.data_days
    assert (
        rules["retention"]["NoncurrentVersionExpiration"]["NoncurrentDays"]
        == CONFIG.retention.noncurrent_version_days
    )
    assert rules["delete-markers"]["ExpiredObjectDeleteMarker"] is True


@pytest.mark.parametrize("bucket_attr", ["bucket", "access_logs"])
def test_buckets_deny_requests_without_tls(synthesized: Synthesized, bucket_attr: str) -> None:
    # Given a bucket of the stack
    bucket_id = logical_id(getattr(synthesized.stack.storage, bucket_attr))
    # When we find its bucket policy
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in synthesized.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    # Then plain-HTTP requests are denied
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_bucket_notifies_schedule_for_uploads_and_payments_only(synthesized: Synthesized) -> None:
    # Given the bucket notification custom resource
    (notifications,) = synthesized.resources("Custom::S3BucketNotifications").values()
    configs = notifications["Properties"]["NotificationConfiguration"][
        "LambdaFunctionConfigurations"
    ]
    # When we read prefix filters and targets
    schedule_arn = {"Fn::GetAtt": [logical_id(synthesized.stack.functions.schedule), "Arn"]}
    prefixes = set()
    for config in configs:
        assert config["Events"] == ["s3:ObjectCreated:*"]
        assert config["LambdaFunctionArn"] == schedule_arn
        (rule,) = config["Filter"]["Key"]["FilterRules"]
        prefixes.add((rule["Name"], rule["Value"]))
    # Then exactly uploads/ and payments/ trigger the schedule function (not rejects/)
    assert prefixes == {("prefix", "uploads/"), ("prefix", "payments/")}


TABLES: dict[str, dict[str, Any]] = {
    # attribute -> (keys, GSIs {name: keys}, TTL attribute); the schemas of docs/design.md, Data
    "accounts": {
        "keys": [("pk", "HASH")],
        "gsi": {"by_phone": [("phone", "HASH")], "by_email": [("email", "HASH")]},
        "ttl": "expires_at",  # closed accounts expire after the retention (docs/compliance.md)
    },
    "suppressions": {"keys": [("pk", "HASH")]},
    "ledger": {
        "keys": [("pk", "HASH"), ("sk", "RANGE")],
        "gsi": {
            "by_address": [("address", "HASH"), ("attempted_at", "RANGE")],
            "by_message": [("provider_message_id", "HASH")],
        },
        "ttl": "expires_at",  # attempts a records retention after them; counters in days
    },
    "audit": {"keys": [("pk", "HASH"), ("sk", "RANGE")], "ttl": "expires_at"},
    "templates": {"keys": [("pk", "HASH"), ("sk", "RANGE")]},
    "uploads": {"keys": [("pk", "HASH")], "ttl": "expires_at"},
    "inbound": {"keys": [("pk", "HASH")], "ttl": "expires_at"},
    "reviews": {"keys": [("pk", "HASH")], "ttl": "expires_at"},
}


def test_stack_has_exactly_the_eight_tables(synthesized: Synthesized) -> None:
    # Given / When / Then: one table per schema of docs/design.md (Data), no more
    assert len(synthesized.resources("AWS::DynamoDB::Table")) == len(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_matches_fixed_schema(synthesized: Synthesized, name: str) -> None:
    # Given the expected schema of one table
    expected = TABLES[name]
    # When we read the synthesised table
    resource = synthesized.resource(getattr(synthesized.stack.storage, name))
    table = resource["Properties"]
    # Then keys, GSIs, TTL, billing, encryption, PITR and retention match
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == expected["keys"]
    indexes = {
        gsi["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"]]
        for gsi in table.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == expected.get("gsi", {})
    assert all(
        gsi["Projection"] == {"ProjectionType": "ALL"}
        for gsi in table.get("GlobalSecondaryIndexes", [])
    )
    assert {a["AttributeType"] for a in table["AttributeDefinitions"]} == {"S"}
    ttl = table.get("TimeToLiveSpecification")
    assert ttl == (
        {"AttributeName": expected["ttl"], "Enabled": True} if "ttl" in expected else None
    )
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert resource["DeletionPolicy"] == "Retain"
    assert as_list(resource["UpdateReplacePolicy"]) == ["Retain"]


def test_every_table_states_its_retention(synthesized: Synthesized) -> None:
    # Given config/retention.yaml's line per table (keep + reason)
    retention = load_retention(PROJECT_ROOT)
    # Then it names exactly the stack's tables ...
    assert set(retention.tables) == set(TABLES)
    for name, stated in retention.tables.items():
        table = synthesized.resource(getattr(synthesized.stack.storage, name))["Properties"]
        # ... and a table TTL deletes from is exactly one the configuration says expires
        assert ("TimeToLiveSpecification" in table) is stated.expires, name


def test_personal_data_tables_without_ttl_say_why_they_keep_it() -> None:
    retention = load_retention(PROJECT_ROOT)
    forever = {n for n, t in retention.tables.items() if t.personal_data and not t.expires}
    assert forever == {"suppressions"}
    assert "opt-out must last" in retention.tables["suppressions"].reason
