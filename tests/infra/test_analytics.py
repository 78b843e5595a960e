"""The analytics path in the synthesized stack: streams → function → Firehose (Parquet) → S3,
the Glue table over it and the Athena workgroup (cdk-nag clean: the shared synth fails
otherwise)."""

from __future__ import annotations

from typing import Any

from functions.core.analytics import COLUMNS, PARTITIONS
from functions.settings import AnalyticsSettings
from tests.infra.conftest import Synthesized, arn_of, logical_id, resources_for, role_actions


def _one(synthesized: Synthesized, resource_type: str) -> dict[str, Any]:
    (resource,) = synthesized.resources(resource_type).values()
    return resource


def test_analytics_glue_table_has_the_event_columns_and_projected_partitions(
    synthesized: Synthesized,
) -> None:
    table = _one(synthesized, "AWS::Glue::Table")["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == list(COLUMNS)
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == list(PARTITIONS)
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert "demo" in parameters["projection.lender.values"].split(",")
    assert parameters["projection.date.format"] == "yyyy-MM-dd"
    assert "ParquetHiveSerDe" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]


def test_analytics_firehose_writes_parquet_partitioned_by_lender_and_date(
    synthesized: Synthesized,
) -> None:
    stream = _one(synthesized, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    destination = stream["ExtendedS3DestinationConfiguration"]
    bucket = synthesized.stack.analytics.bucket
    assert destination["BucketARN"] == arn_of(bucket)
    prefix = destination["Prefix"]
    assert prefix.startswith("events/lender=!{partitionKeyFromQuery:lender}/")
    assert "date=!{partitionKeyFromQuery:date}/" in prefix
    assert destination["DynamicPartitioningConfiguration"] == {"Enabled": True}
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert "ParquetSerDe" in conversion["OutputFormatConfiguration"]["Serializer"]
    schema = conversion["SchemaConfiguration"]
    assert schema["TableName"] == "events"
    assert destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"] == (
        arn_of(synthesized.stack.analytics.key)
    )
    assert destination["BufferingHints"]["SizeInMBs"] >= 64  # dynamic partitioning's minimum
    assert stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "AWS_OWNED_CMK"


def test_analytics_bucket_is_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    bucket = synthesized.resource(synthesized.stack.analytics.bucket)["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    policies = synthesized.resources("AWS::S3::BucketPolicy").values()
    bucket_id = logical_id(synthesized.stack.analytics.bucket)
    (policy,) = [p for p in policies if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_analytics_athena_workgroup_enforces_encrypted_results(synthesized: Synthesized) -> None:
    config = _one(synthesized, "AWS::Athena::WorkGroup")["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    results = config["ResultConfiguration"]
    assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    bucket_id = logical_id(synthesized.stack.analytics.bucket)
    assert bucket_id in str(results["OutputLocation"])


def test_analytics_streams_of_accounts_audit_and_ledger_feed_the_function(
    synthesized: Synthesized,
) -> None:
    storage, analytics = synthesized.stack.storage, synthesized.stack.analytics
    streamed = (storage.accounts, storage.audit, storage.ledger)
    for table in streamed:
        spec = synthesized.resource(table)["Properties"]["StreamSpecification"]
        assert spec == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    mappings = synthesized.resources("AWS::Lambda::EventSourceMapping").values()
    sources = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        for m in mappings
        if m["Properties"]["FunctionName"] == {"Ref": logical_id(analytics.function)}
    }
    assert sources == {logical_id(table) for table in streamed}
    # The other tables (templates, suppressions, …) have no stream.
    assert "StreamSpecification" not in synthesized.resource(storage.templates)["Properties"]


def test_analytics_function_may_only_read_streams_and_put_to_its_firehose(
    synthesized: Synthesized,
) -> None:
    analytics = synthesized.stack.analytics
    role = analytics.function.role
    assert role is not None
    actions = role_actions(synthesized, role)
    assert not {a for a in actions if a.startswith("dynamodb:") and ("Put" in a or "Update" in a)}
    assert not {a for a in actions if a.startswith("s3:")}
    assert resources_for(synthesized, role, "firehose:PutRecordBatch") == [
        {"Fn::GetAtt": [logical_id(analytics.delivery_stream), "Arn"]}
    ]
    environment = synthesized.resource(analytics.function)["Properties"]["Environment"]
    assert AnalyticsSettings.variables() - {"RUNG_CONFIG_ROOT"} <= set(environment["Variables"])


def test_analytics_outputs_name_the_workgroup_and_database(synthesized: Synthesized) -> None:
    outputs = synthesized.template["Outputs"]
    assert {"AnalyticsWorkgroupName", "AnalyticsDatabaseName", "AnalyticsBucketName"} <= set(
        outputs
    )
