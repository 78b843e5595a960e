"""Analytics: the record of everything that happened, as Parquet on S3, queried by Athena.

DynamoDB Streams on the accounts, audit and ledger tables → the analytics function (pure
mapping in functions.core.analytics) → a Firehose stream that converts the JSON events to
Parquet with the Glue table's schema and partitions them by lender and date → the encrypted
analytics bucket. The Glue table projects its partitions (no crawler, no MSCK REPAIR), and the
Athena workgroup enforces its encrypted result location. Definitions: docs/kpis.md.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from functions.core.analytics import COLUMNS, PARTITIONS
from functions.observability import METRICS_NAMESPACE
from infra.bundling import lambda_code
from infra.components.nag import acknowledge, logical_id
from infra.components.storage import Storage
from infra.paths import PROJECT_ROOT
from infra.stack_config import RungStackConfig

EVENTS_PREFIX = "events/"
ERRORS_PREFIX = "errors/"
RESULTS_PREFIX = "athena-results/"
TABLE_NAME = "events"
HANDLER = "functions.analytics.handler.handler"
# Firehose's dynamic partitioning needs a buffer of at least 64 MiB; 300 s is its longest wait
# (AWS Firehose quotas): fewer, larger Parquet files, events queryable within five minutes.
BUFFER_MIB = 64
BUFFER_SECONDS = 300
# Our choice: query results are copies of KPI tables, not a record; a week is enough to
# download them again.
RESULTS_DAYS = 7
# Our choice: a batch of 100 stream records maps in well under a second; a record that keeps
# failing is split off (bisect) and, after three tries, sent to the dead-letter queue.
STREAM_BATCH = 100
STREAM_RETRIES = 3
# Partition projection starts here: the first day the analytics record can hold.
PROJECTION_START = "2026-01-01"


class Analytics(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RungStackConfig,
        storage: Storage,
        dead_letters: sqs.IQueue,
        powertools_layer_parameter: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "AnalyticsKey",
            description="Rung: the analytics record and Athena query results",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Records",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.access_logs,
            server_access_logs_prefix="analytics-bucket/",
            lifecycle_rules=[
                # Pseudonymous data is still personal data: the record keeps the retention.
                s3.LifecycleRule(
                    id="retention", expiration=Duration.days(config.retention.data_days)
                ),
                s3.LifecycleRule(
                    id="query-results",
                    prefix=RESULTS_PREFIX,
                    expiration=Duration.days(RESULTS_DAYS),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.database_name = f"{stack.stack_name}_analytics".lower().replace("-", "_")
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="Rung: the analytics record (events), for the KPI queries",
            ),
        )
        location = f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"
        self.table = glue.CfnTable(
            self,
            "Events",
            catalog_id=stack.account,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE_NAME,
                table_type="EXTERNAL_TABLE",
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in PARTITIONS
                ],
                parameters={
                    "classification": "parquet",
                    # Partitions are computed from the query, never registered.
                    "projection.enabled": "true",
                    "projection.lender.type": "enum",
                    "projection.lender.values": ",".join(_lender_ids()),
                    "projection.date.type": "date",
                    "projection.date.format": "yyyy-MM-dd",
                    "projection.date.range": f"{PROJECTION_START},NOW",
                    "projection.date.interval": "1",
                    "projection.date.interval.unit": "DAYS",
                    "storage.location.template": f"{location}lender=${{lender}}/date=${{date}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in COLUMNS
                    ],
                    location=location,
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=(
                            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                        )
                    ),
                ),
            ),
        )
        self.table.node.add_dependency(database)

        self.delivery_stream = self._firehose(stack, config)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=f"{stack.stack_name}-kpis",
            description="Rung: the KPI queries (rung kpis --athena)",
            state="ENABLED",
            # The stack's own workgroup: deleting the stack may delete its saved queries.
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.key.key_arn
                    ),
                ),
            ),
        )
        self.function = self._function(
            stack, config, storage, dead_letters, powertools_layer_parameter
        )

    # ---------------------------------------------------------------------------- KPI queries

    def grant_kpi_queries(self, role: iam.IRole) -> None:
        """What running the KPI queries in the workgroup takes (the console's KPIs page): the
        Athena calls, and what Athena then does with the caller's credentials (read the Glue
        table and the events under it, write and read the results, with the key)."""
        stack = Stack.of(self)
        workgroup = stack.format_arn(
            service="athena", resource="workgroup", resource_name=self.workgroup.ref
        )
        statements = (
            (
                [
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                ],
                [workgroup],
            ),
            (
                ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                [
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(
                        service="glue", resource="database", resource_name=self.database_name
                    ),
                    stack.format_arn(
                        service="glue",
                        resource="table",
                        resource_name=f"{self.database_name}/{TABLE_NAME}",
                    ),
                ],
            ),
            (["s3:ListBucket", "s3:GetBucketLocation"], [self.bucket.bucket_arn]),
            (["s3:GetObject"], [self.bucket.arn_for_objects(f"{EVENTS_PREFIX}*")]),
            (
                ["s3:GetObject", "s3:PutObject"],
                [self.bucket.arn_for_objects(f"{RESULTS_PREFIX}*")],
            ),
            (["kms:Decrypt", "kms:GenerateDataKey"], [self.key.key_arn]),
        )
        for actions, resources in statements:
            role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        bucket = logical_id(self.bucket)
        for prefix, why in (
            (EVENTS_PREFIX, "Athena reads the events of every lender and day the queries scan"),
            (RESULTS_PREFIX, "Athena writes each query's results under a name it chooses"),
        ):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{prefix}*]",
                f"{why}; the grant stops at the analytics bucket's {prefix} prefix.",
            )

    # ------------------------------------------------------------------------------ firehose

    def _firehose(self, stack: Stack, config: RungStackConfig) -> firehose.CfnDeliveryStream:
        role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
            description="Rung analytics Firehose: write Parquet to the analytics bucket",
        )
        log_group = logs.LogGroup(
            self, "DeliveryLogs", retention=config.retention.log_retention_days
        )
        log_stream = logs.LogStream(self, "DeliveryErrors", log_group=log_group)
        self.bucket.grant_read_write(role)
        self.key.grant_encrypt_decrypt(role)
        log_group.grant_write(role)
        glue_arns = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
            stack.format_arn(
                service="glue", resource="table", resource_name=f"{self.database_name}/{TABLE_NAME}"
            ),
        ]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                resources=glue_arns,
            )
        )
        stream = firehose.CfnDeliveryStream(
            self,
            "Delivery",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=(
                firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                    key_type="AWS_OWNED_CMK"
                )
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=(
                    f"{EVENTS_PREFIX}lender=!{{partitionKeyFromQuery:lender}}/"
                    "date=!{partitionKeyFromQuery:date}/"
                ),
                error_output_prefix=(
                    f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/!{{timestamp:yyyy-MM-dd}}/"
                ),
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    size_in_m_bs=BUFFER_MIB, interval_in_seconds=BUFFER_SECONDS
                ),
                # Parquet compresses its own pages (Snappy); Firehose must not wrap it again.
                compression_format="UNCOMPRESSED",
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=self.key.key_arn
                    )
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="MetadataExtractionQuery",
                                    parameter_value="{lender: .lender, date: .date}",
                                ),
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="JsonParsingEngine",
                                    parameter_value="JQ-1.6",
                                ),
                            ],
                        )
                    ],
                ),
                data_format_conversion_configuration=firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
                        deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                            hive_json_ser_de=firehose.CfnDeliveryStream.HiveJsonSerDeProperty()
                        )
                    ),
                    output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
                        serializer=firehose.CfnDeliveryStream.SerializerProperty(
                            parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(
                                compression="SNAPPY"
                            )
                        )
                    ),
                    schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
                        catalog_id=stack.account,
                        database_name=self.database_name,
                        table_name=TABLE_NAME,
                        region=stack.region,
                        role_arn=role.role_arn,
                        version_id="LATEST",
                    ),
                ),
            ),
        )
        stream.node.add_dependency(role)
        stream.node.add_dependency(self.table)
        for action in (
            "s3:Abort*",
            "s3:DeleteObject*",
            "s3:GetBucket*",
            "s3:GetObject*",
            "s3:List*",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        ):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's read-write grant on the analytics bucket and its key, which Firehose "
                "needs to write, retry and clean up multipart Parquet uploads; scoped to that "
                "bucket and key only.",
            )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/*]",
            "Firehose writes objects under partition prefixes computed per record "
            "(lender, date); the grant covers this one bucket's objects.",
        )
        return stream

    # ------------------------------------------------------------------------------ function

    def _function(
        self,
        stack: Stack,
        config: RungStackConfig,
        storage: Storage,
        dead_letters: sqs.IQueue,
        powertools_layer_parameter: str,
    ) -> lambda_.Function:
        self.key_secret = secretsmanager.Secret(
            self,
            "AccountKeySecret",
            description="Rung: HMAC key of the pseudonymous account keys in the analytics record",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.key_secret,
            "AwsSolutions-SMG4",
            "Rotating this key would give every account a new pseudonymous key, so events "
            "before and after could no longer be joined; the key never leaves Secrets Manager "
            "and the analytics function.",
        )
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Rung analytics function: exactly what it needs, nothing else",
        )
        log_group = logs.LogGroup(
            self, "FunctionLogs", retention=config.retention.log_retention_days
        )
        log_group.grant_write(role)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, powertools_layer_parameter),
        )
        tables = {
            "RUNG_ACCOUNTS_TABLE": storage.accounts,
            "RUNG_AUDIT_TABLE": storage.audit,
            "RUNG_LEDGER_TABLE": storage.ledger,
        }
        function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime(f"python{config.lambda_python}", lambda_.RuntimeFamily.PYTHON),
            architecture=lambda_.Architecture.X86_64,
            code=lambda_code(config.lambda_python),
            handler=HANDLER,
            description="Table changes (DynamoDB Streams) to analytics events, into Firehose",
            memory_size=256,
            timeout=Duration.seconds(60),
            role=role,
            layers=[layer],
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **{name: table.table_name for name, table in tables.items()},
                "RUNG_ANALYTICS_STREAM": self.delivery_stream.ref,
                "RUNG_ANALYTICS_KEY_SECRET_ARN": self.key_secret.secret_arn,
                "POWERTOOLS_SERVICE_NAME": config.service_name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
            },
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecordBatch"],
                resources=[self.delivery_stream.attr_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[self.key_secret.secret_arn]
            )
        )
        # Who holds the address a reply came from (the accounts table's address indexes).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[
                    f"{storage.accounts.table_arn}/index/{index}"
                    for index in ("by_phone", "by_email")
                ],
            )
        )
        dead_letters.grant_send_messages(role)
        for name, table in tables.items():
            cfn = table.node.default_child
            assert isinstance(cfn, dynamodb.CfnTable)
            cfn.stream_specification = dynamodb.CfnTable.StreamSpecificationProperty(
                stream_view_type="NEW_AND_OLD_IMAGES"
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                    ],
                    resources=[cfn.attr_stream_arn],
                )
            )
            lambda_.EventSourceMapping(
                self,
                f"{name.removeprefix('RUNG_').removesuffix('_TABLE').title()}Changes",
                target=function,
                event_source_arn=cfn.attr_stream_arn,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=STREAM_BATCH,
                bisect_batch_on_error=True,
                retry_attempts=STREAM_RETRIES,
                on_failure=event_sources.SqsDlq(dead_letters),
            )
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=["*"]))
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "DynamoDB ListStreams and X-Ray PutTraceSegments/PutTelemetryRecords support no "
            "resource-level permissions.",
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's grant for sending failed stream batches to the KMS-encrypted "
                "dead-letter queue; scoped to the messaging key only.",
            )
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to python{config.lambda_python}, the runtime the Powertools layer and the "
            "bundled wheels are chosen and tested for; upgrading is one cdk.json value.",
        )
        return function


def _lender_ids() -> list[str]:
    """The lenders the code ships configuration for (config/lenders/ID.yaml): the values of
    the `lender` partition."""
    return sorted(path.stem for path in (PROJECT_ROOT / "config" / "lenders").glob("*.yaml"))
