"""Lender access judged on the synthesized policies: each lender's roles may write its own
uploads and payments and read its own reject reports — never another lender's files.

The policies are evaluated with the local world's IAM evaluator (rung.access.policy), with
the template's references bound to a named bucket and key."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cfnlint.api import lint

from infra.app import build_app
from infra.stack_config import cdk_json_context
from rung.access.policy import Request, evaluate
from rung.access.roles import role_grants
from rung.access.template import Physical, Resolver
from tests.infra.conftest import Synthesized
from tests.infra.test_compliance_checks import LINT_REGIONS

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "rung-uploads"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data-key"
VIA_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
ACME_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx0ZXN0a2V5Zm9yYWNtZWZpbmFuY2Vvbmx5 acme"


@pytest.fixture(scope="module")
def two_lenders_with_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A deployment serving two lenders, SFTP on (cdk-nag runs as in every synth)."""
    context = copy.deepcopy(cdk_json_context())
    rung = context["rung"]
    rung["lender_access"]["acme"] = {
        "account_id": "444455556666",
        "external_id": "acme-agreed-external-id-7f3a",
        "sftp_public_keys": [ACME_KEY],
    }
    rung["sftp"]["enabled"] = True
    app, stack = build_app(
        tmp_path_factory.mktemp("cdk.out"), cloudformation_validation=False, context=context
    )
    assembly = app.synth()
    yield assembly.get_stack_artifact(stack.artifact_id).template


def _only(template: dict[str, Any], resource_type: str) -> str:
    (logical_id,) = [
        key for key, value in template["Resources"].items() if value["Type"] == resource_type
    ]
    return logical_id


def _roles(template: dict[str, Any], kind: str) -> dict[str, str]:
    """Lender id → logical id of its `UploadRole` or `SftpRole`, by the role's description."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        description = resource.get("Properties", {}).get("Description", "")
        if resource["Type"] == "AWS::IAM::Role" and f"LenderAccess{kind}" in logical_id:
            lender = description.removeprefix("Rung: lender ").split()[0].removesuffix("'s")
            found[lender] = logical_id
    return found


def _resolver(template: dict[str, Any]) -> Resolver:
    resources = template["Resources"]
    bucket = template["Outputs"]["UploadsBucketName"]["Value"]["Ref"]  # the lenders' bucket
    key = resources[bucket]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][
        0
    ]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    return Resolver(
        region=REGION,
        account=ACCOUNT,
        stack_name="Rung",
        physical={
            bucket: Physical(ref=BUCKET, attributes={"Arn": f"arn:aws:s3:::{BUCKET}"}),
            key: Physical(ref="data-key", attributes={"Arn": KEY_ARN}),
        },
    )


def _may(template: dict[str, Any], role: str, request: Request) -> bool:
    statements = [grant.resolved for grant in role_grants(template, role, _resolver(template))]
    return evaluate(statements, request).allowed


def _object(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


def test_default_stack_gives_the_demo_lender_an_upload_role_for_its_account_only(
    synthesized: Synthesized,
) -> None:
    roles = _roles(synthesized.template, "UploadRole")
    assert set(roles) == {"demo"}
    trust = synthesized.template["Resources"][roles["demo"]]["Properties"][
        "AssumeRolePolicyDocument"
    ]
    (statement,) = trust["Statement"]
    assert statement["Principal"]["AWS"]["Fn::Join"][1][-1] == ":iam::111122223333:root"
    assert statement["Condition"] == {
        "StringEquals": {"sts:ExternalId": "demo-replace-with-agreed-external-id"}
    }
    # And SFTP is off: no server bills by the hour
    assert synthesized.resources("AWS::Transfer::Server") == {}


@pytest.mark.parametrize("kind", ["UploadRole", "SftpRole"])
def test_each_lender_writes_and_reads_only_its_own_files(
    two_lenders_with_sftp: dict[str, Any], kind: str
) -> None:
    template = two_lenders_with_sftp
    roles = _roles(template, kind)
    assert set(roles) == {"demo", "acme"}
    for lender, other in (("demo", "acme"), ("acme", "demo")):
        role = roles[lender]
        # Its own deliveries and reports
        assert _may(template, role, Request("s3:PutObject", _object(f"uploads/{lender}/a.csv")))
        assert _may(template, role, Request("s3:PutObject", _object(f"payments/{lender}/p.csv")))
        assert _may(template, role, Request("s3:GetObject", _object(f"rejects/{lender}/a.csv")))
        # Never another lender's files, never outside the lender's prefixes, never a delete
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            for key in (
                f"uploads/{other}/a.csv",
                f"payments/{other}/p.csv",
                f"rejects/{other}/r.csv",
            ):
                assert not _may(template, role, Request(action, _object(key))), (
                    lender,
                    action,
                    key,
                )
        for key in ("uploads/a.csv", f"rejects/{lender}.csv", f"uploads/{lender}-x/a.csv"):
            assert not _may(template, role, Request("s3:PutObject", _object(key))), key
        assert not _may(template, role, Request("s3:PutObject", _object(f"rejects/{lender}/r.csv")))
        assert not _may(template, role, Request("s3:DeleteObject", _object(f"uploads/{lender}/a")))
        # Listing: its own prefixes only
        bucket = f"arn:aws:s3:::{BUCKET}"
        own = Request("s3:ListBucket", bucket, context={"s3:prefix": f"uploads/{lender}/"})
        theirs = Request("s3:ListBucket", bucket, context={"s3:prefix": f"uploads/{other}/"})
        everything = Request("s3:ListBucket", bucket, context={"s3:prefix": ""})
        assert _may(template, role, own)
        assert not _may(template, role, theirs)
        assert not _may(template, role, everything)
        # The bucket key, only as S3 uses it on the lender's behalf
        assert _may(template, role, Request("kms:GenerateDataKey", KEY_ARN, context=VIA_S3))
        assert _may(template, role, Request("kms:Decrypt", KEY_ARN, context=VIA_S3))
        assert not _may(template, role, Request("kms:Decrypt", KEY_ARN))


def test_sftp_users_see_their_own_prefixes_as_home_folders(
    two_lenders_with_sftp: dict[str, Any],
) -> None:
    resources = two_lenders_with_sftp["Resources"]
    server = resources[_only(two_lenders_with_sftp, "AWS::Transfer::Server")]["Properties"]
    assert server["Protocols"] == ["SFTP"] and server["IdentityProviderType"] == "SERVICE_MANAGED"
    assert server["SecurityPolicyName"] == "TransferSecurityPolicy-2024-01"
    users = {
        value["Properties"]["UserName"]: value["Properties"]
        for value in resources.values()
        if value["Type"] == "AWS::Transfer::User"
    }
    assert set(users) == {"demo", "acme"}
    acme = users["acme"]
    assert acme["HomeDirectoryType"] == "LOGICAL" and acme["SshPublicKeys"] == [ACME_KEY]
    targets = {
        entry["Entry"]: entry["Target"]["Fn::Join"][1][-1]
        for entry in acme["HomeDirectoryMappings"]
    }
    assert targets == {
        "/uploads": "/uploads/acme",
        "/payments": "/payments/acme",
        "/rejects": "/rejects/acme",
    }
    # Each user's role is assumable by Transfer Family for this server only
    role = resources[acme["Role"]["Fn::GetAtt"][0]]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = role["Statement"]
    assert statement["Principal"] == {"Service": "transfer.amazonaws.com"}
    assert set(statement["Condition"]) == {"StringEquals", "ArnLike"}


def test_stack_with_sftp_passes_cfn_lint_without_errors(
    two_lenders_with_sftp: dict[str, Any],
) -> None:
    # cdk-nag already refused nothing (the fixture's synthesis would have raised)
    matches = lint(json.dumps(two_lenders_with_sftp), regions=LINT_REGIONS)
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []
