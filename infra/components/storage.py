"""Storage: the lender-file bucket and the DynamoDB tables (schemas: docs/design.md, Data)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.nag import acknowledge
from infra.stack_config import RetentionConfig

UPLOADS_PREFIX = "uploads/"
PAYMENTS_PREFIX = "payments/"
REJECTS_PREFIX = "rejects/"  # reject reports, written by the schedule function
TTL_ATTRIBUTE = "expires_at"
# Stray multipart parts hold lender data too (docs/compliance.md, Personal data) and are never
# useful after a week.
INCOMPLETE_UPLOAD_DAYS = 7


class Storage(Construct):
    """Uploads bucket (+ its access-log bucket) and the seven data tables."""

    def __init__(self, scope: Construct, construct_id: str, *, retention: RetentionConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "DataKey",
            description="Rung: lender files and reject reports in the uploads bucket",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging can only deliver to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention.data_days))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log target of the uploads bucket; logging it into itself "
            "would loop.",
        )
        self.bucket = s3.Bucket(
            self,
            "Uploads",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="uploads-bucket/",
            lifecycle_rules=[
                # docs/compliance.md, Personal data: lender files and reject reports hold personal
                # data; they go after the configured retention, and so do their older versions.
                s3.LifecycleRule(
                    id="retention",
                    expiration=Duration.days(retention.data_days),
                    noncurrent_version_expiration=Duration.days(retention.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
                ),
                s3.LifecycleRule(id="delete-markers", expired_object_delete_marker=True),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

        # Closed accounts (PAID, COMPLETED) expire after the retention
        # (docs/compliance.md, Personal data).
        self.accounts = self._table("Accounts", "pk", ttl=TTL_ATTRIBUTE)
        for index, attribute in (("by_phone", "phone"), ("by_email", "email")):
            self.accounts.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(
                    name=attribute, type=dynamodb.AttributeType.STRING
                ),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        # No TTL: an opt-out must last (config/retention.yaml says why, per table).
        self.suppressions = self._table("Suppressions", "pk")
        # TTL removes send-slot counters (functions.core.pacing) two days after their minute,
        # and attempts a records retention after them (config/retention.yaml).
        self.ledger = self._table("Ledger", "pk", sort_key="sk", ttl=TTL_ATTRIBUTE)
        self.ledger.add_global_secondary_index(
            index_name="by_address",
            partition_key=dynamodb.Attribute(name="address", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="attempted_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Delivery receipts name the provider's message id (sparse: only completed sends).
        self.ledger.add_global_secondary_index(
            index_name="by_message",
            partition_key=dynamodb.Attribute(
                name="provider_message_id", type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.audit = self._table("Audit", "pk", sort_key="sk", ttl=TTL_ATTRIBUTE)
        self.templates = self._table("Templates", "pk", sort_key="sk")
        self.uploads = self._table("UploadsLog", "pk", ttl=TTL_ATTRIBUTE)
        self.inbound = self._table("Inbound", "pk", ttl=TTL_ATTRIBUTE)
        # Borrower replies a person must look at (functions/core/review.py): `pk` = review id;
        # a resolved item expires after the retention (it holds the reply as written).
        self.reviews = self._table("Reviews", "pk", ttl=TTL_ATTRIBUTE)

    def _table(
        self,
        construct_id: str,
        partition_key: str,
        *,
        sort_key: str | None = None,
        ttl: str | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(
                name=partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=(
                dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING)
                if sort_key
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ttl,
            removal_policy=RemovalPolicy.RETAIN,
        )
