"""Lender access: each lender writes its own files and reads its own reject reports, nothing else.

Per lender in cdk.json's `lender_access`, one customer-managed policy scoped to that lender's
prefixes of the uploads bucket, attached to
- an upload role the lender's AWS account may assume with the agreed external id, and
- when `sftp.enabled`, the role of its user on an AWS Transfer Family SFTP server, whose logical
  home directory shows the same three prefixes as `/uploads`, `/payments` and `/rejects`.
Objects are written under `uploads/{lender}/` and `payments/{lender}/`, where the bucket's
notifications start the schedule function exactly as for any other upload.
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_transfer as transfer
from constructs import Construct

from infra.components.nag import acknowledge, logical_id
from infra.components.storage import PAYMENTS_PREFIX, REJECTS_PREFIX, UPLOADS_PREFIX, Storage
from infra.stack_config import LenderAccessConfig, RetentionConfig, SftpConfig

WRITABLE_PREFIXES = (UPLOADS_PREFIX, PAYMENTS_PREFIX)  # where a lender delivers files
READABLE_PREFIXES = (UPLOADS_PREFIX, PAYMENTS_PREFIX, REJECTS_PREFIX)  # its own files, reports
OWN_PREFIX_REASON = (
    "Object ARNs end in the lender's own prefix followed by `*` (any file name under "
    "uploads/{lender}/, payments/{lender}/, rejects/{lender}/); nothing outside them."
)
KMS_VIA_S3_REASON = (
    "S3 calls the bucket key on the lender's behalf (SSE-KMS): GenerateDataKey* for writes and "
    "multipart uploads, Decrypt for reads, only through S3 (kms:ViaService)."
)


def lender_prefixes(lender_id: str, prefixes: tuple[str, ...]) -> list[str]:
    return [f"{prefix}{lender_id}/" for prefix in prefixes]


class LenderAccess(Construct):
    """Upload roles per lender and, optionally, the SFTP server with one user per lender."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lenders: dict[str, LenderAccessConfig],
        sftp: SftpConfig,
        storage: Storage,
        retention: RetentionConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.policies: dict[str, iam.ManagedPolicy] = {}
        self.upload_roles: dict[str, iam.Role] = {}
        self.sftp_roles: dict[str, iam.Role] = {}
        self.server: transfer.CfnServer | None = None
        for lender_id, access in sorted(lenders.items()):
            policy = self._policy(lender_id, storage)
            self.policies[lender_id] = policy
            self.upload_roles[lender_id] = iam.Role(
                self,
                f"UploadRole-{lender_id}",
                description=f"Rung: lender {lender_id} delivers files and reads its reject reports",
                assumed_by=iam.AccountPrincipal(access.account_id).with_conditions(
                    {"StringEquals": {"sts:ExternalId": access.external_id}}
                ),
                managed_policies=[policy],
            )
        if sftp.enabled:
            self.server = self._server(sftp, retention)
            for lender_id, access in sorted(lenders.items()):
                self._sftp_user(lender_id, access, storage)

    def _policy(self, lender_id: str, storage: Storage) -> iam.ManagedPolicy:
        bucket = storage.bucket
        own = lender_prefixes(lender_id, READABLE_PREFIXES)
        policy = iam.ManagedPolicy(
            self,
            f"Files-{lender_id}",
            description=f"Rung: lender {lender_id}'s own prefixes of the uploads bucket",
            statements=[
                iam.PolicyStatement(
                    sid="DeliverFiles",
                    actions=["s3:PutObject"],
                    resources=[
                        bucket.arn_for_objects(f"{prefix}*")
                        for prefix in lender_prefixes(lender_id, WRITABLE_PREFIXES)
                    ],
                ),
                iam.PolicyStatement(
                    sid="ReadOwnFiles",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in own],
                ),
                iam.PolicyStatement(
                    sid="ListOwnPrefixes",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [*own, *(f"{p}*" for p in own)]}},
                ),
                iam.PolicyStatement(
                    sid="BucketKeyThroughS3",
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=[storage.key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}
                    },
                ),
            ],
        )
        for prefix in own:
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}*]",
                OWN_PREFIX_REASON,
            )
        acknowledge(policy, "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", KMS_VIA_S3_REASON)
        return policy

    def _server(self, sftp: SftpConfig, retention: RetentionConfig) -> transfer.CfnServer:
        log_group = logs.LogGroup(
            self,
            "SftpLogs",
            retention=retention.log_retention_days,
            removal_policy=RemovalPolicy.RETAIN,
        )
        logging_role = iam.Role(
            self,
            "SftpLogging",
            description="Rung: the SFTP server writes its structured logs",
            assumed_by=iam.ServicePrincipal("transfer.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
        )
        log_group.grant_write(logging_role)
        return transfer.CfnServer(
            self,
            "Sftp",
            protocols=["SFTP"],
            domain="S3",
            endpoint_type="PUBLIC",
            identity_provider_type="SERVICE_MANAGED",
            security_policy_name=sftp.security_policy,
            logging_role=logging_role.role_arn,
            structured_log_destinations=[log_group.log_group_arn],
        )

    def _sftp_user(self, lender_id: str, access: LenderAccessConfig, storage: Storage) -> None:
        assert self.server is not None
        server_arn = Stack.of(self).format_arn(
            service="transfer", resource="server", resource_name=self.server.attr_server_id
        )
        role = iam.Role(
            self,
            f"SftpRole-{lender_id}",
            description=f"Rung: lender {lender_id}'s SFTP user",
            assumed_by=iam.ServicePrincipal("transfer.amazonaws.com").with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": server_arn},
                }
            ),
            managed_policies=[self.policies[lender_id]],
        )
        self.sftp_roles[lender_id] = role
        transfer.CfnUser(
            self,
            f"SftpUser-{lender_id}",
            server_id=self.server.attr_server_id,
            user_name=lender_id,
            role=role.role_arn,
            home_directory_type="LOGICAL",
            home_directory_mappings=[
                transfer.CfnUser.HomeDirectoryMapEntryProperty(
                    entry=f"/{prefix.rstrip('/')}",
                    target=f"/{storage.bucket.bucket_name}/{prefix}{lender_id}",
                )
                for prefix in READABLE_PREFIXES
            ],
            ssh_public_keys=access.sftp_public_keys,
        )
